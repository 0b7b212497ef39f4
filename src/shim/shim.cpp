#include "shim/shim.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <memory>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "proto/shim_protocol.hpp"

extern char** environ;

namespace zlh::shim {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kComp = "shim";
constexpr size_t kReadChunk = 64 * 1024;
// Output read per loop iteration before clients get their turn again.
constexpr size_t kReadBudget = 1 << 20;
constexpr size_t kInputLimit = 1 << 20;
// How long to wait for the output pipe/pty to reach EOF after the service
// exited, so the last lines come before EXIT even when the kernel has not
// pushed them yet; longer only if something else still holds it open.
constexpr milliseconds kDrainGrace{300};
constexpr milliseconds kAfterExitDelivered{1000};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool set_nonblock(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

struct Queued {
  std::string bytes;
  bool droppable = false;  // OUTPUT; STATUS/EXIT replies are never dropped
  bool is_exit = false;
};

struct Client {
  int fd = -1;
  uint64_t id = 0;
  Decoder decoder;
  bool attached = false;
  std::deque<Queued> queue;
  size_t queued_bytes = 0;
  size_t front_sent = 0;  // bytes of queue.front() already written
  uint64_t dropped_bytes = 0;
  uint64_t dropped_frames = 0;
  bool drop_logged = false;
  bool exit_delivered = false;
  bool dead = false;  // close at the end of this iteration
};

class Shim {
 public:
  explicit Shim(const Options& o) : o_(o), ring_(o.scrollback) {}
  ~Shim();
  int run();

 private:
  Result<void> setup_signals();
  Result<void> setup_socket();
  Result<void> start_service();
  void fail_setup(const Error& e);

  void loop();
  int next_timeout() const;
  void on_signals();
  void reap();
  void on_service_exit(int status);
  void finish_exit();
  void read_output(size_t budget);
  void write_input();
  void accept_clients();
  void read_client(Client& c);
  void handle_frame(Client& c, Frame& f);
  void flush_client(Client& c);
  void enqueue(Client& c, std::string bytes, bool droppable, bool is_exit = false);
  // With --backpressure: an attached client is over half its queue limit.
  bool paused() const;
  void broadcast_output(std::string_view data);
  void on_timers();

  void begin_stop(std::string_view reason);
  void kill_group(int sig);
  void write_state();
  std::string status_json() const { return to_json(st_); }
  size_t client_limit() const { return kClientQueueLimit + ring_.capacity(); }

  Options o_;
  Ring ring_;
  ShimStatus st_;
  int sig_fd_ = -1;
  int listen_fd_ = -1;
  ino_t socket_ino_ = 0;
  int out_fd_ = -1;  // pty master or the output pipe's read end
  int in_fd_ = -1;   // pty master (same fd) or the input pipe's write end
  bool out_open_ = false;
  std::string input_;
  size_t input_sent_ = 0;
  std::map<int, std::unique_ptr<Client>> clients_;
  uint64_t next_client_id_ = 1;

  bool service_running_ = false;
  bool exit_pending_ = false;  // reaped, draining output before EXIT
  int exit_status_ = 0;
  bool exited_ = false;
  bool quit_ = false;
  int stop_phase_ = 0;  // 0 none, 1 command/stop signal, 2 SIGTERM, 3 SIGKILL
  Clock::time_point stop_started_;
  std::optional<Clock::time_point> stop_deadline_;
  std::optional<Clock::time_point> drain_deadline_;
  std::optional<Clock::time_point> linger_deadline_;
};

Shim::~Shim() {
  for (auto& [fd, c] : clients_) ::close(fd);
  if (in_fd_ != out_fd_) close_fd(in_fd_);
  close_fd(out_fd_);
  close_fd(sig_fd_);
  if (listen_fd_ >= 0) {
    close_fd(listen_fd_);
    // Only remove the socket if it is still ours (not replaced by a newer shim).
    struct stat sb {};
    if (::lstat(o_.socket_path.c_str(), &sb) == 0 && sb.st_ino == socket_ino_)
      ::unlink(o_.socket_path.c_str());
  }
}

Result<void> Shim::setup_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
    return fail(Error::from_errno("sigprocmask", errno));
  ::signal(SIGPIPE, SIG_IGN);
  sig_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd_ < 0) return fail(Error::from_errno("signalfd", errno));
  return {};
}

