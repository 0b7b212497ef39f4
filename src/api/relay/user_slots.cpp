#include "api/relay/user_slots.hpp"

#include "base/log.hpp"

namespace zlh::api::relay {

Result<std::unique_ptr<UserSlots::Slot>> UserSlots::try_acquire(int64_t user, int64_t limit) {
  if (store_) {
    retry_releases();
    auto id = store_->acquire_user_slot(user, kind_, replica_, limit);
    if (id && !*id) return nullptr;
    if (id) return std::make_unique<Slot>(shared_from_this(), user, **id);
    if (id.error().is(codes::kNotFound)) return fail(id.error());  // no such user
    // The store cannot count now: this replica counts alone meanwhile.
    log::warn("relay", "quota places counted in this process: the store failed",
              {{"kind", kind_}, {"user_id", user}, {"error", id.error().message}});
  }
  {
    std::lock_guard lk(mu_);
    int64_t& n = open_[user];
    if (limit > 0 && n >= limit) return nullptr;
    ++n;
  }
  return std::make_unique<Slot>(shared_from_this(), user);
}

std::unique_ptr<UserSlots::Slot> UserSlots::acquire(int64_t user, int64_t limit) {
  auto s = try_acquire(user, limit);
  if (s) return std::move(*s);
  log::warn("relay", "cannot count a place against the user's quota",
            {{"kind", kind_}, {"user_id", user}, {"error", s.error().message}});
  return nullptr;
}

int64_t UserSlots::open(int64_t user) const {
  if (store_) {
    auto n = store_->count_user_slots(user, kind_, replica_);
    return n ? *n : 0;
  }
  std::lock_guard lk(mu_);
  auto it = open_.find(user);
  return it == open_.end() ? 0 : it->second;
}

void UserSlots::release(int64_t user, int64_t id) {
  if (store_ && id != 0) {
    if (auto r = store_->release_user_slot(id); !r) {
      log::warn("relay", "cannot give a quota place back; retried later",
                {{"kind", kind_}, {"user_id", user}, {"error", r.error().message}});
      std::lock_guard lk(mu_);
      unreleased_.push_back(id);
    }
    return;
  }
  std::lock_guard lk(mu_);
  auto it = open_.find(user);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

void UserSlots::retry_releases() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lk(mu_);
    ids.swap(unreleased_);
  }
  std::vector<int64_t> failed;
  for (int64_t id : ids)
    if (!store_->release_user_slot(id)) failed.push_back(id);
  if (failed.empty()) return;
  std::lock_guard lk(mu_);
  unreleased_.insert(unreleased_.end(), failed.begin(), failed.end());
}

}  // namespace zlh::api::relay
