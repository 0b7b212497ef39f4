// zlh-init: PID 1 of an lxc-driver container (docs/drivers.md, "Inside the
// container").
//
//   zlh-init [--port N] [--stop-timeout S] [--log FILE] -- AGENT [ARGS...]
//
// What it does, single-threaded, with every signal taken through one
// signalfd:
//   - opens the agent's listening socket 0.0.0.0:<port> ONCE, before any
//     agent runs, and hands it to every agent it starts as fd 3
//     (`--listen-fd 3`): while the agent restarts nobody else (the dev user)
//     can bind the port, so the API never talks to a squatter;
//   - runs the agent (argv after "--") with stdout and stderr appended to
//     --log, and restarts it when it exits, with backoff (1 s doubling to
//     30 s; back to 1 s after 60 s of running). It never touches the
//     services: they live under zlh-shim holders, which the new agent finds
//     again (reattach);
//   - reaps every orphan (it is PID 1 of the container's pid namespace);
//   - on SIGPWR (liblxc's shutdown) or SIGTERM: stops respawning, sends
//     SIGTERM to the agent, then to each shim recorded in /run/zlh/*.json
//     (each shim applies its service's catalog stop policy, e.g. Minecraft's
//     `stop`; the SIGTERM is repeated every second so that a shim whose
//     service has exited does not linger), waits for them, and at --stop-timeout (default 42 s: a
//     Minecraft stop's 30 + 10 s and a margin) sends SIGKILL to everything
//     left in the container, then exits, which ends the container.
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proto/shim_protocol.hpp"

namespace {

constexpr int kListenFd = 3;
std::string g_log = "/var/log/zlh-agent.log";

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

void say(const char* level, const std::string& msg) {
  // One JSON line in the agent's log, in the shape of docs/design.md §13.
  std::string line =
      std::string("{\"level\":\"") + level + "\",\"component\":\"init\",\"msg\":\"" + msg + "\"}\n";
  int fd = ::open(g_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) fd = 2;
  (void)!::write(fd, line.data(), line.size());
  if (fd != 2) ::close(fd);
}

int open_listener(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

pid_t start_agent(const std::vector<std::string>& argv, int listener) {
  std::vector<std::string> args = argv;
  args.push_back("--listen-fd");
  args.push_back(std::to_string(kListenFd));
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int log = ::open(g_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  pid_t pid = ::fork();
  if (pid != 0) {
    if (log >= 0) ::close(log);
    return pid;
  }
  // Child: a clean signal state, fds 0-2 and the listener as 3, nothing else.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) signal(s, SIG_DFL);
  ::setsid();
  int devnull = ::open("/dev/null", O_RDONLY);
  ::dup2(devnull >= 0 ? devnull : 0, 0);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
  }
  ::dup2(listener, kListenFd);  // dup2 clears FD_CLOEXEC on the copy
  ::close_range(kListenFd + 1, ~0U, 0);
  static char path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static char home[] = "HOME=/root";
  static char lang[] = "LANG=C.UTF-8";
  char* envp[] = {path, home, lang, nullptr};
  ::execve(cargv[0], cargv.data(), envp);
  _exit(127);
}

// Shim pids from /run/zlh/*.json (proto/shim_protocol.hpp).
std::vector<pid_t> shim_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/run/zlh");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.compare(n.size() - 5, 5, ".json") != 0) continue;
    FILE* f = std::fopen(("/run/zlh/" + n).c_str(), "re");
    if (!f) continue;
    std::string body(64 * 1024, '\0');
    body.resize(std::fread(body.data(), 1, body.size(), f));
    std::fclose(f);
    if (auto st = zlh::shim::parse_status(body); st && st->shim_pid > 1)
      out.push_back(st->shim_pid);
  }
  ::closedir(d);
  return out;
}

bool alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

struct Options {
  int port = 18888;
  double stop_timeout = 42;
  std::vector<std::string> agent;
};

// The command line; false (after a message on stderr) when it is not valid.
bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc)
      o.port = std::atoi(argv[++i]);
    else if (a == "--stop-timeout" && i + 1 < argc)
      o.stop_timeout = std::atof(argv[++i]);
    else if (a == "--log" && i + 1 < argc)
      g_log = argv[++i];
    else if (a == "--") {
      for (++i; i < argc; ++i) o.agent.push_back(argv[i]);
    } else {
      std::fprintf(stderr, "zlh-init: unknown argument %s\n", a.c_str());
      return false;
    }
  }
  if (o.agent.empty() || o.port <= 0 || o.port > 65535 || o.stop_timeout <= 0) {
    std::fprintf(stderr,
                 "usage: zlh-init [--port N] [--stop-timeout S] [--log FILE] -- AGENT [ARGS...]\n");
    return false;
  }
  return true;
}