Result<void> Shim::setup_socket() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (o_.socket_path.empty() || o_.socket_path.size() >= sizeof addr.sun_path)
    return fail(Error::invalid("socket", "socket path is empty or too long"));
  std::memcpy(addr.sun_path, o_.socket_path.c_str(), o_.socket_path.size() + 1);

  // A live shim already behind this path owns the service: refuse rather
  // than steal its socket. A stale socket file (its shim died) is replaced.
  if (auto probe = ShimClient::connect(o_.socket_path, milliseconds(0)); probe)
    return fail(codes::kConflict, "another shim is serving " + o_.socket_path);
  ::unlink(o_.socket_path.c_str());

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return fail(Error::from_errno("socket", errno));
  mode_t old = ::umask(077);  // the socket is created 0600: only root/the agent
  int r = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::umask(old);
  if (r != 0) return fail(Error::from_errno("bind " + o_.socket_path, err));
  if (::listen(listen_fd_, 16) != 0) return fail(Error::from_errno("listen", errno));
  struct stat sb {};
  if (::lstat(o_.socket_path.c_str(), &sb) == 0) socket_ino_ = sb.st_ino;
  return {};
}

Result<void> Shim::start_service() {
  process::SpawnOptions so;
  so.argv = o_.argv;
  if (o_.env) {
    so.env = *o_.env;
  } else {
    for (char** e = environ; e && *e; ++e) so.env.emplace_back(*e);
  }
  so.cwd = o_.cwd;
  so.uid = o_.uid;
  so.gid = o_.gid;
  so.user_name = o_.user;
  so.new_session = true;

  int slave = -1, out_w = -1, in_r = -1;
  if (o_.pty) {
    struct winsize ws {};
    ws.ws_col = o_.cols;
    ws.ws_row = o_.rows;
    int master = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0)
      return fail(Error::from_errno("openpty", errno));
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave, F_SETFD, FD_CLOEXEC);
    set_nonblock(master);
    // Like login(1): the terminal belongs to the user who runs on it, so
    // tools that reopen ttyname() work after the privilege drop.
    if (o_.uid &&
        (::fchown(slave, *o_.uid, o_.gid.value_or(gid_t(-1))) != 0 || ::fchmod(slave, 0620) != 0))
      log::warn(kComp, "cannot hand the pty to the service user", {{"error", strerror(errno)}});
    out_fd_ = in_fd_ = master;
    so.stdin_fd = so.stdout_fd = so.stderr_fd = slave;
    so.controlling_tty = true;
  } else {
    int out[2], in[2];
    if (auto p = process::open_pipes(out, in); !p) return fail(p.error());
    out_fd_ = out[0];
    out_w = out[1];
    in_r = in[0];
    in_fd_ = in[1];
    set_nonblock(out_fd_);
    set_nonblock(in_fd_);
    so.stdin_fd = in_r;
    so.stdout_fd = so.stderr_fd = out_w;
  }
  auto pid = process::spawn(so);
  // The service holds its ends now; ours must go so EOF/EIO means "gone".
  close_fd(slave);
  close_fd(out_w);
  close_fd(in_r);
  if (!pid) return fail(std::move(pid.error()));
  out_open_ = true;
  service_running_ = true;
  st_.pid = *pid;
  // The child cannot be reaped before our waitpid, so /proc/<pid> exists.
  if (auto t = proc_start_time(*pid); t) st_.pid_start_time = *t;
  st_.state = ShimState::kRunning;
  st_.started_at = log::now_rfc3339();
  return {};
}

void Shim::fail_setup(const Error& e) {
  log::error(kComp, "shim setup failed", {{"error", e.to_string()}});
  st_.state = ShimState::kExited;
  st_.error = e.to_string();
  st_.exited_at = log::now_rfc3339();
  write_state();
}

