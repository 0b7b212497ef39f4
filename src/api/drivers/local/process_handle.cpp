#include "api/drivers/local/process_handle.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "proto/shim_protocol.hpp"

namespace zlh::api::drivers {
namespace {

#ifndef P_PIDFD
constexpr idtype_t kPidfdIdType = idtype_t(3);
#else
constexpr idtype_t kPidfdIdType = P_PIDFD;
#endif

int pidfd_open(pid_t pid) { return int(::syscall(SYS_pidfd_open, pid, 0)); }

// Whole content of a /proc file (they report size 0), at most `cap` bytes.
std::optional<std::string> read_proc(int dirfd, const char* name, size_t cap) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
    if (out.size() >= cap) break;
  }
  ::close(fd);
  return out;
}

std::optional<std::string> read_link(int dirfd, const char* name) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(dirfd, name, buf, sizeof buf);
  if (n <= 0) return std::nullopt;
  return std::string(buf, size_t(n));
}

}  // namespace

ProcessHandle::~ProcessHandle() {
  if (fd_ >= 0) ::close(fd_);
}

ProcessHandle::ProcessHandle(ProcessHandle&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), pid_(o.pid_), start_time_(o.start_time_) {}

ProcessHandle& ProcessHandle::operator=(ProcessHandle&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    pid_ = o.pid_;
    start_time_ = o.start_time_;
  }
  return *this;
}

Result<ProcessHandle> ProcessHandle::open(pid_t pid, std::optional<uint64_t> start_time,
                                          bool allow_exited) {
  if (pid <= 0) return fail(codes::kNotFound, "no process " + std::to_string(pid));
  int fd = pidfd_open(pid);
  if (fd < 0) {
    if (errno == ESRCH) return fail(codes::kNotFound, "no process " + std::to_string(pid));
    return fail(Error::from_errno("pidfd_open " + std::to_string(pid), errno));
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ProcessHandle h;
  h.fd_ = fd;
  h.pid_ = pid;
  // Read after the pidfd is held: if the process is still alive afterwards,
  // the pid cannot have been reused in between, so this is its start time.
  // An exited one may have been reaped and its pid reused: only the
  // caller's start time can tell (hence allow_exited needs one).
  auto st = shim::proc_start_time(pid);
  bool alive = h.alive();
  if (!st || (!alive && (!allow_exited || !start_time)))
    return fail(codes::kNotFound, "no process " + std::to_string(pid));
  if (start_time && *st != *start_time)
    return fail(codes::kNotFound, "process " + std::to_string(pid) + " is another process now");
  h.start_time_ = *st;
  return h;
}

bool ProcessHandle::alive() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r == 0;
}

Result<bool> ProcessHandle::signal(int sig) const {
  // The kernel accepts signals for zombies; they reach nobody.
  if (fd_ < 0 || !alive()) return false;
  if (::syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0) == 0) return true;
  if (errno == ESRCH) return false;
  return fail(
      Error::from_errno("signal " + std::to_string(sig) + " to " + std::to_string(pid_), errno));
}

Result<bool> ProcessHandle::signal_group(int sig) const {
  // While the leader lives (or is an unreaped zombie) its pid, and so the
  // group id, cannot be handed to anyone else.
  if (!alive() || ::getpgid(pid_) != pid_) return false;
  if (::kill(-pid_, sig) == 0) return true;
  if (errno == ESRCH) return false;
  return fail(Error::from_errno(
      "signal " + std::to_string(sig) + " to group " + std::to_string(pid_), errno));
}

std::vector<std::string> ProcessHandle::argv() const {
  std::vector<std::string> out;
  if (!alive()) return out;
  std::string path = "/proc/" + std::to_string(pid_);
  int dir = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return out;
  auto text = read_proc(dir, "cmdline", 1 << 20);
  ::close(dir);
  // Read while alive (checked after): the pid was still this process's.
  if (!text || !alive()) return out;
  std::string_view v = *text;
  while (!v.empty()) {
    size_t end = v.find('\0');
    out.emplace_back(v.substr(0, end));
    if (end == std::string_view::npos) break;
    v.remove_prefix(end + 1);
  }
  return out;
}

bool ProcessHandle::wait_exit(std::chrono::milliseconds timeout) const {
  if (fd_ < 0) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, int(std::clamp<long long>(left.count(), 0, INT_MAX)));
    if (r > 0) return true;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return !alive();
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

void ProcessHandle::reap_if_child() const {
  if (fd_ < 0 || alive()) return;
  siginfo_t si{};
  // ECHILD for processes that are not ours: nothing to do.
  while (::waitid(kPidfdIdType, id_t(fd_), &si, WEXITED | WNOHANG) < 0 && errno == EINTR) {
  }
}

size_t wait_all_exit(const std::vector<ProcessHandle*>& procs,
                     std::chrono::steady_clock::time_point deadline) {
  size_t left = 0;
  for (ProcessHandle* p : procs) {
    auto now = std::chrono::steady_clock::now();
    auto budget = now < deadline ? std::chrono::ceil<std::chrono::milliseconds>(deadline - now)
                                 : std::chrono::milliseconds(0);
    if (!p->wait_exit(budget))
      ++left;
    else
      p->reap_if_child();
  }
  return left;
}

bool path_inside(std::string_view path, std::string_view dir) {
  if (dir.empty() || !path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

bool environ_mentions(std::string_view environ, std::string_view dir) {
  while (!environ.empty()) {
    size_t end = environ.find('\0');
    std::string_view entry = environ.substr(0, end);
    environ.remove_prefix(end == std::string_view::npos ? environ.size() : end + 1);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view value = entry.substr(eq + 1);
    while (true) {
      size_t colon = value.find(':');
      if (path_inside(value.substr(0, colon), dir)) return true;
      if (colon == std::string_view::npos) break;
      value.remove_prefix(colon + 1);
    }
  }
  return false;
}

namespace {

// The index in `dirs` of the first directory the process at `pdir` belongs
// to, or -1.
int owning_dir(int pdir, const std::vector<std::string>& dirs) {
  for (const char* link : {"cwd", "root", "exe"}) {
    auto target = read_link(pdir, link);
    // The root link of an ordinary process is "/", which is inside
    // nothing but "/" itself.
    if (!target) continue;
    for (size_t i = 0; i < dirs.size(); ++i)
      if (path_inside(*target, dirs[i])) return int(i);
  }
  auto env = read_proc(pdir, "environ", 1 << 20);
  if (!env) return -1;
  for (size_t i = 0; i < dirs.size(); ++i)
    if (environ_mentions(*env, dirs[i])) return int(i);
  return -1;
}

}  // namespace

std::vector<std::vector<ProcessHandle>> processes_inside_each(
    const std::vector<std::string>& dirs) {
  std::vector<std::vector<ProcessHandle>> found(dirs.size());
  if (dirs.empty()) return found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end != '\0' || pid <= 0 || pid == self) continue;
    auto h = ProcessHandle::open(pid_t(pid));
    if (!h) continue;
    int pdir = ::openat(::dirfd(proc), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pdir < 0) continue;
    const int at = owning_dir(pdir, dirs);
    ::close(pdir);
    // Still the process the handle holds: the reads above were about it.
    if (at >= 0 && h->alive()) found[size_t(at)].push_back(std::move(*h));
  }
  ::closedir(proc);
  return found;
}

std::vector<ProcessHandle> processes_inside(const std::string& dir) {
  return std::move(processes_inside_each({dir})[0]);
}

}  // namespace zlh::api::drivers
