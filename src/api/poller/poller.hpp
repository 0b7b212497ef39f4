// The status poller (docs/design.md §10.3, §15): keeps each server's live agent
// state in the store, so GET /api/servers answers from the store alone and
// never calls an agent (or Proxmox) per request.
//
// One cycle: Store::list_servers(); the targets are the servers in state
// `ready` or `error` that hold a vmid and have an ip (provisioning servers
// are the job runner's business, deleting ones are on their way out). Each
// target's agent is asked GET /status by one of at most `workers` threads
// (bounded concurrency: a thousand servers never mean a thousand
// simultaneous connections), and the answer is written with one
// Store::update_server:
//   agent_state      ← status.state
//   agent_last_seen  ← the clock, when the answer came
//   crash_count      ← status.crash_count   (when a non-negative integer)
//   install_step     ← status.install_step  (when a string)
//   progress         ← status.progress      (when a number; clamped to 0..1)
//   error            ← status.error         (`ready` servers only, when the
//                      field is present: a string sets it, null clears it;
//                      an `error` server keeps the control plane's reason)
// The server's own `state` is never changed: that is the job runner's.
// A failed call (transport error, timeout, non-200, a body that is not a
// JSON object) writes nothing: agent_last_seen keeps its old value, and
// zlh_poller_failures_total grows. After `unreachable_after` failures in a row
// the poller writes agent_state "unreachable" (once); the next answer puts the
// agent's own state back. Failure streaks live in memory only (an API restart
// starts them at zero). A write that finds the server gone (deleted between
// the list and the answer) is ignored.
//
// Timing: cycles never overlap. The loop thread runs a cycle, then waits
// until `interval` after that cycle's START; a cycle that took longer than
// the interval is followed at once by the next one, without a burst of
// catch-up cycles. Within a cycle the calls are spread over `spread` ×
// interval (PollerConfig::spread), never more than `workers` at a time.
// Worst case for one cycle: ceil(targets / workers) × call_timeout (agents
// that never answer).
//
// Replicas (issue 25): with PollerConfig::owns set, a cycle's targets are
// only the servers this replica owns (cluster::Replica::owns), so each
// server is polled by one replica. Ownership is asked once per server per
// cycle; membership_changed() runs the next cycle at once (a dead
// replica's servers are taken over without waiting out the interval).
// A server whose ownership moved here starts with no failure streak.
//
// Metrics (when a registry is given): zlh_poller_cycles_total,
// zlh_poller_failures_total, zlh_poller_polls_total (status calls made by
// this replica) (counters), zlh_poller_cycle_seconds (histogram),
// zlh_poller_targets, zlh_poller_servers_owned (servers, not deleted, this
// replica owns) and zlh_poller_unreachable (gauges, last cycle) and
// zlh_servers{state} (servers by control-plane state, last cycle). Jobs by
// state (zlh_jobs) are main's collector, read at scrape time: one family
// must come from one place, or /metrics carries it twice.
//
// Threads and ownership: the Poller borrows the store, the status function
// and the registry; all must outlive it. start()/stop() may be called from
// any thread and repeated; run_cycle() may be called from any thread and
// waits for a cycle in progress (tests use it without start()). The status
// function is called from the worker threads, concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "api/jobs/agent_client.hpp"
#include "api/store/store.hpp"
#include "base/error.hpp"
#include "base/metrics.hpp"