int Shim::run() {
  st_.name = o_.name;
  st_.shim_pid = ::getpid();
  st_.socket = o_.socket_path;
  if (auto t = proc_start_time(st_.shim_pid); t) st_.shim_start_time = *t;

  if (auto r = setup_signals(); !r) {
    fail_setup(r.error());
    return 1;
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    log::warn(kComp, "cannot become a child subreaper", {{"error", strerror(errno)}});
  if (auto r = setup_socket(); !r) {
    fail_setup(r.error().wrap("listen"));
    // Never unlink a socket another shim is serving.
    if (r.error().is(codes::kConflict)) close_fd(listen_fd_);
    return 1;
  }
  if (auto r = start_service(); !r) {
    fail_setup(r.error().wrap("start service"));
    return 1;
  }
  log::info(kComp, "service started", {{"pid", st_.pid}, {"argv0", o_.argv[0]}, {"pty", o_.pty}});
  write_state();
  loop();
  log::info(kComp, "shim exiting", {{"pid", st_.pid}});
  return 0;
}

int Shim::next_timeout() const {
  auto now = Clock::now();
  std::optional<Clock::time_point> next;
  for (auto& d : {stop_deadline_, drain_deadline_, linger_deadline_})
    if (d && (!next || *d < *next)) next = d;
  if (!next) return -1;
  auto ms = std::chrono::ceil<milliseconds>(*next - now).count();
  return int(std::clamp<long long>(ms, 0, INT_MAX));
}

void Shim::loop() {
  std::vector<pollfd> pfds;
  while (!quit_) {
    pfds.clear();
    pfds.push_back({sig_fd_, POLLIN, 0});
    pfds.push_back({clients_.size() < kMaxClients ? listen_fd_ : -1, POLLIN, 0});
    bool want_in = in_fd_ >= 0 && input_sent_ < input_.size();
    bool read_out = out_open_ && !paused();
    short out_ev = read_out ? POLLIN : 0;
    if (in_fd_ == out_fd_) {
      if (want_in) out_ev |= POLLOUT;
      pfds.push_back({out_ev ? out_fd_ : -1, out_ev, 0});
      pfds.push_back({-1, 0, 0});
    } else {
      pfds.push_back({read_out ? out_fd_ : -1, POLLIN, 0});
      pfds.push_back({want_in ? in_fd_ : -1, POLLOUT, 0});
    }
    for (auto& [fd, c] : clients_)
      pfds.push_back({fd, short(POLLIN | (c->queue.empty() ? 0 : POLLOUT)), 0});

    int r = ::poll(pfds.data(), pfds.size(), next_timeout());
    if (r < 0 && errno != EINTR) {
      log::error(kComp, "poll failed", {{"error", strerror(errno)}});
      return;
    }
    if (r > 0) {
      if (pfds[0].revents) on_signals();
      if (pfds[2].revents & (POLLIN | POLLHUP | POLLERR)) read_output(kReadBudget);
      if ((pfds[2].revents & POLLOUT) || (pfds[3].revents & (POLLOUT | POLLERR | POLLHUP)))
        write_input();
      for (size_t i = 4; i < pfds.size(); ++i) {
        if (!pfds[i].revents) continue;
        auto it = clients_.find(pfds[i].fd);
        if (it == clients_.end()) continue;
        Client& c = *it->second;
        if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_client(c);
        if (!c.dead && !c.queue.empty()) flush_client(c);
      }
      if (pfds[1].revents) accept_clients();
    }
    on_timers();
    for (auto it = clients_.begin(); it != clients_.end();) {
      Client& c = *it->second;
      if (!c.dead) {
        ++it;
        continue;
      }
      if (c.dropped_bytes)
        log::info(kComp, "client dropped output",
                  {{"client", c.id}, {"bytes", c.dropped_bytes}, {"frames", c.dropped_frames}});
      log::debug(kComp, "client disconnected", {{"client", c.id}});
      ::close(c.fd);
      it = clients_.erase(it);
    }
  }
  // Best effort: what the kernel takes now, without waiting for anyone.
  for (auto& [fd, c] : clients_) {
    flush_client(*c);
    if (c->dropped_bytes)
      log::info(kComp, "client dropped output",
                {{"client", c->id}, {"bytes", c->dropped_bytes}, {"frames", c->dropped_frames}});
  }
}

void Shim::on_signals() {
  signalfd_siginfo si;
  for (;;) {
    ssize_t n = ::read(sig_fd_, &si, sizeof si);
    if (n != ssize_t(sizeof si)) break;
    switch (si.ssi_signo) {
      case SIGCHLD:
        reap();
        break;
      case SIGTERM:
      case SIGINT:
        if (exited_ || exit_pending_) {
          log::info(kComp, "signal after exit: quitting", {{"signal", si.ssi_signo}});
          if (exited_) quit_ = true;
        } else {
          begin_stop(si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        }
        break;
      default:
        break;  // SIGHUP: the shim has no terminal; nothing to hang up
    }
  }
}

void Shim::reap() {
  if (service_running_) {
    // Leftovers of its group would hold the pty and collide with a restart:
    // SIGKILL them. Peek first (WNOWAIT): while the zombie exists its pid cannot be reused,
    // so killing its leftover group cannot hit an unrelated process.
    siginfo_t si{};
    if (::waitid(P_PID, id_t(st_.pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        si.si_pid == st_.pid) {
      ::kill(-st_.pid, SIGKILL);
      int status = 0;
      while (::waitpid(st_.pid, &status, 0) < 0 && errno == EINTR) {
      }
      on_service_exit(status);
    }
  }
  for (;;) {
    int status = 0;
    pid_t p = ::waitpid(-1, &status, WNOHANG);
    if (p < 0 && errno == EINTR) continue;
    if (p <= 0) return;
    log::debug(kComp, "reaped orphan", {{"pid", p}});
  }
}

void Shim::on_service_exit(int status) {
  service_running_ = false;
  exit_status_ = status;
  stop_deadline_.reset();
  exit_pending_ = true;
  drain_deadline_ = Clock::now() + kDrainGrace;
  read_output(16 * kReadBudget);  // finishes the exit itself when it reaches EOF
}

void Shim::finish_exit() {
  if (!exit_pending_) return;
  exit_pending_ = false;
  drain_deadline_.reset();
  exited_ = true;
  auto now = Clock::now();
  st_.state = ShimState::kExited;
  st_.exited_at = log::now_rfc3339();
  if (WIFEXITED(exit_status_)) st_.exit_code = WEXITSTATUS(exit_status_);
  if (WIFSIGNALED(exit_status_)) st_.signal = WTERMSIG(exit_status_);
  if (stop_phase_ > 0) {
    st_.graceful = stop_phase_ == 1;
    st_.stop_duration_ms = std::chrono::duration_cast<milliseconds>(now - stop_started_).count();
  }
  log::info(
      kComp, "service exited",
      {{"pid", st_.pid},
       {"exit_code", st_.exit_code ? nlohmann::json(*st_.exit_code) : nullptr},
       {"signal", st_.signal ? nlohmann::json(*st_.signal) : nullptr},
       {"graceful", st_.graceful ? nlohmann::json(*st_.graceful) : nullptr},
       {"duration_ms", st_.stop_duration_ms ? nlohmann::json(*st_.stop_duration_ms) : nullptr}});
  write_state();
  std::string frame;
  encode_into(frame, FrameType::kExit, status_json());
  for (auto& [fd, c] : clients_)
    if (!c->dead) enqueue(*c, frame, false, true);
  linger_deadline_ = now + o_.linger;
  // The service is gone: nothing will read pending input any more.
  input_.clear();
  input_sent_ = 0;
}

bool Shim::paused() const {
  if (!o_.backpressure) return false;
  for (const auto& [fd, c] : clients_)
    if (c->attached && !c->dead && c->queued_bytes > kClientQueueLimit / 2) return true;
  return false;
}

void Shim::read_output(size_t budget) {
  char buf[kReadChunk];
  size_t total = 0;
  while (out_open_ && total < budget && !paused()) {
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      total += size_t(n);
      std::string_view data(buf, size_t(n));
      ring_.append(data);
      broadcast_output(data);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    // EOF (pipe) or EIO (pty: every slave fd is closed).
    out_open_ = false;
  }
  if (exit_pending_ && !out_open_) finish_exit();
}

void Shim::broadcast_output(std::string_view data) {
  bool any = false;
  for (auto& [fd, c] : clients_) any = any || (c->attached && !c->dead);
  if (!any) return;
  std::string frame;
  encode_into(frame, FrameType::kOutput, data);
  for (auto& [fd, c] : clients_)
    if (c->attached && !c->dead) enqueue(*c, frame, true);
}

void Shim::write_input() {
  while (in_fd_ >= 0 && input_sent_ < input_.size()) {
    ssize_t n = ::write(in_fd_, input_.data() + input_sent_, input_.size() - input_sent_);
    if (n > 0) {
      input_sent_ += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    // EPIPE/EIO: nobody reads the input any more.
    log::debug(kComp, "input discarded", {{"bytes", input_.size() - input_sent_}});
    input_sent_ = input_.size();
  }
  if (input_sent_ == input_.size()) {
    input_.clear();
    input_sent_ = 0;
  }
}

void Shim::accept_clients() {
  while (clients_.size() < kMaxClients) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) log::warn(kComp, "accept failed", {{"error", strerror(errno)}});
      return;
    }
    auto c = std::make_unique<Client>();
    c->fd = fd;
    c->id = next_client_id_++;
    log::debug(kComp, "client connected", {{"client", c->id}});
    clients_[fd] = std::move(c);
  }
}

void Shim::read_client(Client& c) {
  char buf[kReadChunk];
  // Bounded so one chatty client cannot starve the loop.
  for (int i = 0; i < 16 && !c.dead; ++i) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      c.dead = true;
      return;
    }
    auto frames = c.decoder.feed(std::string_view(buf, size_t(n)));
    if (!frames) {
      log::warn(kComp, "protocol error: closing client",
                {{"client", c.id}, {"error", frames.error().to_string()}});
      c.dead = true;
      return;
    }
    for (auto& f : *frames) {
      if (c.dead) break;
      handle_frame(c, f);
    }
  }
}

