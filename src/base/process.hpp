// The one door for child processes (STYLE.md §7, docs/design.md §6).
//
// Every child zlh starts — installers, useradd, console shells, supervised
// services — goes through spawn(): it decides the session, the user, the
// complete environment, the resource limits and exactly which file
// descriptors the child sees. Nothing is inherited by accident: the
// environment is only what the caller lists, every fd other than 0-2 is
// closed, the signal mask is emptied and every disposition is SIG_DFL.
//
// Thread-safety: spawn(), wait_exit() and run() may be called from any
// thread concurrently. The child between fork and exec only makes
// async-signal-safe system calls; everything that allocates or reads files
// (argv/envp arrays, PATH candidates, supplementary groups) is prepared in
// the parent first. All fds spawn() creates are O_CLOEXEC, so a concurrent
// spawn on another thread never leaks them.
//
// Errors: E_INVALID for bad options (empty argv, uid without gid), E_IO for
// system call failures, including "exec <argv0>: <strerror>" when the child
// could not exec (spawn() never hands back a child that exits 127 because
// the program was missing).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace zlh::process {

struct SpawnOptions {
  // argv[0] is a path (contains '/', relative to `cwd`) or a name looked up
  // in the PATH of `env` (execvpe semantics, but with the given env's PATH,
  // "/bin:/usr/bin" when it has none; a file without "#!" that the kernel
  // refuses with ENOEXEC is run by /bin/sh).
  std::vector<std::string> argv;
  // Complete environment, "K=V" entries; nothing is inherited.
  std::vector<std::string> env;
  // Working directory; empty = "/". Entered before privileges are dropped,
  // so it only has to be reachable by the caller.
  std::string cwd;
  // Drop privileges to uid/gid (uid requires gid). When running as root the
  // supplementary groups become those of `user_name` (getgrouplist on the
  // host's user database, computed in the parent) or none when user_name is
  // empty. A failing setgroups/setgid/setuid fails the spawn.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string user_name;
  // setsid(): the child leads its own session and process group (pgid ==
  // pid), so kill(-pid, sig) reaches everything it starts.
  bool new_session = true;
  // With new_session: make stdin the controlling terminal of the new session
  // (ioctl(0, TIOCSCTTY, 0) after fds 0-2 are installed), so job control,
  // ^C and SIGHUP on hang-up work. stdin must then be a terminal that is no
  // other session's controlling terminal (normally a fresh pty slave);
  // otherwise the spawn fails at stage "controlling tty". E_INVALID without
  // new_session.
  bool controlling_tty = false;
  // Parent fds to install as 0, 1, 2 in the child; -1 = /dev/null. The same
  // fd may be given for several. The caller keeps ownership (spawn does not
  // close them).
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // setrlimit(resource, {value, value}) for each entry, before privileges
  // are dropped, e.g. {RLIMIT_NOFILE, 65536}.
  std::vector<std::pair<int, rlim_t>> rlimits;
};

// fork + exec. In the child, in this order: reset signal dispositions and
// empty the signal mask, setsid, install fds 0-2 and close every other fd
// (close_range), TIOCSCTTY (controlling_tty), setrlimit, chdir,
// setgroups/setgid/setuid, exec. Any failure in the child is reported
// through a CLOEXEC pipe (stage + errno);
// spawn() then reaps the child and returns E_IO:
//   "exec <argv0>: <strerror>"   or   "spawn <argv0>: <stage>: <strerror>".
// On success the caller owns the pid and must reap it (wait_exit or its own
// waitpid). Not idempotent: every call starts a new process.
Result<pid_t> spawn(const SpawnOptions& o);

// waitpid(pid) retrying EINTR; exit code, or 128+signal for a signal death.
// E_IO when pid is not a child of this process (ECHILD) or already reaped.
Result<int> wait_exit(pid_t pid);

struct RunResult {
  int exit_code = -1;  // exit status when the child exited normally, else -1
  int signal = 0;      // terminating signal, 0 when it exited normally
  bool timed_out = false;
  bool cancelled = false;  // `cancel` became true first (handled like a timeout)
  std::string output;      // stdout+stderr interleaved, at most max_output bytes
};

// Runs a command to completion: spawn() with stdout and stderr on one pipe
// (o.stdout_fd/stderr_fd are replaced, new_session is forced on so the
// child's process group can be killed), then reads until the pipe reaches
// EOF and the child has exited. Output beyond max_output is read and
// dropped, so a chatty child never blocks. When the deadline (now +
// timeout) passes first, the whole process group gets SIGKILL, timed_out is
// true and exit_code/signal describe how the child ended (normally
// SIGKILL). When `cancel` is given and becomes true first (checked at least
// every 100 ms), the same happens with `cancelled` set instead. A non-zero
// exit is not an error: check exit_code. Errors are those of spawn() plus
// E_IO for pipe/poll failures.
Result<RunResult> run(SpawnOptions o, std::chrono::milliseconds timeout,
                      size_t max_output = 1 << 20, const std::atomic<bool>* cancel = nullptr);

// Two pipes, both ends O_CLOEXEC, e.g. a child's stdout and stderr. On
// failure neither is left open: E_IO "pipe: <strerror>".
Result<void> open_pipes(int (&a)[2], int (&b)[2]);

// The value of `key` in a "K=V" environment list (first match), if present.
std::optional<std::string_view> env_lookup(const std::vector<std::string>& env,
                                           std::string_view key);

}  // namespace zlh::process
