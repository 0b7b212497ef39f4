// The container driver interface (docs/design.md §10.5): what the control plane
// asks of whatever runs containers — unprivileged LXC containers on this
// host (lxc/, the embedded default as root), the development-only `local`
// driver (local/) or Proxmox VE (proxmox/).
//
// Life cycle of one container, keyed by its vmid:
//   create → configure → start → address → … → stop → destroy,
// with status() at any time. A provisioning job (§10.3) runs these as
// durable steps and repeats a step after an API restart or a failure, so
// EVERY operation is idempotent and safe to retry: calling it again after it
// succeeded, failed half-way or was interrupted by a crash converges on the
// same end state and does not duplicate anything (no second container, no
// second agent process).
//
// Errors (Error::code), common to all drivers:
//   E_INVALID      a bad argument (vmid out of 1..65535, empty type,
//                  non-positive memory/cpu, relative key path …); `field`
//                  names it. Retrying does not help.
//   E_NOT_FOUND    the container does not exist (only where stated below;
//                  destroy and status treat a missing container as a result,
//                  not an error).
//   E_CONFLICT     the vmid is taken by a container that cannot be this one
//                  (another type), or its address is held by a foreign
//                  process.
//   E_UNAVAILABLE  the container exists but cannot answer yet or any more
//                  (stopped, its agent exited); the message says why.
//   E_TIMEOUT      a deadline given by the caller passed.
//   E_IO           the host failed (filesystem, spawning, signals, a process
//                  that would not die); retrying may help.
//   E_INTERNAL     the driver is misconfigured (e.g. a binary is missing).
// Messages are lowercase with context added on the way up ("start 6001: …").
//
// Thread-safety: a Driver may be used from any number of threads. Calls for
// DISTINCT vmids run concurrently and never interfere; calls for the SAME
// vmid are serialized by the driver (one waits for the other), except
// status() and address(), which never block behind a long stop().
// Ownership: the driver owns nothing the caller passes beyond the call; a
// container outlives the Driver object and the API process (an API restart
// finds it again).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "proto/container_type.hpp"

