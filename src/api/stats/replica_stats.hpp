// Live stats across replicas (issue 25: "the replica that samples a server
// publishes its samples, so a viewer connected to any replica sees the
// live stream"). Each server is sampled by the one replica that owns it
// (targets_from(store, owns)); this class carries its samples to the
// other replicas through the store's server_samples table:
//
// - Publishing (on_cycle, the sampler's listener): the cycle's samples go
//   to this replica's viewers (Fanout::publish) and, while another replica
//   is live, to the table in one write; rows older than the stats window
//   are deleted by the same write. The first write after this replica
//   stops being alone also copies its whole rings, so a new replica shows
//   the full history at once.
// - Reading (history): the ring of a server this replica samples, or, for
//   one another replica samples, the table's rows of the window.
// - Following (the thread, every sampler interval): for each server with
//   a viewer here that another replica samples, the new rows of the table
//   are published to the viewers (the fan-out drops what they had).
// Alone (one live replica: SQLite, make run) nothing reads or writes the
// table. A store error is logged (once per distinct message) and costs
// the remote viewers those samples, nothing else.
//
// Threads and ownership: borrows everything in ReplicaStatsDeps, which
// must outlive it. on_cycle from the sampler's thread; history from any
// thread; start()/stop() from any thread, repeatable; the destructor
// stops. `owns` and `alone` are called from those threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/stats/sampler.hpp"
#include "api/stats/stream.hpp"
#include "api/store/store.hpp"

namespace zlh::api::stats {

struct ReplicaStatsDeps {
  store::Store& store;
  const Sampler& sampler;
  Fanout& fanout;
  std::function<bool(int64_t server_id)> owns;  // this replica samples it
  std::function<bool()> alone;                  // no other replica is live
};

class ReplicaStats {
 public:
  explicit ReplicaStats(ReplicaStatsDeps deps);
  ~ReplicaStats();
  ReplicaStats(const ReplicaStats&) = delete;
  ReplicaStats& operator=(const ReplicaStats&) = delete;

  // The sampler's listener (Sampler::on_cycle).
  void on_cycle(const Fresh& fresh);
  // The server's last samples, oldest first (GET …/stats, a stream's ring).
  std::vector<Sample> history(int64_t server_id) const;
  // The following thread; see above.
  void start();
  void stop();
  // One step of the thread (tests call it).
  void follow_once();

 private:
  int64_t window_ms() const;
  void publish_rows(const Fresh& fresh);
  void warn(const Error& e) const;

  ReplicaStatsDeps d_;
  bool was_alone_ = true;                // under on_cycle's caller (one sampler thread)
  std::map<int64_t, int64_t> followed_;  // server → last t published; the thread's
  mutable std::mutex warn_mu_;
  mutable std::string last_warning_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace zlh::api::stats
