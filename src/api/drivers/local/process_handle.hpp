// Identity-checked handles on host processes, for the local driver's
// container ends (stop, destroy).
//
// A pid alone is not an identity: it is reused once its process is gone.
// A ProcessHandle holds a pidfd (pidfd_open(2)) taken after checking the
// process's start time (field 22 of /proc/<pid>/stat, as recorded when it
// was started), so signals sent through it can only ever reach that very
// process, never a later one with the same pid, and waiting for its exit
// needs no polling (the pidfd becomes readable; this works for processes
// that are not our children too). A zombie counts as exited: in the sandbox
// pid 1 does not reap, so the orphans of an API restart stay zombies.
//
// Ownership: a handle owns its pidfd (closed on destruction); movable, not
// copyable. Thread-safety: a handle is used by one thread at a time; the
// free functions are reentrant.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::drivers {

class ProcessHandle {
 public:
  ProcessHandle() = default;
  ~ProcessHandle();
  ProcessHandle(ProcessHandle&& o) noexcept;
  ProcessHandle& operator=(ProcessHandle&& o) noexcept;
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;

  // The live process `pid`. With `start_time`, only when its start time is
  // exactly that (otherwise the pid belongs to another process now).
  // E_NOT_FOUND when there is no such live process (gone, a zombie, pid
  // reused, pid <= 0); E_IO when pidfd_open fails otherwise. With
  // `allow_exited` (only together with `start_time`, the one thing that
  // tells a zombie from a reused pid), an exited process that is still a
  // zombie is returned too (alive() is then false), so reap_if_child() can
  // collect it.
  static Result<ProcessHandle> open(pid_t pid, std::optional<uint64_t> start_time = std::nullopt,
                                    bool allow_exited = false);

  pid_t pid() const { return pid_; }
  uint64_t start_time() const { return start_time_; }
  bool valid() const { return fd_ >= 0; }

  // True until the process exits (a zombie has exited).
  bool alive() const;
  // Sends `sig` to the process (pidfd_send_signal). true = delivered,
  // false = it had already exited; E_IO when refused (EPERM).
  Result<bool> signal(int sig) const;
  // Sends `sig` to the process group the process leads (kill(-pid)), but
  // only while the process is alive and still leads it: once the leader is
  // gone its group id may be reused. false when it did not lead a group or
  // has exited.
  Result<bool> signal_group(int sig) const;
  // Its command line (/proc/<pid>/cmdline split at NUL). Empty when it has
  // exited or may not be read.
  std::vector<std::string> argv() const;
  // Blocks until the process exits or `timeout` passes; true when it exited.
  bool wait_exit(std::chrono::milliseconds timeout) const;
  // When the process has exited and is our child, collects its exit status
  // (so it does not stay a zombie). A no-op otherwise.
  void reap_if_child() const;

 private:
  int fd_ = -1;
  pid_t pid_ = 0;
  uint64_t start_time_ = 0;
};

// Waits until every handle's process has exited or `deadline` passes; reaps
// those that are our children. Returns how many are still alive.
size_t wait_all_exit(const std::vector<ProcessHandle*>& procs,
                     std::chrono::steady_clock::time_point deadline);

// True when `path` is `dir` itself or lies below it ("/a/b" is inside "/a",
// "/ab" is not). Both are absolute, without trailing '/'.
bool path_inside(std::string_view path, std::string_view dir);

// True when one of the NUL-separated "K=V" entries of `environ` (the content
// of /proc/<pid>/environ) has a value naming a path inside `dir`; values are
// split at ':' (PATH-like lists).
bool environ_mentions(std::string_view environ, std::string_view dir);

// Every live process other than this one that belongs to the directory `dir`
// (absolute, canonical): its cwd, root or executable lies inside it, or its
// environment names a path inside it. Processes this user may not inspect
// are skipped. Handles are taken before the checks, so a pid reused during
// the scan never matches by mistake.
std::vector<ProcessHandle> processes_inside(const std::string& dir);
// processes_inside for several DISJOINT directories in one /proc scan
// (live stats of every local container at once): element i holds the
// processes of dirs[i]; a process is counted for the first directory it
// belongs to.
std::vector<std::vector<ProcessHandle>> processes_inside_each(const std::vector<std::string>& dirs);

}  // namespace zlh::api::drivers