namespace zlh::api::drivers {

// Port of zlh-agent inside every container (docs/design.md §3.3).
inline constexpr int kAgentPort = 18888;
// Minecraft's port inside a container whose driver forwards a host port to it.
inline constexpr int kGamePort = 25565;
inline constexpr int kMinVmid = 1;
inline constexpr int kMaxVmid = 65535;

// What the container's zlh-agent is started with (docs/design.md §3.1).
struct AgentConfig {
  std::string api_public_key_file;      // --api-key: verifies the API's request tokens
  std::string catalog_public_key_file;  // --catalog-key: verifies catalog.json
  std::string artifacts_url;            // --artifacts: http://, https:// or file://
  std::string dev_user = "-";           // --dev-user: "-" = the driver's own user, no accounts
};

struct ContainerSpec {
  ContainerType type = ContainerType::kDev;  // fixed at create, never changes
  // dev-<vmid> or mc-<variant>-<vmid> (docs/design.md §3.1: the agent reads its vmid
  // from it). Proxmox sets it at clone time; the local driver ignores it
  // (its agents get --vmid). Empty: "<type>-<vmid>".
  std::string hostname;
  int memory_mb = 1024;
  int cpu_cores = 1;
  // Size of the container's writable disk in GiB; 0 = the driver's default.
  // Enforced by the lxc driver (image size); recorded elsewhere.
  int disk_gb = 0;
  // Game servers: the host port forwarded to the container's 25565 (lxc:
  // nftables DNAT); 0 = none. Proxmox containers have their own address.
  int game_port = 0;
  AgentConfig agent;
};

enum class PowerState { kRunning, kStopped, kMissing };
std::string_view to_string(PowerState s);  // "running" | "stopped" | "missing"

// What the container uses now, where the driver can measure it (lxc: its
// cgroup counters and its image). Absent when the driver cannot.
struct Resources {
  uint64_t cpu_ns = 0;        // CPU time used since the container started
  uint64_t memory_bytes = 0;  // memory in use (page cache included)
  uint64_t memory_max = 0;    // its hard limit
  uint64_t pids = 0;          // tasks running
  uint64_t disk_bytes = 0;    // used on its disk
  uint64_t disk_max = 0;      // size of its disk
  uint64_t oom_kills = 0;     // processes the OOM killer ended since start
};

// One reading of a running container's CUMULATIVE counters (Driver::sample,
// for live stats, design.md §12a). Drivers stay stateless: the API turns two
// consecutive readings into rates. A counter may go BACKWARDS (the container
// restarted, its veth was recreated, a local process exited): the reader
// treats that as a reset, never as a negative rate. An absent optional is
// "this driver cannot measure it here", never zero.
struct RawCounters {
  // When the counters were read (steady clock: rates divide by its deltas).
  std::chrono::steady_clock::time_point at{};
  uint64_t cpu_ns = 0;  // CPU time used by the container, cumulative
  // Cores busy NOW, for a driver that knows only current usage (Proxmox's
  // `cpu`, averaged by pvestatd over its own ~10 s): used instead of the
  // cpu_ns difference when present.
  std::optional<double> cpu_cores_now;
  double cores = 1;                    // cores it may use (its cpu limit)
  uint64_t memory_bytes = 0;           // in use now (lxc: page cache included; local: summed RSS)
  uint64_t memory_max = 0;             // its limit; 0 = none known
  std::optional<uint64_t> pids;        // tasks now (Proxmox: not reported)
  std::optional<uint64_t> disk_bytes;  // used on its disk now
  std::optional<uint64_t> disk_max;    // size of its disk
  std::optional<uint64_t> net_rx;      // bytes received BY THE CONTAINER, cumulative
  std::optional<uint64_t> net_tx;      // bytes sent by the container, cumulative
};

struct ContainerStatus {
  PowerState state = PowerState::kMissing;
  // The container's IP (its agent listens on address:18888); empty when missing.
  std::string address;
  // Where it runs: "local", or the Proxmox node; empty when missing.
  std::string node;
  std::optional<Resources> resources;  // running containers of drivers that measure
};

// What a driver lets a server ask for (the API validates create requests
// against it). A default of 0 leaves the API's own default per type.
struct Limits {
  int cores_default = 0;
  int cores_max = 32;
  int memory_mb_default = 0;
  int memory_mb_max = 65536;
  int disk_gb_default = 0;  // 0: the driver does not size disks (disk_gb recorded only)
  int disk_gb_max = 1024;
  int disk_gb_min_code_server = 0;  // dev servers with code-server need at least this
};

// Who holds a vmid on the driver's side (Driver::vmid_use).
enum class VmidUse {
  kFree,     // nothing there
  kOurs,     // a container of this driver for this hostname (a create to finish)
  kForeign,  // something else: never touch it, take another vmid
};

// E_INVALID (field "vmid") unless kMinVmid <= vmid <= kMaxVmid.
Result<void> check_vmid(int vmid);
// E_INVALID naming the field: type dev|game, memory_mb > 0, cpu_cores > 0,
// api_public_key_file given and absolute, catalog_public_key_file empty or
// absolute, artifacts_url empty or http(s)/file, dev_user
// non-empty.
Result<void> check_spec(const ContainerSpec& spec);

// ---- shared by the driver implementations ----
// Time from now until `deadline`, rounded up to whole milliseconds; 0 once
// it passed.
std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline);
// One GET http://<address>:18888/health with `timeout`: true when the agent
// answers 200 with {"ok":true}. Any failure is false. Reentrant.
bool agent_healthy(const std::string& address, std::chrono::milliseconds timeout);

class Driver {
 public:
  virtual ~Driver() = default;

  virtual std::string_view name() const = 0;  // "local", "lxc", "proxmox"

  // Sizes a request may ask for (defaults: the API's own).
  virtual Limits limits() const { return {}; }

  // True when the driver forwards a game server's allocated host port to
  // kGamePort in its container (lxc); the game then listens on kGamePort.
  // False: the game listens on the allocated port itself (local, proxmox).
  virtual bool forwards_game_port() const { return false; }

