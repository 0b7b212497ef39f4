// Background work for requests that take long (runtime installs): each task
// runs on its own thread; stop() asks every task to cancel (the flag they are
// given) and joins them, so no task outlives the server that answers for it.
// Thread-safety: run() and stop() may be called from any thread; run() after
// stop() refuses (returns false).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace zlh::agent {

class TaskRunner {
 public:
  ~TaskRunner() { stop(); }
  bool run(std::function<void(const std::atomic<bool>& cancel)> task);
  void stop();

 private:
  std::mutex mu_;
  std::atomic<bool> cancel_{false};
  bool stopped_ = false;
  std::list<std::thread> threads_;
};

}  // namespace zlh::agent
