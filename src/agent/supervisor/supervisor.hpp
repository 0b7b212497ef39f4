// The supervisor: keeps services (a game server, code-server, tailscaled,
// console shells) alive through one zlh-shim holder process each
// (docs/design.md §6).
//
// The agent never owns a service's process or PTY: start() launches
// `zlh-shim` (through the one spawn door), which starts the service and
// serves run/zlh/<name>.sock. A monitor thread per service attaches to the
// shim and waits for the service's exit. An exit nobody asked for is a crash:
// the CrashPolicy decides the restart delay or gives up (`crashed`). stop()
// asks the shim to run the stop policy (command, then SIGTERM, then SIGKILL)
// and reports whether the stop was graceful.
//
// Restart safety: each service's spec, wanted state and crash history live in
// <root>/opt/zlh-agent/state/services/<name>.json; the shim keeps
// run/zlh/<name>.json. reattach() at agent start finds every shim still alive
// (pid + start time against pid reuse) and adopts it without restarting
// anything; a service that died while the agent was away counts as a crash.
// The destructor stops only the monitor threads, never a service.
//
// Thread-safety: all public methods may be called from any thread. stop()
// blocks until the service is gone (bounded by its stop timeouts).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/supervisor/backoff.hpp"
#include "agent/supervisor/service_state.hpp"
#include "base/error.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::agent::supervisor {

struct ServiceSpec {
  std::string name;  // [a-z0-9][a-z0-9-]{0,63}; also the socket/state file name
  std::vector<std::string> argv;
  std::vector<std::string> env;  // complete environment
  std::string cwd;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string user;
  bool pty = true;
  std::string stop_command;  // written to the console; empty → stop_signal
  std::string stop_signal = "TERM";
  int stop_timeout_s = 30;
  int term_timeout_s = 10;
  int port = 0;                  // reported in /status, 0 = none
  bool restart_on_crash = true;  // console shells: false
  bool backpressure = false;     // interactive sessions: the service waits for a slow viewer

  nlohmann::json to_json() const;
  static Result<ServiceSpec> from_json(const nlohmann::json& j);
};

struct ServiceView {
  std::string name;
  ServiceState state = ServiceState::kStarting;
  pid_t pid = 0;
  int restarts = 0;
  int port = 0;
  int crash_count = 0;
  std::optional<std::string> last_crash_at;
  nlohmann::json last_exit;  // null or {code}|{signal}, with "reason": "out of memory" when the OOM
                             // killer ended it
  nlohmann::json last_stop;  // null or {graceful, duration_ms}
  nlohmann::json to_json() const;
};

class Supervisor {
 public:
  Supervisor(std::string root, std::string shim_bin, const Clock& clock,
             CrashPolicyConfig policy = {});
  ~Supervisor();

  // Adopts live shims and restarts services that should run. Call once at start.
  void reattach();

  // Starts (or adopts) a service; an operator start also clears `crashed`.
  // Repeatable: starting a running service only updates nothing and succeeds.
  Result<void> start(const ServiceSpec& spec);
  // Graceful stop by policy; waits. {graceful, duration_ms}. E_NOT_FOUND.
  Result<nlohmann::json> stop(const std::string& name);
  // Operator start of a registered service with its registered spec (clears
  // `crashed`). E_NOT_FOUND when unknown.
  Result<void> start_registered(const std::string& name);
  Result<void> restart(const std::string& name);
  // SIGKILL to the service's process group; the service stays stopped.
  Result<void> kill(const std::string& name);
  // Forgets a stopped service (console shells that went away).
  void remove(const std::string& name);

  std::vector<ServiceView> services() const;
  std::optional<ServiceView> service(const std::string& name) const;
  bool has(const std::string& name) const;
  std::string socket_path(const std::string& name) const;
  std::string run_dir() const { return run_dir_; }

  // Waits (deadline) until the service reports `state`; for tests and start-up.
  bool wait_for_state(const std::string& name, ServiceState state,
                      std::chrono::milliseconds timeout) const;

  // Called on every state change (from monitor threads): console state messages.
  void set_on_state(std::function<void(const std::string& name, ServiceState state)> f);

  // How many processes the kernel's OOM killer has ended in this container
  // so far. A service that dies of SIGKILL while the count grew is reported
  // with last_exit.reason "out of memory". Default: the memory cgroup the
  // agent sees (cgroup_oom_kills); tests inject a counter. Call before
  // reattach().
  void set_oom_counter(std::function<uint64_t()> f);

 private:
  struct Service;
  enum class ShimStart { kRunning, kSpawned, kFailed };
  // One thread per service: (re)starts its shim while it should run, follows
  // it to the service's exit and applies the crash policy.
  void monitor(std::shared_ptr<Service> s);
  // With mu_ held: spawns a shim unless one runs (kRunning). kFailed: the
  // spawn failed and was counted as a crash (backed off).
  ShimStart ensure_shim(std::unique_lock<std::mutex>& lk, Service& s);
  // With mu_ not held (and not held on return): records the attached shim's
  // pid and state, then reads frames until the service exits (its status),
  // the connection is lost or the agent closes (nullopt).
  std::optional<shim::ShimStatus> follow(std::unique_lock<std::mutex>& lk, Service& s,
                                         shim::ShimClient& client, bool fresh);
  // With mu_ held: the service ended (final_status nullopt: unknown, counted
  // as SIGKILL); a requested stop, a plain exit, or a crash to back off from.
  void on_shim_finished(std::unique_lock<std::mutex>& lk, Service& s,
                        const std::optional<shim::ShimStatus>& final_status);
  Result<void> spawn_shim(Service& s);
  bool shim_alive(const Service& s) const;
  void persist(const Service& s);
  void set_state(Service& s, ServiceState state);
  // After a crash (or a failed start), with mu_ held in `lk`: persists the
  // policy's count, then either "crashed" (false: no more restarts) or
  // "backoff" and waits out the delay (true), ending early on close,
  // removal or a stop.
  bool back_off(std::unique_lock<std::mutex>& lk, Service& s, const CrashPolicy::Decision& d);

  std::string root_, shim_bin_, run_dir_, state_dir_;
  const Clock& clock_;
  CrashPolicyConfig policy_cfg_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Service>> services_;
  std::function<void(const std::string&, ServiceState)> on_state_;
  std::function<uint64_t()> oom_kills_;
  std::atomic<bool> closing_{false};
};

bool valid_service_name(std::string_view s);

// The OOM killer's count in the cgroup this process is in, as the container
// sees it: "oom_kill" of /sys/fs/cgroup/memory/memory.oom_control (v1) or
// /sys/fs/cgroup/memory.events (v2); 0 when neither can be read.
uint64_t cgroup_oom_kills();

}  // namespace zlh::agent::supervisor
