// Live-stats counters of a local container (LocalDriver::sample): the sum
// over the processes that belong to its directory (processes_inside) of
// their /proc/<pid>/stat CPU time and resident memory.
//
// Limits of the local driver, by design (it has no cgroup): CPU time of a
// process that exited is no longer counted, so the sum may go BACKWARDS
// (the reader treats that as a reset); memory is summed RSS (shared pages
// counted once per process); network and disk are not measured (absent,
// not zero).
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/drivers/local/process_handle.hpp"

namespace zlh::api::drivers {

struct ProcUsage {
  uint64_t cpu_ticks = 0;  // utime + stime (fields 14, 15), clock ticks
  uint64_t threads = 0;    // field 20 (tasks, as a cgroup's pids.current counts them)
  uint64_t rss_pages = 0;  // field 24
};
// Parses the content of /proc/<pid>/stat (the command name may hold spaces
// and parentheses: fields are counted after the LAST ')'). nullopt when it
// is not such a line.
std::optional<ProcUsage> parse_proc_stat(std::string_view stat);

struct TreeUsage {
  uint64_t cpu_ns = 0;
  uint64_t memory_bytes = 0;
  uint64_t pids = 0;  // tasks (threads), as the lxc cgroup counts them
};
// The sum over `procs` that still run (an exited one is skipped).
TreeUsage tree_usage(const std::vector<ProcessHandle>& procs);

}  // namespace zlh::api::drivers
