// The `local` driver (docs/design.md §10.5), for development only (as root it needs
// --insecure-local-driver; the embedded default is lxc/): a container is
// the directory <data>/containers/<vmid>/ (the agent's --root) plus one
// zlh-agent process for it, listening on the container's own loopback
// address 127.77.<vmid/256>.<vmid%256>:18888 (all of 127/8 is local on
// Linux), so the agent and code-server (:6000) sit at <ip>:port exactly as
// in production.
//
// Files of a container (besides what the agent itself keeps, §3.2):
//   zlh-local.json            the record (local_record.hpp): spec + agent pid,
//                             start time and boot id
//   var/log/zlh-agent.log     the agent's stdout and stderr (appended)
//
// Processes. The agent is started through the one spawn door
// (base/process.hpp) in a session of its own (setsid: no controlling
// terminal, so no SIGHUP when the API's terminal goes; nothing inherited but
// the environment given here; SIGPIPE is the agent's own business) with its
// cwd in the container directory and ZLH_CONTAINER_ROOT=<dir> in its
// environment. It is the API's child while the API lives (so the API reaps
// it) and is adopted by init when the API exits or is killed (-9 included):
// agents outlive API restarts, and a new LocalDriver finds them through the
// record (pid + start time + boot id) instead of starting a second one.
// The agent's supervised services run under zlh-shim holders that outlive
// the agent by design; the driver finds them through the shims' state files
// <dir>/run/zlh/*.json (proto/shim_protocol.hpp).
//
// The container's end (stop, local_shutdown.hpp): the agent gets SIGTERM
// (SIGKILL after agent_stop_timeout) — first, so that it cannot restart the
// services that are about to stop; then every shim gets SIGTERM, which runs
// the service's stop policy (a game server's `stop` command, then SIGTERM,
// then SIGKILL, docs/design.md §6); whatever still lives at the caller's
// deadline is SIGKILLed (service process groups, shims); finally every
// remaining process that belongs to the directory (cwd, root or executable
// inside it, or an environment naming a path inside it: processes that left
// their service's process group) is ended. Every signal goes through a
// pidfd taken after a start-time check, so a reused pid is never hit. The
// agent's own record of its services (want_running) is left as it is: the
// next start brings them back, as a container boot would.
//
// memory_mb and cpu_cores are recorded and validated but not enforced: the
// embedded driver runs without cgroups (docs/drivers.md).
//
// Thread-safety and idempotency: as in driver.hpp. Same-vmid calls of ONE
// LocalDriver are serialized by a per-vmid mutex; at most one API process
// (one LocalDriver) may manage a data directory at a time.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/drivers/driver.hpp"
#include "api/drivers/local/local_record.hpp"

namespace zlh::api::drivers {

// "127.77.<vmid/256>.<vmid%256>": distinct for every vmid in 1..65535.
// E_INVALID for a vmid out of range.
Result<std::string> local_address(int vmid);

struct LocalDriverOptions {
  // <data> of zlh-api; containers live in <data>/containers/<vmid>. Created
  // when missing.
  std::string data_dir;
  // The zlh-agent binary; zlh-shim must sit beside it (the agent runs its
  // services through the zlh-shim next to its own executable).
  std::string agent_bin;
  // How long the agent gets to exit after SIGTERM before SIGKILL.
  std::chrono::milliseconds agent_stop_timeout{15'000};
  // After SIGKILL: how long to wait for processes to disappear before
  // reporting E_IO.
  std::chrono::milliseconds kill_grace{5'000};
  // Per-request timeout of a GET /health probe in address().
  std::chrono::milliseconds health_probe_timeout{1'000};
};

class LocalDriver final : public Driver {
 public:
  // Creates <data>/containers when missing. E_INVALID (empty data_dir or
  // agent_bin), E_IO.
  static Result<std::unique_ptr<LocalDriver>> open(LocalDriverOptions opts);

  std::string_view name() const override { return "local"; }
  // kOurs when <data>/containers/<vmid> exists (only this driver makes
  // them), else kFree.
  Result<VmidUse> vmid_use(int vmid, std::string_view hostname) override;
  Result<void> create(int vmid, const ContainerSpec& spec) override;
  Result<void> configure(int vmid, const ContainerSpec& spec) override;
  Result<void> start(int vmid) override;
  Result<std::string> address(int vmid, std::chrono::milliseconds timeout) override;
  Result<void> stop(int vmid, std::chrono::milliseconds timeout) override;
  Result<void> destroy(int vmid, std::chrono::milliseconds stop_timeout) override;
  Result<ContainerStatus> status(int vmid) override;
  // Containers whose agent runs: the summed /proc usage of every process of
  // the directory (local_stats.hpp); cores and memory_max are the recorded
  // spec (not enforced here); disk and network are absent (not measured).
  // One /proc scan for the whole batch.
  Result<std::map<int, RawCounters>> sample(const std::vector<int>& vmids) override;

  // <data>/containers/<vmid> (canonical absolute path); no check that it exists.
  std::string container_dir(int vmid) const;
  // The running agent's pid. E_NOT_FOUND when the container is missing or
  // its agent does not run. Read-only.
  Result<pid_t> agent_pid(int vmid);

 private:
  explicit LocalDriver(LocalDriverOptions opts, std::string containers_dir);
  std::mutex& lock_for(int vmid);
  Result<std::optional<LocalRecord>> load(int vmid) const;
  // load(), with a missing record E_NOT_FOUND; errors start with `ctx`.
  Result<LocalRecord> load_existing(int vmid, const std::string& ctx) const;
  // An agent of `dir` that no record names, adopted into `rec` (saved):
  // true when there was one.
  Result<bool> adopt_orphan(LocalRecord& rec, const std::string& dir, const std::string& ctx);
  // The spawned agent `pid` saved into `rec`; killed when that fails.
  Result<void> record_agent(LocalRecord& rec, pid_t pid, const std::string& ctx);
  Result<void> save(const LocalRecord& r) const;
  Result<void> stop_locked(int vmid, std::chrono::milliseconds timeout);
  std::string agent_log_tail(int vmid) const;

  LocalDriverOptions opts_;
  std::string containers_dir_;
  std::mutex locks_mu_;
  std::map<int, std::unique_ptr<std::mutex>> locks_;
};

}  // namespace zlh::api::drivers
