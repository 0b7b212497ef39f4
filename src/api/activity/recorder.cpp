#include "api/activity/recorder.hpp"

#include "base/log.hpp"

namespace zlh::api::activity {

Recorder::Recorder(store::Store& store, size_t max_queue)
    : store_(store), max_queue_(max_queue), thread_([this] { run(); }) {}

Recorder::~Recorder() { stop(); }

bool Recorder::record(store::NewAuditEntry entry) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || queue_.size() >= max_queue_) {
      ++dropped_;
      return false;
    }
    queue_.push_back(std::move(entry));
  }
  wake_.notify_one();
  return true;
}

void Recorder::flush() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

void Recorder::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

uint64_t Recorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void Recorder::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopped, and all written
    store::NewAuditEntry e = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    if (auto r = store_.append_audit(e); !r)
      log::warn("activity", "audit entry not written",
                {{"action", e.action}, {"error", r.error().message}});
    lock.lock();
    writing_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

}  // namespace zlh::api::activity