// The agent's life and the container's shutdown, driven by the main loop.
class Init {
 public:
  Init(const Options& o, int listener) : o_(o), listener_(listener) {}

  void start() {
    agent_pid_ = start_agent(o_.agent, listener_);
    agent_started_ = now_s();
    say("INFO", "init started, agent pid " + std::to_string(agent_pid_));
  }

  // How long the loop may sleep in poll: a respawn or a stop is due.
  int poll_timeout_ms(double now) const {
    if (stopping_) return 100;
    if (respawn_at_ > 0) return std::max(0, int((respawn_at_ - now) * 1000));
    return -1;
  }

  // The first SIGTERM, SIGPWR or SIGINT: TERM to the agent and every shim.
  void take_signals(int sfd) {
    signalfd_siginfo si{};
    while (::read(sfd, &si, sizeof si) == ssize_t(sizeof si)) {
      if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGPWR || si.ssi_signo == SIGINT) &&
          !stopping_) {
        stopping_ = true;
        deadline_ = now_s() + o_.stop_timeout;
        say("INFO", "container shutdown: stopping the agent and the services");
        if (alive(agent_pid_)) ::kill(agent_pid_, SIGTERM);
        shims_ = shim_pids();
        for (pid_t s : shims_) ::kill(s, SIGTERM);
        last_term_ = now_s();
      }
    }
  }

  // Reaps everything (we are PID 1: orphans land here); an agent exit
  // schedules its respawn with backoff unless stopping.
  void reap() {
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(-1, &status, WNOHANG);
      if (r <= 0) break;
      if (r != agent_pid_) continue;
      agent_pid_ = 0;
      if (stopping_) continue;
      if (now_s() - agent_started_ > 60) backoff_ = 1;
      respawn_at_ = now_s() + backoff_;
      say("WARN", "agent exited (status " + std::to_string(status) + "), restarting in " +
                      std::to_string(int(backoff_)) + " s");
      backoff_ = std::min(backoff_ * 2, 30.0);
    }
  }

  void respawn_if_due(double now) {
    if (stopping_ || agent_pid_ != 0 || respawn_at_ <= 0 || now < respawn_at_) return;
    agent_pid_ = start_agent(o_.agent, listener_);
    agent_started_ = now;
    respawn_at_ = -1;
  }

  // Stopping and nothing left (or the stop timeout): kills everything in
  // the container but us, reaps it, true: time to exit.
  bool stop_finished(double now) {
    if (!stopping_) return false;
    term_lingering_shims(now);
    bool left = alive(agent_pid_);
    for (pid_t s : shims_) left = left || alive(s);
    if (left && now < deadline_) return false;
    if (left) say("WARN", "stop timeout: killing what is left");
    ::kill(-1, SIGKILL);  // everything in the container but us
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    say("INFO", "container stopped");
    return true;
  }

 private:
  // A shim keeps serving for a while after its service exited (its linger,
  // for the agent to read the exit), but the agent is gone now. A repeated
  // SIGTERM, once a second, makes such a shim quit at once; a shim still
  // stopping its service ignores the repeat (its stop policy runs once).
  void term_lingering_shims(double now) {
    if (now - last_term_ < 1) return;
    last_term_ = now;
    for (pid_t s : shims_)
      if (alive(s)) ::kill(s, SIGTERM);
  }

  const Options& o_;
  int listener_;
  pid_t agent_pid_ = 0;
  double agent_started_ = 0;
  double backoff_ = 1, respawn_at_ = -1;
  bool stopping_ = false;
  double deadline_ = 0;
  double last_term_ = 0;
  std::vector<pid_t> shims_;
};

}  // namespace

int main(int argc, char** argv) {
  // A container's usual umask, whatever the process that started liblxc had
  // (zlh-api runs with 077): runtimes and workspaces must be readable by dev.
  ::umask(022);
  Options o;
  if (!parse_args(argc, argv, o)) return 2;
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGPWR, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  int listener = open_listener(o.port);
  if (sfd < 0 || listener < 0) {
    say("ERROR",
        "cannot open the agent's listener or the signal fd: " + std::string(std::strerror(errno)));
    return 1;
  }
  Init init(o, listener);
  init.start();
  for (;;) {
    pollfd p{sfd, POLLIN, 0};
    ::poll(&p, 1, init.poll_timeout_ms(now_s()));
    init.take_signals(sfd);
    init.reap();
    double now = now_s();
    init.respawn_if_due(now);
    if (init.stop_finished(now)) return 0;
  }
}
