#include "agent/tasks.hpp"

namespace zlh::agent {

bool TaskRunner::run(std::function<void(const std::atomic<bool>& cancel)> task) {
  std::lock_guard lk(mu_);
  if (stopped_) return false;
  // Finished threads are joined lazily here; there are only ever a few.
  threads_.emplace_back([this, task = std::move(task)] { task(cancel_); });
  return true;
}

void TaskRunner::stop() {
  std::list<std::thread> threads;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    cancel_ = true;
    threads.swap(threads_);
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

}  // namespace zlh::agent