void Shim::handle_frame(Client& c, Frame& f) {
  auto bad = [&](std::string_view why) {
    log::warn(kComp, "protocol error: closing client",
              {{"client", c.id}, {"frame", type_name(f.type)}, {"error", why}});
    c.dead = true;
  };
  switch (f.type) {
    case FrameType::kAttach: {
      if (f.payload.size() != 1) return bad("attach payload must be 1 byte");
      c.attached = true;
      if (uint8_t(f.payload[0]) & kAttachScrollback) {
        std::string snap = ring_.snapshot();
        for (size_t off = 0; off < snap.size(); off += kReadChunk) {
          std::string frame;
          encode_into(frame, FrameType::kOutput, std::string_view(snap).substr(off, kReadChunk));
          enqueue(c, std::move(frame), true);
        }
      }
      // A client attaching after the exit still learns about it.
      if (exited_) {
        std::string frame;
        encode_into(frame, FrameType::kExit, status_json());
        enqueue(c, std::move(frame), false, true);
      }
      return;
    }
    case FrameType::kInput:
      if (!service_running_) return;
      if (input_.size() - input_sent_ + f.payload.size() > kInputLimit) {
        log::warn(kComp, "input dropped: service is not reading",
                  {{"client", c.id}, {"bytes", f.payload.size()}});
        return;
      }
      input_.append(f.payload);
      write_input();
      return;
    case FrameType::kResize: {
      auto ws = parse_resize(f.payload);
      if (!ws) return bad(ws.error().message);
      if (!o_.pty || out_fd_ < 0) return;
      struct winsize w {};
      w.ws_col = ws->cols;
      w.ws_row = ws->rows;
      if (::ioctl(out_fd_, TIOCSWINSZ, &w) != 0)
        log::warn(kComp, "resize failed", {{"error", strerror(errno)}});
      return;
    }
    case FrameType::kSignal: {
      if (f.payload.size() != 1) return bad("signal payload must be 1 byte");
      int sig = uint8_t(f.payload[0]);
      if (sig < 1 || sig >= NSIG) return bad("bad signal number");
      if (service_running_) {
        log::info(kComp, "signal requested", {{"client", c.id}, {"signal", sig}});
        kill_group(sig);
      }
      return;
    }
    case FrameType::kStatus: {
      std::string frame;
      encode_into(frame, FrameType::kStatusReply, status_json());
      enqueue(c, std::move(frame), false);
      return;
    }
    case FrameType::kStop:
      if (exited_) {
        linger_deadline_ = Clock::now();
      } else {
        begin_stop("stop frame");
      }
      return;
    default:
      return bad("frame type not accepted from a client");
  }
}

