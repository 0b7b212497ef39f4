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
// Thread-safety: submit(), cancel() and resume_all() may be called from any thread;
// one job never runs twice at once. stop() asks running jobs to stop after
// their current wait and joins them (they resume at the next start).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
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

  void submit(int64_t job_id);
  // Stops the (create) job, already cancelled in the store, at its next step
  // or poll. No-op for a job that is not running.
  void cancel(int64_t job_id);
  void resume_all();
  void stop();
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
  std::string shown(const std::string& message) const;  // redact_host_paths with cfg_.host_paths
  void run(int64_t job_id);
  Result<void> run_create(store::Job& job, store::Server& server);
  // The create job's steps 0, 3, 4 and 5: a vmid free where the containers
  // live (the server moves when its own is taken), the container's address
  // recorded, the payload handed to the agent, the workload running.
  Result<void> claim_free_vmid(const store::Job& job, store::Server& server);
  Result<void> record_address(const store::Server& server, int vmid, std::string& ip);
  Result<void> send_payload(const store::Server& server, int vmid, const std::string& ip);
  Result<void> wait_running(const store::Job& job, const store::Server& server, int vmid,
                            const std::string& ip);
  Result<void> run_delete(store::Job& job, store::Server& server);
  void run_other(store::Job& job, store::Server& server, const JobKindRunner& f);
  Result<void> step(store::Job& job, int idx, const std::function<Result<void>()>& f);
  void compensate(store::Job& job, store::Server& server, const Error& why);
  drivers::ContainerSpec spec_for(const store::Server& s) const;
  bool sleep_for(std::chrono::milliseconds d);  // false when stopping
  bool cancelled(int64_t job_id) const;
  // Waits until no job of `server_id` other than `job_id` is running here.
  // False when stopping.
  bool wait_for_others(int64_t job_id, int64_t server_id);

  store::Store& store_;
  drivers::Driver& driver_;
  const AgentClient& agents_;
  JobRunnerConfig cfg_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, int64_t> running_;  // job id → server id (0 until known)
  std::set<int64_t> cancelled_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::function<void(int)> on_vmid_change_;
  std::map<store::JobKind, JobKindRunner> kinds_;
  std::function<void(int64_t)> on_server_deleted_;
  void vmid_changed(int vmid) const {
    if (on_vmid_change_) on_vmid_change_(vmid);
  }
};

}  // namespace zlh::api