  // Whether `vmid` is free for a container named `hostname`, checked where
  // the containers live (Proxmox: cluster-wide, VMs included), so the job
  // runner can move a server off a vmid that someone else took. Read-only.
  // E_INVALID, E_UNAVAILABLE/E_UPSTREAM (cannot tell now; retry).
  virtual Result<VmidUse> vmid_use(int vmid, std::string_view hostname) = 0;

  // Creates the container for `vmid` from `spec` (Proxmox: clones the
  // template). Does not start it.
  // Repeating: a container that already exists with the same type is left
  // as it is and the call succeeds (a half-done create is completed);
  // E_CONFLICT when it exists with another type. E_INVALID, E_IO.
  virtual Result<void> create(int vmid, const ContainerSpec& spec) = 0;

  // Applies cpu, memory and the agent's configuration from `spec` (the type
  // must stay the same: E_CONFLICT). Takes effect at the next start of a
  // running container. Repeating with the same spec changes nothing.
  // E_NOT_FOUND, E_INVALID, E_CONFLICT, E_IO.
  virtual Result<void> configure(int vmid, const ContainerSpec& spec) = 0;

  // Powers the container on and returns once it is booting; it does not
  // wait for the agent to answer (address() does). Repeating while it runs
  // does nothing: never a second instance. E_NOT_FOUND, E_CONFLICT (its
  // address is taken by something else), E_INTERNAL, E_IO.
  virtual Result<void> start(int vmid) = 0;

  // The container's IP address once its agent answers GET /health, waiting
  // up to `timeout`. Read-only; repeat at will. E_NOT_FOUND, E_UNAVAILABLE
  // at once when the container is stopped or its agent exited (with the
  // reason), E_TIMEOUT when the agent did not answer in time.
  virtual Result<std::string> address(int vmid, std::chrono::milliseconds timeout) = 0;

  // Graceful power-off: the agent and every workload in the container end
  // (workloads by their stop policy, e.g. Minecraft's `stop`), escalating to
  // SIGKILL for what is still alive after `timeout`; returns when nothing of
  // the container runs any more (at most a few seconds after `timeout`).
  // Repeating on a stopped container re-checks that nothing runs and
  // succeeds. E_NOT_FOUND, E_IO (something would not die).
  virtual Result<void> stop(int vmid, std::chrono::milliseconds timeout) = 0;

  // Stops the container (as stop(vmid, stop_timeout)) and deletes it with
  // all its data. A missing container is success, so a retry after a crash
  // half-way finishes the job. E_IO (the container then still exists or is
  // partly removed; retrying completes it).
  virtual Result<void> destroy(int vmid, std::chrono::milliseconds stop_timeout) = 0;

  // What a running container uses now, from local counters only (never a
  // remote call: the API may ask on every GET /api/servers/{id}). nullopt
  // when the driver does not measure or the container does not run.
  virtual std::optional<Resources> resources(int vmid) { return std::nullopt; }

  // Live-stats reading of several containers in ONE call (the API's sampler
  // calls it every 2 s for all its running servers; Proxmox answers it with
  // one /cluster/resources request). The map holds an entry for each vmid
  // that runs and is measured; a stopped, missing or unmeasurable one is
  // simply absent (not an error). Read-only, never blocks behind a running
  // operation, cheap (local files, or one remote call per batch).
  // Errors only for the whole batch: E_UNAVAILABLE (this driver does not
  // sample: the default), E_UPSTREAM/E_IO (retry next cycle).
  virtual Result<std::map<int, RawCounters>> sample(const std::vector<int>& vmids) {
    (void)vmids;
    return fail(codes::kUnavailable, std::string(name()) + " driver: stats sampling not built yet");
  }

  // Current power state and address. Read-only, cheap, never blocks on a
  // running operation. A missing container is {kMissing, ""}, not an error.
  // E_INVALID, E_IO.
  virtual Result<ContainerStatus> status(int vmid) = 0;
};

}  // namespace zlh::api::drivers