void Shim::enqueue(Client& c, std::string bytes, bool droppable, bool is_exit) {
  c.queued_bytes += bytes.size();
  c.queue.push_back(Queued{std::move(bytes), droppable, is_exit});
  if (c.queued_bytes <= client_limit()) return;
  // Too slow: drop the oldest whole OUTPUT frames that have not started to
  // go out, never a partly written one and never a STATUS/EXIT reply.
  size_t i = c.front_sent > 0 ? 1 : 0;
  while (c.queued_bytes > client_limit() && i < c.queue.size()) {
    if (!c.queue[i].droppable) {
      ++i;
      continue;
    }
    c.queued_bytes -= c.queue[i].bytes.size();
    c.dropped_bytes += c.queue[i].bytes.size() - kHeaderSize;
    c.dropped_frames++;
    c.queue.erase(c.queue.begin() + ptrdiff_t(i));
  }
  // Once per client; the total is logged when it disconnects.
  if (c.dropped_frames > 0 && !c.drop_logged) {
    c.drop_logged = true;
    log::warn(kComp, "slow client: dropping its oldest output",
              {{"client", c.id}, {"bytes", c.dropped_bytes}});
  }
}

void Shim::flush_client(Client& c) {
  while (!c.queue.empty()) {
    Queued& q = c.queue.front();
    ssize_t n =
        ::send(c.fd, q.bytes.data() + c.front_sent, q.bytes.size() - c.front_sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      c.dead = true;
      return;
    }
    c.front_sent += size_t(n);
    if (c.front_sent < q.bytes.size()) continue;
    if (q.is_exit && !c.exit_delivered) {
      c.exit_delivered = true;
      // Someone (normally the agent) has the exit: no need to linger long.
      auto soon = Clock::now() + kAfterExitDelivered;
      if (linger_deadline_ && soon < *linger_deadline_) linger_deadline_ = soon;
    }
    c.queued_bytes -= q.bytes.size();
    c.front_sent = 0;
    c.queue.pop_front();
  }
}

