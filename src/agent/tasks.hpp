// Background work for requests that take long (runtime installs): each task
// runs on its own thread; stop() asks every task to cancel (the flag they are
// given) and joins them, so no task outlives the server that answers for it.
// Threads of finished tasks are joined at the next run(), so a stream of
// short tasks does not accumulate threads.
// Thread-safety: run() and stop() may be called from any thread; run() after
// stop() refuses (returns false).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace zlh::agent {

class TaskRunner {
 public:
  ~TaskRunner() { stop(); }
  bool run(std::function<void(const std::atomic<bool>& cancel)> task);
  void stop();
  size_t live_threads();  // for tests and metrics

 private:
  struct Task {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void reap_locked();
  std::mutex mu_;
  std::atomic<bool> cancel_{false};
  bool stopped_ = false;
  std::list<Task> tasks_;
};

}  // namespace zlh::agent