namespace zlh::api {

// GET /status of the agent at ip for vmid: the body as a JSON object, or an
// error (any error counts as a failed poll). Called concurrently.
using AgentStatusFn = std::function<Result<nlohmann::json>(const std::string& ip, int64_t vmid)>;

// The real one: AgentClient::call(GET /status) with `timeout`.
AgentStatusFn agent_status_via(const AgentClient& agents, std::chrono::milliseconds timeout);

struct PollerConfig {
  std::chrono::milliseconds interval{5000};  // start to start; > 0
  int workers = 8;                           // concurrent status calls; >= 1
  int unreachable_after = 3;                 // failures in a row; >= 1
  // Share of the interval over which a cycle's calls are spread (0..1):
  // call i starts no earlier than cycle start + i × spread × interval /
  // targets, as Prometheus offsets its scrapes, so a big fleet is not asked
  // in one burst that takes the CPUs from the requests the API is serving.
  // 0: every call as soon as a worker is free.
  double spread = 0.5;
  // Stamps agent_last_seen; tests pass a fake.
  std::function<store::Time()> clock = [] { return store::Clock::now(); };
  // Host directories replaced in the agent's error before users see it
  // (L7; a local-driver agent's root is a host path): redact_host_paths.
  std::vector<std::string> host_paths;
  // Whether this replica polls the server (see "Replicas"); empty: all.
  // Called from the cycle's thread.
  std::function<bool(int64_t server_id)> owns;
};

// What one cycle did.
struct PollCycle {
  int targets = 0;             // agents asked
  int answered = 0;            // answered and written
  int failed = 0;              // no usable answer
  int marked_unreachable = 0;  // agent_state set to "unreachable" this cycle
  std::chrono::duration<double> took{0};
  bool listed = true;  // false: the store could not list servers (nothing polled)
  int owned = 0;       // servers (not deleted) this replica owns
};

inline constexpr const char* kAgentUnreachable = "unreachable";

class Poller {
 public:
  // Invalid config values are clamped to the nearest valid one.
  Poller(store::Store& store, AgentStatusFn status, PollerConfig cfg,
         metrics::Registry* registry = nullptr);
  ~Poller();  // stop()
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Starts the loop thread; its first cycle runs at once. Repeating while
  // running does nothing; after stop() it does nothing either.
  void start();
  // Stops the loop: no new status call starts; calls in flight end by their
  // own timeout; returns once the loop thread has ended. Repeatable.
  void stop();
  // Runs one cycle on the calling thread (waiting for one in progress).
  // After stop() it lists the servers but asks no agent.
  PollCycle run_cycle();
  // Cycles completed so far (loop and run_cycle).
  uint64_t cycles() const { return cycles_.load(); }
  // The replicas changed: the loop runs its next cycle now. Any thread.
  void membership_changed();

 private:
  struct Target {
    int64_t id;
    int vmid;
    std::string ip;
    store::ServerState state;
  };
  struct Histogram;
  struct Tally;
  enum class Outcome { kAnswered, kFailed, kMarkedUnreachable };

  void loop();
  // The servers whose agents are asked: ready or in error, with a
  // container, owned by this replica (counted in `owned`).
  std::vector<Target> poll_targets(const std::vector<store::Server>& servers, int& owned) const;
  // The streaks of servers that are no longer targets dropped.
  void forget_streaks(const std::vector<Target>& targets);
  // Every target asked, by up to cfg_.workers threads, spread over the interval.
  void poll_all(const std::vector<Target>& targets, std::chrono::steady_clock::time_point t0,
                Tally& tally);
  // One worker: takes targets in turn until none is left or stop().
  void work_through(const std::vector<Target>& targets, std::chrono::steady_clock::time_point t0,
                    std::chrono::nanoseconds gap, Tally& tally);
  Outcome poll_one(const Target& t);
  void publish(const PollCycle& c, const std::vector<store::Server>& servers);

  store::Store& store_;
  AgentStatusFn status_;
  PollerConfig cfg_;
  metrics::Registry* registry_;
  std::shared_ptr<Histogram> hist_;

  std::mutex cycle_mu_;  // one cycle at a time
  std::mutex streak_mu_;
  std::map<int64_t, int> streaks_;  // server id → failures in a row

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool started_ = false;
  bool kicked_ = false;  // under mu_: membership_changed() since the last wait
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> cycles_{0};
};

}  // namespace zlh::api
