// The end of a local container's processes (local driver stop/destroy,
// docs/drivers.md): the agent, the services under their zlh-shim holders,
// and whatever else still belongs to the container directory.
//
// Order and policy:
//   1. the agent: SIGTERM, SIGKILL after agent_stop_timeout (first, so it
//      cannot restart the services below as crashes; its SIGTERM leaves
//      services alone, docs/design.md §6);
//   2. the services recorded in <dir>/run/zlh/*.json: SIGTERM to each live
//      shim, which runs the service's stop policy; a service whose shim is
//      gone gets SIGTERM to its process group; at `deadline` survivors get
//      SIGKILL (group and process); then the shims, which linger after
//      their service's exit, are told to quit (SIGTERM, SIGKILL after 2 s);
//   3. every remaining process that belongs to the directory
//      (processes_inside): SIGTERM once while the deadline lasts, then
//      SIGKILL until none is left.
// Every signal goes through an identity-checked ProcessHandle.
//
// Thread-safety: reentrant; the caller serializes calls for one directory.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "api/drivers/local/process_handle.hpp"
#include "base/error.hpp"

namespace zlh::api::drivers {

struct ShutdownOptions {
  std::chrono::milliseconds agent_stop_timeout{15'000};
  std::chrono::milliseconds kill_grace{5'000};  // after SIGKILL, before giving up
};

// Ends every process of the container at `dir` (absolute, canonical);
// `agent` is its recorded agent when that runs (others are found by the
// sweep). Returns once none is left: by `deadline` plus at most a few
// kill_grace periods. E_IO (naming the pids) when some would not die.
// Repeating it on a stopped container only re-checks.
Result<void> end_container(const std::string& dir, int vmid, std::optional<ProcessHandle> agent,
                           std::chrono::steady_clock::time_point deadline,
                           const ShutdownOptions& opts);

// SIGKILL to every process that belongs to `dir`, waiting up to kill_grace
// for each (the leftovers of a directory being destroyed).
void kill_all_inside(const std::string& dir, int vmid, std::chrono::milliseconds kill_grace);

// A live zlh-agent process whose --root is `dir`, whoever started it.
std::optional<ProcessHandle> find_agent(const std::string& dir);

}  // namespace zlh::api::drivers
