// The live-stats sampler (docs/design.md §12a, issue 24): ONE sampler for
// all servers, whatever the number of viewers. Every `interval` (2 s) it
// asks the driver for the raw counters of every target in ONE
// Driver::sample call, turns each reading and the server's previous one
// into a Sample (sample.hpp) and appends it to the server's ring: the last
// `ring_size` samples (300 × 2 s = 10 minutes), older ones dropped, and
// samples older than ring_size × interval dropped too (a server that
// stopped for a while does not show an hour-old sample as recent).
// Viewers read the rings; nothing they do calls the driver.
//
// Targets: `targets()` is asked at the start of each cycle (wiring: the
// store's servers in state `ready` that hold a vmid). A server that is no
// longer a target loses its ring and reading (deleted, moved). A target
// the driver leaves out of the batch (stopped) gets no sample and loses its
// previous reading, so its next sample after a start has no rates rather
// than rates across the stop; its ring stays until it ages out. A target
// whose vmid changed starts over. A failed driver call adds nothing and
// keeps the readings (the next rates span the longer interval, which is
// still right for cumulative counters); it is logged when the error
// changes.
//
// Timing: cycles never overlap; the loop thread runs one, then waits until
// `interval` after that cycle's start (an overrun is followed at once by
// the next cycle, with no burst of catch-up cycles).
//
// Threads and ownership: borrows the driver and the targets function, which
// must outlive it. start()/stop() from any thread, repeatable; the
// destructor stops. run_cycle() from any thread (tests call it without
// start()); it waits for a cycle in progress. Readers (history, latest,
// servers, driver_calls) from any thread at any time; they copy under a
// mutex the cycle holds only while storing its results, never during the
// driver call.
//
// Listener (on_cycle): told the samples each cycle added, after the cycle,
// on the thread that ran it (the loop), holding no lock of the sampler, so
// it may read the rings. It must not block: the stream's fan-out
// (stream.hpp) only queues. Set it before start(); cycles that run at the
// same time (run_cycle from several threads: tests) may call it
// concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/drivers/driver.hpp"
#include "api/stats/sample.hpp"

namespace zlh::api::stats {

struct Target {
  int64_t server_id = 0;
  int vmid = 0;
};
using TargetsFn = std::function<std::vector<Target>()>;

// What one cycle added: (server id, its new sample), ascending by id.
using Fresh = std::vector<std::pair<int64_t, Sample>>;
using CycleFn = std::function<void(const Fresh&)>;

struct SamplerOptions {
  std::chrono::milliseconds interval{2000};  // start to start; > 0
  size_t ring_size = 300;                    // samples kept per server; >= 1
};

class Sampler {
 public:
  Sampler(drivers::Driver& driver, TargetsFn targets, SamplerOptions opts = {});
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // See "Listener" above; before start().
  void on_cycle(CycleFn fn) { on_cycle_ = std::move(fn); }
  void start();
  void stop();
  // One cycle now (see above).
  void run_cycle();

  // The server's ring, oldest first; empty for a server the sampler does
  // not know (yet, or any more).
  std::vector<Sample> history(int64_t server_id) const;
  std::optional<Sample> latest(int64_t server_id) const;
  // latest() of each id, in the same order, under one lock (list pages).
  std::vector<std::optional<Sample>> latest(const std::vector<int64_t>& server_ids) const;
  // The servers with a ring, ascending.
  std::vector<int64_t> servers() const;
  // Driver::sample calls made so far (one per cycle that had targets).
  uint64_t driver_calls() const { return driver_calls_.load(); }
  const SamplerOptions& options() const { return opts_; }

 private:
  struct Entry {
    int vmid = 0;
    std::optional<drivers::RawCounters> last;
    std::deque<Sample> ring;
  };
  void loop();
  // The driver call and store() under cycle_mu_; false when the driver failed.
  bool sample_all(Fresh& fresh);
  Fresh store(const std::vector<Target>& targets, const std::map<int, drivers::RawCounters>& got,
              int64_t now_ms);

  drivers::Driver& driver_;
  TargetsFn targets_;
  SamplerOptions opts_;
  CycleFn on_cycle_;
  std::mutex cycle_mu_;  // one cycle at a time
  mutable std::mutex mu_;
  std::map<int64_t, Entry> entries_;
  std::string last_error_;  // under cycle_mu_
  int64_t last_t_ms_ = 0;   // under cycle_mu_: the last cycle's t
  std::atomic<uint64_t> driver_calls_{0};
  std::mutex run_mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false;  // under run_mu_
  std::thread thread_;
};

}  // namespace zlh::api::stats
