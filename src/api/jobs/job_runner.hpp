// Durable provisioning and deletion jobs (docs/design.md §10.3).
//
// A create job's steps are stored with the job (kCreateSteps). The runner
// executes them in order on a worker thread, recording each step's state, so
// an API restart (even kill -9) resumes every unfinished job at its first
// step that is not done: resume_all() at start. Every step is idempotent
// (the driver's operations are; POST /config with the same payload is a
// no-op on the agent), so repeating the step that was interrupted is safe.
// A failing step compensates: the container is destroyed, the vmid and ports
// are released, the server shows `error` with the reason and the job ends
// `compensated` (or `failed` when even the compensation failed; resumed at
// the next start).
// A delete job stops and destroys the container, then marks the server
// deleted (which releases its vmid and ports).
//
// Deleting a server that is still being provisioned cancels its create job
// (Store::create_delete_job marks it cancelled; cancel() tells the runner):
// the create job stops at its next step or status poll without compensating,
// and the delete job waits for it to stop before it touches the container,
// so the two never drive the same container at once.
//
// Leases (issue 25, docs/store-engines.md): several zlh-api replicas may
// share the store, and one replica runs a job at a time. The runner claims a
// job (Store::claim_job: submit() claims the job it is given, resume_all()
// starts a thread that claims every claimable job now and every
// lease_ttl/3), runs it on its own thread under a store::LeaseFence (every
// write it makes checks the lease), and renews the leases of its jobs every
// lease_ttl/3. A job whose lease was lost (another replica claimed it after
// it expired) or could not be renewed for 2/3 of lease_ttl (the database is
// unreachable) is told to stop at its next step or wait, before the lease
// can expire, and is left to whichever replica claims it next; it resumes
// there at its first step that is not done, as after a restart. A call
// already under way (a driver call) finishes first: its effect is
// idempotent and the step's write after it is refused.
//
// Thread-safety: submit(), cancel() and resume_all() may be called from any thread;
// one job never runs twice at once. stop() asks running jobs to stop after
// their current wait, joins them and releases their leases (they resume at
// the next start, or at once on another replica).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/drivers/driver.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/store/store.hpp"

namespace zlh::api {

inline const std::vector<std::string> kCreateSteps = {"allocate vmid",   "create container",
                                                      "start container", "wait for address",
                                                      "configure agent", "wait for running"};
inline const std::vector<std::string> kDeleteSteps = {"stop container", "destroy container",
                                                      "release"};

struct JobRunnerConfig {
  drivers::AgentConfig agent;  // what every container's agent is started with
  std::chrono::milliseconds address_timeout{30000};
  std::chrono::milliseconds running_timeout{std::chrono::minutes(15)};
  std::chrono::milliseconds stop_timeout{45000};
  std::chrono::milliseconds poll_interval{250};
  // How long a delete keeps retrying while the driver says E_UNAVAILABLE
  // (a Proxmox node offline): the job then finishes on its own once the node
  // is back, instead of failing at once.
  std::chrono::milliseconds unavailable_patience{std::chrono::minutes(10)};
  // Host directories (zlh-api's data, the artifact store) that must not
  // show in the errors users read (L7): job, step and server errors have
  // them replaced by "<host path>"; the log keeps the full message with
  // the job id.
  std::vector<std::string> host_paths;
  // Job leases: this replica's id (main: the replica id; empty: a random
  // one) and how long a claim lasts without renewal. Renewed every
  // lease_ttl/3; a job not renewed for 2/3 of it stops.
  std::string owner;
  std::chrono::milliseconds lease_ttl{30000};
};

// `msg` with every path that starts with one of `prefixes` (up to the next
// blank, quote, comma, semicolon, colon or parenthesis) replaced by
// "<host path>". Empty prefixes and "/" are ignored.
std::string redact_host_paths(std::string_view msg, const std::vector<std::string>& prefixes);

// What a job kind run by another feature (backups) is given: its job and
// server; `step` runs step idx through the runner's own bookkeeping (a done
// step is skipped, so a resumed job goes on where it stopped); `stopping`
// says the API is shutting down (give up soon: the job stays running and
// resumes at the next start); `sleep` waits, false when stopping.
struct JobContext {
  store::Job& job;
  store::Server& server;
  std::function<Result<void>(int idx, const std::function<Result<void>()>& f)> step;
  std::function<bool()> stopping;
  std::function<bool(std::chrono::milliseconds)> sleep;
};
// Does the job's work; an error fails the job (state failed, its message
// shown redacted), unless the API is stopping.
using JobKindRunner = std::function<Result<void>(JobContext&)>;

class JobRunner {
 public:
  JobRunner(store::Store& store, drivers::Driver& driver, const AgentClient& agents,
            JobRunnerConfig cfg);
  ~JobRunner();  // stop()

