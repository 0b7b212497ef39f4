#include "base/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace zlh::process {
namespace {

// Where the child failed; sent to the parent with errno over the report pipe.
enum Stage : int {
  kSetsid,
  kDupFds,
  kCloseFds,
  kRlimit,
  kChdir,
  kSetgroups,
  kSetgid,
  kSetuid,
  kSetCtty,
  kExec
};

const char* stage_name(int s) {
  switch (s) {
    case kSetsid:
      return "setsid";
    case kDupFds:
      return "dup fds";
    case kCloseFds:
      return "close fds";
    case kRlimit:
      return "setrlimit";
    case kChdir:
      return "chdir";
    case kSetgroups:
      return "setgroups";
    case kSetgid:
      return "setgid";
    case kSetuid:
      return "setuid";
    case kSetCtty:
      return "controlling tty";
    default:
      return "exec";
  }
}

struct ChildReport {
  int stage;
  int err;
};

// Everything the child needs, built before fork: after fork in a
// multi-threaded parent the child may only make async-signal-safe calls, so
// it must not allocate, read files or consult NSS.
struct Prepared {
  std::vector<std::string> candidates;  // exec paths to try, in order
  std::vector<char*> argv;              // null-terminated
  std::vector<char*> envp;              // null-terminated
  std::vector<char*> sh_argv;           // "/bin/sh", <candidate>, argv[1..], null
  std::vector<gid_t> groups;
  bool set_groups = false;
  const char* cwd = "/";
  int max_fd = 1024;
};

// glibc's execvpe falls back to confstr(_CS_PATH) when PATH is unset.
constexpr std::string_view kDefaultPath = "/bin:/usr/bin";

Result<Prepared> prepare(const SpawnOptions& o) {
  Prepared p;
  const std::string& file = o.argv[0];
  if (file.find('/') != std::string::npos) {
    p.candidates.push_back(file);
  } else {
    std::string_view path = env_lookup(o.env, "PATH").value_or(kDefaultPath);
    size_t i = 0;
    for (;;) {
      size_t j = path.find(':', i);
      std::string_view dir = path.substr(i, j == std::string_view::npos ? path.npos : j - i);
      // An empty element is the current directory, as in execvp.
      p.candidates.push_back(dir.empty() ? file : std::string(dir) + "/" + file);
      if (j == std::string_view::npos) break;
      i = j + 1;
    }
  }
  for (const auto& a : o.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  for (const auto& e : o.env) p.envp.push_back(const_cast<char*>(e.c_str()));
  p.envp.push_back(nullptr);
  static char kSh[] = "/bin/sh";
  p.sh_argv.push_back(kSh);
  p.sh_argv.push_back(nullptr);  // the candidate, filled in by the child
  for (size_t k = 1; k < o.argv.size(); ++k) p.sh_argv.push_back(p.argv[k]);
  p.sh_argv.push_back(nullptr);
  if (!o.cwd.empty()) p.cwd = o.cwd.c_str();

  // Only root can change groups; a non-root caller asking for its own
  // uid/gid still works (setgid/setuid to the current ids succeed).
  if ((o.uid || o.gid) && ::geteuid() == 0) {
    p.set_groups = true;
    if (!o.user_name.empty() && o.gid) {
      // What initgroups() does, done here because it reads /etc/group.
      int n = 32;
      for (;;) {
        p.groups.resize(size_t(n));
        int want = n;
        if (::getgrouplist(o.user_name.c_str(), *o.gid, p.groups.data(), &want) >= 0) {
          p.groups.resize(size_t(want));
          break;
        }
        if (want <= n) want = n * 2;
        if (want > 65536)
          return fail(codes::kInternal, "getgrouplist " + o.user_name + ": too many groups");
        n = want;
      }
    }
  }
  long open_max = ::sysconf(_SC_OPEN_MAX);
  if (open_max > 0) p.max_fd = int(std::min<long>(open_max, INT_MAX));
  return p;
}

[[noreturn]] void child_fail(int report_fd, int stage, int err) {
  ChildReport r{stage, err};
  ssize_t n;
  do {
    n = ::write(report_fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

void close_from(int lo, int hi_inclusive, int max_fd) {
  if (lo > hi_inclusive) return;
  if (::close_range(unsigned(lo), unsigned(hi_inclusive), 0) == 0) return;
  // Kernels before 5.9: close one by one up to the fd limit.
  int hi = std::min(hi_inclusive, max_fd - 1);
  for (int fd = lo; fd <= hi; ++fd) ::close(fd);
}

// The helpers below run in the forked child: async-signal-safe calls only,
// no allocation.

// Handlers installed by the parent must not run in the child, and ignored
// signals (SIGPIPE in servers) must not stay ignored after exec. The mask
// is still fully blocked (set by the parent before fork).
void reset_signal_dispositions() {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    if (::sigaction(s, &sa, nullptr) != 0) {
      // glibc refuses its reserved real-time signals (32, 33), but a parent
      // may have left them ignored (seen under CI); the kernel call resets
      // them. SIG_DFL needs no restorer.
      struct {
        void* handler;
        unsigned long flags;
        void* restorer;
        unsigned long mask;
      } ksa{reinterpret_cast<void*>(SIG_DFL), 0, nullptr, 0};
      ::syscall(SYS_rt_sigaction, s, &ksa, nullptr, sizeof(ksa.mask));
    }
  }
}

// Installs src[0..2] as the child's 0-2 and closes every other descriptor
// but report_fd.
void install_stdio(int src[3], int report_fd, int max_fd) {
  // Move sources that sit on 0-2 out of the way first, so installing one
  // never overwrites another that is still needed.
  for (int i = 0; i < 3; ++i) {
    if (src[i] < 3 && src[i] != i) {
      int moved = ::fcntl(src[i], F_DUPFD_CLOEXEC, 3);
      if (moved < 0) child_fail(report_fd, kDupFds, errno);
      src[i] = moved;
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (src[i] == i) {
      if (::fcntl(i, F_SETFD, 0) < 0) child_fail(report_fd, kDupFds, errno);
    } else if (::dup2(src[i], i) < 0) {
      child_fail(report_fd, kDupFds, errno);
    }
  }
  // report_fd is >= 3 (the parent made sure) and closes itself on exec.
  close_from(3, report_fd - 1, max_fd);
  close_from(report_fd + 1, INT_MAX, max_fd);
}

// execvpe's search, with the PATH of the child's environment. Returns only
// when no candidate could be executed, with the errno to report.
int exec_candidates(Prepared& p) {
  bool saw_eacces = false;
  int err = ENOENT;
  for (auto& cand : p.candidates) {
    ::execve(cand.c_str(), p.argv.data(), p.envp.data());
    err = errno;
    if (err == ENOEXEC) {
      p.sh_argv[1] = const_cast<char*>(cand.c_str());
      ::execve(p.sh_argv[0], p.sh_argv.data(), p.envp.data());
      err = errno;
      break;
    }
    if (err == EACCES) {
      saw_eacces = true;
      continue;
    }
    if (err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT)
      continue;
    break;
  }
  if (saw_eacces && (err == ENOENT || err == ENOTDIR)) err = EACCES;
  return err;
}

// Runs in the forked child. Only async-signal-safe calls from here on.
[[noreturn]] void child_main(const SpawnOptions& o, Prepared& p, int src[3], int report_fd) {
  reset_signal_dispositions();
  if (o.new_session && ::setsid() < 0) child_fail(report_fd, kSetsid, errno);
  install_stdio(src, report_fd, p.max_fd);
  if (o.controlling_tty && ::ioctl(0, TIOCSCTTY, 0) != 0) child_fail(report_fd, kSetCtty, errno);

  for (const auto& [resource, value] : o.rlimits) {
    struct rlimit rl {
      value, value
    };
    if (::setrlimit(resource, &rl) != 0) child_fail(report_fd, kRlimit, errno);
  }
  if (::chdir(p.cwd) != 0) child_fail(report_fd, kChdir, errno);

  if (p.set_groups && ::setgroups(p.groups.size(), p.groups.data()) != 0)
    child_fail(report_fd, kSetgroups, errno);
  if (o.gid && ::setgid(*o.gid) != 0) child_fail(report_fd, kSetgid, errno);
  if (o.uid && ::setuid(*o.uid) != 0) child_fail(report_fd, kSetuid, errno);

  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  child_fail(report_fd, kExec, exec_candidates(p));
}

// Returns fd if it is >= 3, else a CLOEXEC duplicate >= 3 (closing fd), so
// that it cannot collide with the child's 0-2.
int lift(int fd) {
  if (fd < 0 || fd >= 3) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  ::close(fd);
  errno = err;
  return moved;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

pid_t waitpid_retry(pid_t pid, int* status, int flags) {
  for (;;) {
    pid_t r = ::waitpid(pid, status, flags);
    if (r >= 0 || errno != EINTR) return r;
  }
}

using SteadyClock = std::chrono::steady_clock;

// run()'s parent side: collects a spawned child's combined output (up to
// max_output bytes) and reaps it. Owns the pipe's read end and the pidfd.
class OutputPump {
 public:
  OutputPump(pid_t pid, int out_fd, size_t max_output)
      : pid_(pid),
        out_(out_fd),
        // A pidfd wakes poll() the moment the child exits even while a
        // grandchild keeps the pipe open; without one (old kernels) poll
        // with a short tick.
        pidfd_(int(::syscall(SYS_pidfd_open, pid, 0))),
        max_output_(max_output) {}
  ~OutputPump() {
    close_fd(out_);
    close_fd(pidfd_);
  }
  OutputPump(const OutputPump&) = delete;
  OutputPump& operator=(const OutputPump&) = delete;

  // Reads and reaps until the child has exited and the pipe is closed, the
  // deadline passes or *cancel is set. Errors are poll's, read's, waitpid's.
  Result<void> pump(SteadyClock::time_point deadline, const std::atomic<bool>* cancel) {
    while (pipe_open_ || !exited_) {
      auto now = SteadyClock::now();
      if (now >= deadline) {
        res_.timed_out = true;
        break;
      }
      if (cancel && cancel->load()) {
        res_.cancelled = true;
        break;
      }
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
      int wait_ms = int(std::min<long long>(left, INT_MAX));
      if (cancel) wait_ms = std::min(wait_ms, 100);
      if (auto r = poll_once(wait_ms); !r) return r;
    }
    return {};
  }

  // After an error: kill the child's group and reap it.
  void kill_and_reap() {
    ::kill(-pid_, SIGKILL);
    if (!exited_) waitpid_retry(pid_, &status_, 0);
  }

  // The result; after a timeout or cancel the group is killed first.
  RunResult finish() {
    if (res_.timed_out || res_.cancelled) kill_and_drain();
    close_fd(out_);
    close_fd(pidfd_);
    if (exited_) {
      if (WIFEXITED(status_)) res_.exit_code = WEXITSTATUS(status_);
      if (WIFSIGNALED(status_)) res_.signal = WTERMSIG(status_);
    }
    return std::move(res_);
  }

 private:
  // One poll() (at most wait_ms) and the read and reap it woke for.
  Result<void> poll_once(int wait_ms) {
    pollfd pfds[2];
    nfds_t n = 0;
    if (pipe_open_) pfds[n++] = {out_, POLLIN, 0};
    if (!exited_ && pidfd_ >= 0) pfds[n++] = {pidfd_, POLLIN, 0};
    if (!exited_ && pidfd_ < 0) wait_ms = std::min(wait_ms, 10);
    int pr = ::poll(pfds, n, wait_ms);
    if (pr < 0) {
      if (errno == EINTR) return {};
      return fail(Error::from_errno("poll", errno));
    }
    if (pipe_open_ && pfds[0].revents != 0) {
      ssize_t got = ::read(out_, buf_, sizeof buf_);
      if (got < 0 && errno != EINTR && errno != EAGAIN)
        return fail(Error::from_errno("read", errno));
      if (got == 0) pipe_open_ = false;
      if (got > 0) append(got);
    }
    if (!exited_) {
      pid_t w = waitpid_retry(pid_, &status_, WNOHANG);
      if (w == pid_) exited_ = true;
      if (w < 0) return fail(Error::from_errno("waitpid", errno));
    }
    return {};
  }

  // Kills the group and reaps it, keeping what was already written.
  void kill_and_drain() {
    ::kill(-pid_, SIGKILL);
    if (!exited_ && waitpid_retry(pid_, &status_, 0) == pid_) exited_ = true;
    // Keep whatever was already written; it usually says why it hung.
    if (pipe_open_ && ::fcntl(out_, F_SETFL, O_NONBLOCK) == 0) {
      // Bounded: a writer outside the killed group could otherwise keep us here.
      ssize_t got;
      for (int i = 0; i < 64 && (got = ::read(out_, buf_, sizeof buf_)) > 0; ++i) append(got);
    }
  }

  void append(ssize_t n) {
    size_t room = res_.output.size() < max_output_ ? max_output_ - res_.output.size() : 0;
    res_.output.append(buf_, std::min(size_t(n), room));
  }

  pid_t pid_;
  int out_;
  int pidfd_;
  size_t max_output_;
  RunResult res_;
  bool pipe_open_ = true;
  bool exited_ = false;
  int status_ = 0;
  char buf_[16384];
};

}  // namespace

std::optional<std::string_view> env_lookup(const std::vector<std::string>& env,
                                           std::string_view key) {
  for (const auto& e : env) {
    std::string_view v = e;
    if (v.size() > key.size() && v[key.size()] == '=' && v.starts_with(key))
      return v.substr(key.size() + 1);
  }
  return std::nullopt;
}

Result<void> open_pipes(int (&a)[2], int (&b)[2]) {
  if (::pipe2(a, O_CLOEXEC) != 0) return fail(Error::from_errno("pipe", errno));
  if (::pipe2(b, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(a[0]);
    ::close(a[1]);
    return fail(Error::from_errno("pipe", err));
  }
  return {};
}

Result<pid_t> spawn(const SpawnOptions& o) {
  if (o.argv.empty() || o.argv[0].empty()) return fail(Error::invalid("argv", "argv[0] is empty"));
  if (o.uid && !o.gid) return fail(Error::invalid("gid", "uid given without gid"));
  if (o.controlling_tty && !o.new_session)
    return fail(Error::invalid("controlling_tty", "controlling tty requires a new session"));
  const std::string& argv0 = o.argv[0];
  auto prepared = prepare(o);
  if (!prepared) return fail(std::move(prepared.error()).wrap("spawn " + argv0));
  Prepared& p = *prepared;

  int devnull = -1;
  if (o.stdin_fd < 0 || o.stdout_fd < 0 || o.stderr_fd < 0) {
    devnull = lift(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (devnull < 0) return fail(Error::from_errno("spawn " + argv0 + ": open /dev/null", errno));
  }
  int src[3] = {o.stdin_fd < 0 ? devnull : o.stdin_fd, o.stdout_fd < 0 ? devnull : o.stdout_fd,
                o.stderr_fd < 0 ? devnull : o.stderr_fd};

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    close_fd(devnull);
    return fail(Error::from_errno("spawn " + argv0 + ": pipe", err));
  }
  report[0] = lift(report[0]);
  report[1] = lift(report[1]);
  if (report[0] < 0 || report[1] < 0) {
    int err = errno;
    close_fd(report[0]);
    close_fd(report[1]);
    close_fd(devnull);
    return fail(Error::from_errno("spawn " + argv0 + ": pipe", err));
  }

  // Block every signal across fork so the child cannot run one of the
  // parent's handlers before it has reset them.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) child_main(o, p, src, report[1]);
  int fork_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close_fd(report[1]);
  close_fd(devnull);
  if (pid < 0) {
    close_fd(report[0]);
    return fail(Error::from_errno("spawn " + argv0 + ": fork", fork_err));
  }

  ChildReport r{};
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = ::read(report[0], reinterpret_cast<char*>(&r) + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  close_fd(report[0]);
  if (got == 0) return pid;  // the pipe closed on exec

  int status = 0;
  waitpid_retry(pid, &status, 0);
  if (got != sizeof r) return fail(codes::kIo, "spawn " + argv0 + ": short report from child");
  if (r.stage == kExec) return fail(Error::from_errno("exec " + argv0, r.err));
  return fail(Error::from_errno("spawn " + argv0 + ": " + stage_name(r.stage), r.err));
}

Result<int> wait_exit(pid_t pid) {
  int status = 0;
  if (waitpid_retry(pid, &status, 0) < 0)
    return fail(Error::from_errno("waitpid " + std::to_string(pid), errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return fail(codes::kInternal, "waitpid " + std::to_string(pid) + ": unexpected status");
}

Result<RunResult> run(SpawnOptions o, std::chrono::milliseconds timeout, size_t max_output,
                      const std::atomic<bool>* cancel) {
  // Clamped so that now + timeout cannot overflow the clock.
  const auto deadline =
      SteadyClock::now() + std::clamp<std::chrono::milliseconds>(
                               timeout, std::chrono::milliseconds(0), std::chrono::hours(24 * 365));
  const std::string argv0 = o.argv.empty() ? std::string() : o.argv[0];

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return fail(Error::from_errno("run " + argv0 + ": pipe", errno));
  o.stdout_fd = out[1];
  o.stderr_fd = out[1];
  o.new_session = true;
  auto spawned = spawn(o);
  close_fd(out[1]);
  if (!spawned) {
    close_fd(out[0]);
    return fail(std::move(spawned.error()));
  }
  OutputPump pump(*spawned, out[0], max_output);
  if (auto r = pump.pump(deadline, cancel); !r) {
    pump.kill_and_reap();
    return fail(std::move(r.error()).wrap("run " + argv0));
  }
  return pump.finish();
}

}  // namespace zlh::process
