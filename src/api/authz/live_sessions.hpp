// The open WebSocket sessions of users on servers (console relay, stats
// stream), so that taking someone's access away closes what they have open
// (docs/sharing.md): removing a member, a change of owner.
//
// A session registers itself with what cuts it; the registration ends with
// the session (Handle's destructor). cut() runs each matching cut function
// outside the lock; a cut must be quick and thread-safe (WsConn::close is).
//
// Thread-safety: every method from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace zlh::api::authz {

class LiveSessions {
 public:
  using Cut = std::function<void()>;

  class Handle {
   public:
    ~Handle();
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    // What closes the session; set once it is open (before: a cut is
    // remembered and runs as soon as it is set).
    void set_cut(Cut cut);

   private:
    friend class LiveSessions;
    Handle(LiveSessions& owner, uint64_t id) : owner_(owner), id_(id) {}
    LiveSessions& owner_;
    uint64_t id_;
  };

  std::unique_ptr<Handle> add(int64_t server_id, int64_t user_id);
  // Closes the user's sessions on the server; how many.
  int cut(int64_t server_id, int64_t user_id);
  size_t size() const;

 private:
  struct Entry {
    int64_t server_id = 0, user_id = 0;
    Cut cut;
    bool cut_pending = false;  // cut() came before set_cut()
  };
  void remove(uint64_t id);
  void set_cut(uint64_t id, Cut cut);

  mutable std::mutex mu_;
  uint64_t next_ = 1;
  std::map<uint64_t, Entry> entries_;
};

}  // namespace zlh::api::authz