  // Claims the job (just created) and runs it; nothing when another replica
  // holds it or it is finished (a claim that fails on the database is left
  // to the claim loop).
  void submit(int64_t job_id);
  // Stops the (create) job, already cancelled in the store, at its next step
  // or poll. No-op for a job that is not running here; on another replica
  // its runner sees the cancellation in the store at its next step or poll.
  void cancel(int64_t job_id);
  // Starts claiming: every unfinished job that no live lease holds, now and
  // every lease_ttl/3 (a job abandoned by a dead replica once its lease
  // expires).
  void resume_all();
  void stop();
  // stop() without releasing the leases, as a replica that dies (tests).
  void abandon();
  const std::string& owner() const { return cfg_.owner; }
  // Jobs being worked on now (metrics).
  size_t active() const;
  // Called (from a job thread) whenever what a vmid leads to changes: its
  // container got its address, or the vmid is being released (compensation,
  // deletion). The IDE proxy drops its cached decisions for it. Set before
  // the first submit().
  void on_vmid_change(std::function<void(int)> f) { on_vmid_change_ = std::move(f); }
  // Another feature's job kind (backup, restore). Set before the first submit().
  void add_kind(store::JobKind kind, JobKindRunner run) { kinds_[kind] = std::move(run); }
  // Called (from a job thread) once a delete job has marked its server
  // deleted (backups then go with it). Set before the first submit().
  void on_server_deleted(std::function<void(int64_t)> f) { on_server_deleted_ = std::move(f); }

 private:
  // A job being run here: its lease, and what may stop it.
  struct Active {
    int64_t server_id = 0;  // 0 until known
    store::Lease lease;     // as claimed (renewal keeps owner and epoch)
    // Stop by then unless the lease is renewed (2/3 of the ttl after the
    // start of the last claim or renewal that succeeded).
    std::chrono::steady_clock::time_point deadline;
    bool lost = false;       // the lease is another's, or was not renewed
    bool cancelled = false;  // cancel(), or seen cancelled in the store
  };
  std::string shown(const std::string& message) const;  // redact_host_paths with cfg_.host_paths
  // Starts a thread for a claimed job; false (the lease released) when the
  // job already runs here or the runner is stopping.
  bool start(const store::Lease& lease, std::chrono::steady_clock::time_point since);
  void start_lease_thread();  // once, by submit() or resume_all()
  void lease_loop();
  void heartbeat();    // renews the leases of the running jobs
  void claim_ready();  // claims and starts every claimable job
  const store::Lease& lease_of(int64_t job_id) const;
  // The job must stop: the runner stops, or its lease is lost or overdue.
  bool stopping(int64_t job_id) const;
  bool stopping_locked(int64_t job_id) const;  // mu_ held
  // r's error says the lease was lost: marks the job to stop, true.
  bool lease_lost(int64_t job_id, const Result<void>& r);
  void run(int64_t job_id);
  Result<void> run_create(store::Job& job, store::Server& server);
  // The create job's steps 0, 3, 4 and 5: a vmid free where the containers
  // live (the server moves when its own is taken), the container's address
  // recorded, the payload handed to the agent, the workload running.
  Result<void> claim_free_vmid(const store::Job& job, store::Server& server);
  Result<void> record_address(const store::Job& job, const store::Server& server, int vmid,
                              std::string& ip);
  Result<void> send_payload(const store::Server& server, int vmid, const std::string& ip);
  Result<void> wait_running(const store::Job& job, const store::Server& server, int vmid,
                            const std::string& ip);
  Result<void> run_delete(store::Job& job, store::Server& server);
  void run_other(store::Job& job, store::Server& server, const JobKindRunner& f);
  Result<void> step(store::Job& job, int idx, const std::function<Result<void>()>& f);
  void compensate(store::Job& job, store::Server& server, const Error& why);
  drivers::ContainerSpec spec_for(const store::Server& s) const;
  bool sleep_for(int64_t job_id, std::chrono::milliseconds d);  // false when stopping
  // Cancelled here or, read from the store, on another replica.
  bool cancelled(int64_t job_id);
  // Waits until no job of `server_id` other than `job_id` is running here.
  // False when stopping.
  bool wait_for_others(int64_t job_id, int64_t server_id);

  store::Store& store_;
  drivers::Driver& driver_;
  const AgentClient& agents_;
  JobRunnerConfig cfg_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Active> running_;  // by job id
  std::vector<std::thread> threads_;
  std::thread lease_thread_;
  bool lease_thread_started_ = false;
  bool claiming_ = false;  // resume_all() was called
  std::atomic<bool> stopping_{false};
  std::atomic<bool> abandon_{false};  // stop without releasing leases
  std::function<void(int)> on_vmid_change_;
  std::map<store::JobKind, JobKindRunner> kinds_;
  std::function<void(int64_t)> on_server_deleted_;
  void vmid_changed(int vmid) const {
    if (on_vmid_change_) on_vmid_change_(vmid);
  }
};

}  // namespace zlh::api
