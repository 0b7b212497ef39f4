#include "agent/tasks.hpp"

namespace zlh::agent {

void TaskRunner::reap_locked() {
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (it->done->load()) {
      it->thread.join();  // finished: returns at once
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

bool TaskRunner::run(std::function<void(const std::atomic<bool>& cancel)> task) {
  std::lock_guard lk(mu_);
  if (stopped_) return false;
  reap_locked();
  auto done = std::make_shared<std::atomic<bool>>(false);
  tasks_.push_back(Task{std::thread([this, done, task = std::move(task)] {
                          task(cancel_);
                          done->store(true);
                        }),
                        done});
  return true;
}

size_t TaskRunner::live_threads() {
  std::lock_guard lk(mu_);
  reap_locked();
  return tasks_.size();
}

void TaskRunner::stop() {
  std::list<Task> tasks;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    cancel_ = true;
    tasks.swap(tasks_);
  }
  for (auto& t : tasks)
    if (t.thread.joinable()) t.thread.join();
}

}  // namespace zlh::agent
