// Long blocking calls that have no async form (a container's stop and start
// through the driver, Headscale's API) run here, off the API server's
// handler pool, so they never hold the threads quick requests need (M3).
// A fixed set of threads, joined by stop() (no detached thread), and at most
// `per_user` calls of one user at a time: one tenant cannot fill the lane.
//
// Thread-safety: submit() from any thread.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace zlh::api {

class WorkLane {
 public:
  WorkLane(int threads, int per_user);
  ~WorkLane();
  WorkLane(const WorkLane&) = delete;
  WorkLane& operator=(const WorkLane&) = delete;

  // Runs `f` on a lane thread; false (nothing run) when `user` has
  // `per_user` calls queued or running already, or after stop().
  bool submit(int64_t user, std::function<void()> f);
  // Waits for the calls submitted so far and refuses new ones. Call before
  // the http::Server whose Responders the calls use goes away.
  void stop();

 private:
  std::mutex mu_;
  std::map<int64_t, int> running_;
  bool stopped_ = false;
  int per_user_;
  std::optional<boost::asio::thread_pool> pool_;
};

}  // namespace zlh::api
