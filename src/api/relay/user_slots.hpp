// Per-user concurrency quotas (issue 21, M4): how many console sessions or
// uploads each user has open right now. A Slot is held for as long as the
// session or upload lasts and gives its place back when destroyed.
//
// Thread-safety: safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace zlh::api::relay {

class UserSlots : public std::enable_shared_from_this<UserSlots> {
 public:
  class Slot {
   public:
    Slot(std::shared_ptr<UserSlots> owner, int64_t user) : owner_(std::move(owner)), user_(user) {}
    ~Slot() { owner_->release(user_); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    std::shared_ptr<UserSlots> owner_;
    int64_t user_;
  };

  // A place for `user` unless `limit` (> 0) are taken already: nullptr then.
  // limit 0 = unlimited (still counted).
  std::unique_ptr<Slot> acquire(int64_t user, int64_t limit) {
    {
      std::lock_guard lk(mu_);
      int64_t& n = open_[user];
      if (limit > 0 && n >= limit) return nullptr;
      ++n;
    }
    return std::make_unique<Slot>(shared_from_this(), user);
  }
  int64_t open(int64_t user) const {
    std::lock_guard lk(mu_);
    auto it = open_.find(user);
    return it == open_.end() ? 0 : it->second;
  }

 private:
  void release(int64_t user) {
    std::lock_guard lk(mu_);
    auto it = open_.find(user);
    if (it != open_.end() && --it->second <= 0) open_.erase(it);
  }
  mutable std::mutex mu_;
  std::map<int64_t, int64_t> open_;
};

}  // namespace zlh::api::relay
