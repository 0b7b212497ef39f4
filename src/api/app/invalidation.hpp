// What this replica caches, dropped when the store says it changed
// (Store::on_change; docs/store-engines.md "Cache invalidation"). On
// PostgreSQL the keys come from every replica, so a logout or an access
// change on one replica reaches the others' caches within about a round
// trip; on SQLite (one process) they come from this process's own writes.
//
//   session:<id>  IdeAccess::forget_session (its zlh_ide cookies)
//   vmid:<n>      IdeAccess::forget_vmid (decisions and cookies of the vmid)
//   server:<id>   LiveSessions::recheck of the server's open consoles and
//                 stats streams (a removed member, a dropped permission, a
//                 new owner: what they no longer may hold is closed)
//   *             all of the above, for everything
//
// The API's own session check reads the store on every request, so a
// revoked session is refused on every replica as soon as it is committed.
//
// Threading: the callbacks run on the store's listener thread (PostgreSQL)
// or the writing thread after its commit (SQLite); recheck reads the store.
#pragma once

#include <memory>
#include <mutex>
#include <string_view>

#include "api/authz/live_sessions.hpp"
#include "api/store/store.hpp"

namespace zlh::api {

class IdeAccess;

// Registered on a store by watch_changes; while it lives, the store's
// changes reach the caches. Its destructor waits for a callback under way
// and stops the others (the store outlives the caches: main owns it).
class ChangeWatch {
 public:
  struct State {
    std::mutex mu;
    bool on = true;
    IdeAccess* ide = nullptr;
    authz::LiveSessions* sessions = nullptr;
  };
  explicit ChangeWatch(std::shared_ptr<State> s) : state_(std::move(s)) {}
  ~ChangeWatch();
  ChangeWatch(const ChangeWatch&) = delete;
  ChangeWatch& operator=(const ChangeWatch&) = delete;

 private:
  std::shared_ptr<State> state_;
};

// Registers the callback on `store`; `ide`, `sessions` may be null (no
// such cache). Keep the result for as long as they live.
std::unique_ptr<ChangeWatch> watch_changes(store::Store& store, IdeAccess* ide,
                                           authz::LiveSessions* sessions);

// One key's effect (watch_changes' callback; exposed for tests).
void apply_change(std::string_view key, store::Store& store, IdeAccess* ide,
                  authz::LiveSessions* sessions);

}  // namespace zlh::api