void Shim::on_timers() {
  auto now = Clock::now();
  if (drain_deadline_ && now >= *drain_deadline_) {
    // Something outside the killed group still holds the output open; the
    // exit is reported anyway, later output still goes out as OUTPUT.
    read_output(kReadBudget);
    if (exit_pending_) finish_exit();
  }
  if (stop_deadline_ && now >= *stop_deadline_ && service_running_) {
    if (stop_phase_ == 1) {
      stop_phase_ = 2;
      log::warn(kComp, "stop timed out: sending SIGTERM", {{"pid", st_.pid}});
      kill_group(SIGTERM);
      stop_deadline_ = now + o_.term_timeout;
    } else if (stop_phase_ == 2) {
      stop_phase_ = 3;
      log::warn(kComp, "SIGTERM timed out: sending SIGKILL", {{"pid", st_.pid}});
      kill_group(SIGKILL);
      stop_deadline_.reset();
    }
  }
  if (linger_deadline_ && now >= *linger_deadline_) quit_ = true;
}

void Shim::begin_stop(std::string_view reason) {
  if (!service_running_ || stop_phase_ > 0) return;
  stop_phase_ = 1;
  stop_started_ = Clock::now();
  stop_deadline_ = stop_started_ + o_.stop_timeout;
  st_.state = ShimState::kStopping;
  log::info(kComp, "stopping service",
            {{"pid", st_.pid},
             {"reason", reason},
             {"command", !o_.stop_command.empty()},
             {"signal", o_.stop_signal}});
  if (!o_.stop_command.empty()) {
    input_.append(o_.stop_command);
    input_.push_back('\n');
    write_input();
  } else {
    kill_group(o_.stop_signal);
  }
  write_state();
}

void Shim::kill_group(int sig) {
  if (st_.pid > 0 && ::kill(-st_.pid, sig) != 0 && errno == ESRCH)
    ::kill(st_.pid, sig);  // it left its process group; reach it at least
}

void Shim::write_state() {
  if (o_.state_path.empty()) return;
  if (auto r = fs::write_file_atomic(o_.state_path, status_json() + "\n", 0600); !r)
    log::error(kComp, "cannot write the state file", {{"error", r.error().to_string()}});
}

}  // namespace

int run(const Options& o) {
  // Own session: the agent's death, its terminal or its process group
  // signals never reach the shim. EPERM when already a session leader
  // (process::spawn's new_session): fine.
  ::setsid();
  log::set_base_fields({{"name", o.name}});
  Shim shim(o);
  return shim.run();
}

}  // namespace zlh::shim
