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
//     `stop`), waits for them, and at --stop-timeout (default 42 s: a
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

}  // namespace

int main(int argc, char** argv) {
  // A container's usual umask, whatever the process that started liblxc had
  // (zlh-api runs with 077): runtimes and workspaces must be readable by dev.
  ::umask(022);
  int port = 18888;
  double stop_timeout = 42;
  std::vector<std::string> agent;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc)
      port = std::atoi(argv[++i]);
    else if (a == "--stop-timeout" && i + 1 < argc)
      stop_timeout = std::atof(argv[++i]);
    else if (a == "--log" && i + 1 < argc)
      g_log = argv[++i];
    else if (a == "--") {
      for (++i; i < argc; ++i) agent.push_back(argv[i]);
    } else {
      std::fprintf(stderr, "zlh-init: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (agent.empty() || port <= 0 || port > 65535 || stop_timeout <= 0) {
    std::fprintf(stderr,
                 "usage: zlh-init [--port N] [--stop-timeout S] [--log FILE] -- AGENT [ARGS...]\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGPWR, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  int listener = open_listener(port);
  if (sfd < 0 || listener < 0) {
    say("ERROR",
        "cannot open the agent's listener or the signal fd: " + std::string(std::strerror(errno)));
    return 1;
  }
  pid_t agent_pid = start_agent(agent, listener);
  double agent_started = now_s();
  double backoff = 1, respawn_at = -1;
  bool stopping = false;
  double deadline = 0;
  std::vector<pid_t> shims;
  say("INFO", "init started, agent pid " + std::to_string(agent_pid));
  for (;;) {
    double now = now_s();
    int timeout_ms = -1;
    if (stopping)
      timeout_ms = 100;
    else if (respawn_at > 0)
      timeout_ms = std::max(0, int((respawn_at - now) * 1000));
    pollfd p{sfd, POLLIN, 0};
    ::poll(&p, 1, timeout_ms);
    signalfd_siginfo si{};
    while (::read(sfd, &si, sizeof si) == ssize_t(sizeof si)) {
      if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGPWR || si.ssi_signo == SIGINT) &&
          !stopping) {
        stopping = true;
        deadline = now_s() + stop_timeout;
        say("INFO", "container shutdown: stopping the agent and the services");
        if (alive(agent_pid)) ::kill(agent_pid, SIGTERM);
        shims = shim_pids();
        for (pid_t s : shims) ::kill(s, SIGTERM);
      }
    }
    // Reap everything (we are PID 1: orphans land here).
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(-1, &status, WNOHANG);
      if (r <= 0) break;
      if (r == agent_pid) {
        agent_pid = 0;
        if (!stopping) {
          if (now_s() - agent_started > 60) backoff = 1;
          respawn_at = now_s() + backoff;
          say("WARN", "agent exited (status " + std::to_string(status) + "), restarting in " +
                          std::to_string(int(backoff)) + " s");
          backoff = std::min(backoff * 2, 30.0);
        }
      }
    }
    now = now_s();
    if (!stopping && agent_pid == 0 && respawn_at > 0 && now >= respawn_at) {
      agent_pid = start_agent(agent, listener);
      agent_started = now;
      respawn_at = -1;
    }
    if (stopping) {
      bool left = alive(agent_pid);
      for (pid_t s : shims) left = left || alive(s);
      if (!left || now >= deadline) {
        if (left) say("WARN", "stop timeout: killing what is left");
        ::kill(-1, SIGKILL);  // everything in the container but us
        while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
        }
        say("INFO", "container stopped");
        return 0;
      }
    }
  }
}
