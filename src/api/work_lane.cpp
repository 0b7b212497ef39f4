#include "api/work_lane.hpp"

#include <boost/asio/post.hpp>

namespace zlh::api {

WorkLane::WorkLane(int threads, int per_user) : per_user_(per_user) {
  pool_.emplace(size_t(threads));
}

WorkLane::~WorkLane() { stop(); }

bool WorkLane::submit(int64_t user, std::function<void()> f) {
  {
    std::lock_guard lk(mu_);
    if (stopped_) return false;
    int& n = running_[user];
    if (n >= per_user_) return false;
    ++n;
  }
  boost::asio::post(*pool_, [this, user, f = std::move(f)] {
    try {
      f();
    } catch (...) {
      // The call's Responder, dropped unsent, answers 500 E_INTERNAL.
    }
    std::lock_guard lk(mu_);
    auto it = running_.find(user);
    if (it != running_.end() && --it->second <= 0) running_.erase(it);
  });
  return true;
}

void WorkLane::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  pool_->join();
}

}  // namespace zlh::api
