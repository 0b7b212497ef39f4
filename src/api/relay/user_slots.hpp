// Per-user concurrency quotas (issue 21, M4): how many console sessions or
// uploads each user has open right now. A Slot is held for as long as the
// session or upload lasts and gives its place back when destroyed.
//
// Two ways to count:
//  - in this process (UserSlots()): one replica, tests;
//  - in the store (UserSlots(store, kind, replica_id)), so that every
//    replica counts the same places (issue 25): each Slot is a row of
//    user_slots held by this replica (Store::acquire_user_slot). The places
//    of a replica that died stop counting once its lease in `replicas`
//    expires (docs/store-engines.md "Rate limits and quotas"). A release
//    the store refused is retried at the next acquire (until then the place
//    still counts, this replica's own rows always do). When the store
//    cannot count (unreachable, table missing), the place is counted in
//    this process instead (logged), so consoles keep working.
//
// Thread-safety: safe to share between threads. With a store, acquire()
// and a Slot's destruction each make one store call: not on a hot path.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/store/store.hpp"
#include "base/error.hpp"

namespace zlh::api::relay {

class UserSlots : public std::enable_shared_from_this<UserSlots> {
 public:
  class Slot {
   public:
    Slot(std::shared_ptr<UserSlots> owner, int64_t user, int64_t id = 0)
        : owner_(std::move(owner)), user_(user), id_(id) {}
    ~Slot() { owner_->release(user_, id_); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    std::shared_ptr<UserSlots> owner_;
    int64_t user_;
    int64_t id_;  // the store's row (0: counted in this process)
  };

  // Counted in this process.
  UserSlots() = default;
  // Counted in `store`: places of `kind` ("console", "upload") held by
  // `replica_id` (this process's replica id).
  UserSlots(store::Store& store, std::string kind, std::string replica_id)
      : store_(&store), kind_(std::move(kind)), replica_(std::move(replica_id)) {}

  // A place for `user` unless `limit` (> 0) are taken already: nullptr then.
  // limit 0 = unlimited (still counted). Errors: the store's.
  Result<std::unique_ptr<Slot>> try_acquire(int64_t user, int64_t limit);
  // The same, with a store failure as nullptr too (logged).
  std::unique_ptr<Slot> acquire(int64_t user, int64_t limit);
  // The user's places that count (the store's view: every replica's).
  int64_t open(int64_t user) const;

 private:
  void release(int64_t user, int64_t id);
  void retry_releases();

  store::Store* store_ = nullptr;
  std::string kind_, replica_;
  mutable std::mutex mu_;
  std::map<int64_t, int64_t> open_;  // in this process
  std::vector<int64_t> unreleased_;  // store rows whose release failed
};

}  // namespace zlh::api::relay
