// The open WebSocket sessions of users on servers (console relay, stats
// stream), so that taking someone's access away closes what they have open
// (docs/sharing.md): removing a member, a change of owner.
//
// A session registers itself with what cuts it; the registration ends with
// the session (Handle's destructor). cut() runs each matching cut function
// outside the lock; a cut must be quick and thread-safe (WsConn::close is).
//
// Replicas (issue 25): the replica that changed someone's access cuts its
// own sessions at once (cut()); every other replica hears "server:<id>"
// from the store (Store::on_change) and calls recheck(), which reads the
// access of each user with a session open on that server and cuts the
// sessions it no longer allows (`need`: a console needs its permission, a
// stats stream only membership).
//
// Thread-safety: every method from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "api/store/types.hpp"
#include "base/error.hpp"

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

  // `need`: the permission the session needs besides access to the server
  // (recheck; none: any member).
  std::unique_ptr<Handle> add(int64_t server_id, int64_t user_id,
                              std::optional<store::Permission> need = std::nullopt);
  // Closes the user's sessions on the server; how many.
  int cut(int64_t server_id, int64_t user_id);
  // What `user` may do on `server` now: nullopt when they have no access,
  // else their permissions (an owner: all). An error leaves their sessions
  // open (the store is unreachable: nothing is known to have changed).
  using Access = std::function<Result<std::optional<store::PermSet>>(int64_t server, int64_t user)>;
  // Reads `access` once per (server, user) with sessions open, on
  // `server_id` (nullopt: every server), and cuts the sessions it no
  // longer allows; how many. Call it off the I/O threads (it reads the store).
  int recheck(std::optional<int64_t> server_id, const Access& access);
  size_t size() const;

 private:
  struct Entry {
    int64_t server_id = 0, user_id = 0;
    std::optional<store::Permission> need;
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
