// Integration tests of the real zlh-shim binary (docs/design.md §6, §7): PTY and
// pipe services, scrollback, fan-out with a stalled client, the stop
// policy, surviving its parent and its clients, the state file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "base/fs.hpp"
#include "base/process.hpp"
#include "harness.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::shim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using zlh::testing::bin_dir;
using zlh::testing::eventually;
using zlh::testing::make_temp_dir;

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C", "TERM=dumb"};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Field 22 of /proc/<pid>/stat, parsed independently of proc_start_time().
uint64_t start_time_of(pid_t pid) {
  std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(s.substr(s.rfind(')') + 2));
  std::string tok;
  for (int field = 3; field <= 22; ++field) in >> tok;
  return std::stoull(tok);
}

bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t p = s.rfind(')');
  return p != std::string::npos && p + 2 < s.size() && s[p + 2] != 'Z';
}

// The shim command line for one test.
std::vector<std::string> shim_argv(const std::string& dir, std::vector<std::string> flags,
                                   std::vector<std::string> cmd) {
  std::vector<std::string> a = {
      bin_dir() + "/zlh-shim", "--name",       "svc", "--socket", dir + "/shim.sock", "--state",
      dir + "/state.json",     "--log-format", "json"};
  a.insert(a.end(), flags.begin(), flags.end());
  a.push_back("--");
  a.insert(a.end(), cmd.begin(), cmd.end());
  return a;
}

// Orphans (the shim of a killed "agent", services of a killed shim) are
// reparented to the test process, which reaps them instead of leaving
// zombies behind.
void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

// A zlh-shim started the way the agent starts it: process::spawn, own
// session, stdio /dev/null but stderr on a log file. The destructor kills
// whatever is left (service group first, then the shim).
class Shim {
 public:
  Shim(std::vector<std::string> flags, std::vector<std::string> cmd, std::string tag = "shim")
      : dir_(make_temp_dir(tag)) {
    become_subreaper();
    process::SpawnOptions o;
    o.argv = shim_argv(dir_, std::move(flags), std::move(cmd));
    o.env = kEnv;
    o.cwd = dir_;
    int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    o.stderr_fd = log_fd;
    auto pid = process::spawn(o);
    ::close(log_fd);
    if (!pid) throw std::runtime_error(pid.error().to_string());
    pid_ = *pid;
  }
  // Adopts a shim started elsewhere (an orphan reparented to this process).
  Shim(std::string dir, pid_t pid) : dir_(std::move(dir)), pid_(pid) { become_subreaper(); }
  ~Shim() {
    if (auto st = state(); st && st->pid > 0 && st->state != shim::ShimState::kExited)
      ::kill(-st->pid, SIGKILL);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    // Services orphaned by the killed shim were reparented to us: reap them.
    eventually([] { return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD; }, 3s);
    if (!::testing::Test::HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    } else {
      std::cerr << "shim dir kept: " << dir_ << "\n--- shim log ---\n" << slurp(log_path());
    }
  }

  const std::string& dir() const { return dir_; }
  std::string socket() const { return dir_ + "/shim.sock"; }
  std::string state_path() const { return dir_ + "/state.json"; }
  std::string log_path() const { return dir_ + "/shim.log"; }
  pid_t pid() const { return pid_; }

  std::optional<ShimStatus> state() const {
    auto text = fs::read_file(state_path());
    if (!text) return std::nullopt;
    auto st = parse_status(*text);
    if (!st) return std::nullopt;
    return *st;
  }

  ShimClient connect() const {
    auto c = ShimClient::connect(socket(), 10s);
    EXPECT_TRUE(c) << c.error().to_string();
    return c ? std::move(*c) : ShimClient();
  }

  // Waits for the shim to exit; its exit code, or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout) {
    int status = 0;
    bool done = eventually(
        [&] {
          pid_t r = ::waitpid(pid_, &status, WNOHANG);
          return r == pid_;
        },
        timeout);
    if (!done) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// A client that accumulates OUTPUT and remembers EXIT.
struct Reader {
  ShimClient c;
  std::string out;
  uint64_t bytes = 0;
  std::optional<ShimStatus> exit;

  // Reads frames until pred() holds or the deadline passes.
  bool until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (!pred()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      auto f = c.read_frame(left);
      if (!f) {
        if (f.error().is(codes::kTimeout)) continue;
        return pred();
      }
      if (f->type == FrameType::kOutput) {
        bytes += f->payload.size();
        out += f->payload;
        if (out.size() > (16u << 20)) out.erase(0, out.size() - (8u << 20));  // keep the tail
      } else if (f->type == FrameType::kExit) {
        auto st = parse_status(f->payload);
        EXPECT_TRUE(st);
        if (st) exit = *st;
      }
    }
    return true;
  }
  bool saw(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    return until([&] { return out.find(needle) != std::string::npos; }, timeout);
  }
  bool exited(std::chrono::milliseconds timeout = 10s) {
    return until([&] { return exit.has_value(); }, timeout);
  }
};

Reader attach(const Shim& s, bool scrollback = true) {
  Reader r;
  r.c = s.connect();
  auto sent =
      r.c.send(FrameType::kAttach, std::string(1, char(scrollback ? kAttachScrollback : 0)));
  EXPECT_TRUE(sent) << sent.error().to_string();
  return r;
}

void input(Reader& r, const std::string& text) {
  auto sent = r.c.send(FrameType::kInput, text);
  EXPECT_TRUE(sent) << sent.error().to_string();
}

TEST(Shim, PtyInteractiveShell) {
  Shim s({"--pty", "--cols", "120", "--rows", "40", "--linger", "5"},
         {"/bin/bash", "--noprofile", "--norc", "-i"});
  Reader r = attach(s);
  input(r, "echo mark-$((6*7))\n");
  ASSERT_TRUE(r.saw("mark-42")) << r.out;
  // A controlling terminal: job control works, and the terminal is a pty.
  EXPECT_EQ(r.out.find("no job control"), std::string::npos) << r.out;
  input(r, "tty\n");
  ASSERT_TRUE(r.until([&] { return std::regex_search(r.out, std::regex("/dev/pts/[0-9]+")); }))
      << r.out;
  input(r, "stty size\n");
  ASSERT_TRUE(r.saw("40 120")) << r.out;
  ASSERT_TRUE(r.c.send(FrameType::kResize, resize_payload(100, 30)));
  input(r, "stty size\n");
  ASSERT_TRUE(r.saw("30 100")) << r.out;

  input(r, "exit 5\n");
  ASSERT_TRUE(r.exited()) << r.out;
  EXPECT_EQ(r.exit->state, shim::ShimState::kExited);
  EXPECT_EQ(r.exit->exit_code, 5);
  EXPECT_FALSE(r.exit->signal);
  EXPECT_FALSE(r.exit->graceful);  // not stopped: no verdict
  // Delivered to a client: the shim leaves ~1 s later, exit code 0.
  EXPECT_EQ(s.wait_exit(5s), 0);
  auto st = s.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, shim::ShimState::kExited);
  EXPECT_EQ(st->exit_code, 5);
  EXPECT_FALSE(std::filesystem::exists(s.socket()));
}

TEST(Shim, OutputWhileDetachedIsInTheScrollback) {
  auto marker_dir = make_temp_dir("shim-marker");
  Shim s({"--pipes"}, {"/bin/sh", "-c",
                       "echo early-output; echo to-stderr >&2; touch " + marker_dir +
                           "/printed; exec sleep 60"});
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(marker_dir + "/printed"); }));
  std::filesystem::remove_all(marker_dir);
  {
    Reader r = attach(s, true);
    ASSERT_TRUE(r.saw("to-stderr")) << r.out;
    EXPECT_LT(r.out.find("early-output"), r.out.find("to-stderr"));
  }
  {
    // Without the scrollback flag only new output arrives (nothing here).
    Reader r = attach(s, false);
    auto st = r.c.status();
    ASSERT_TRUE(st) << st.error().to_string();
    EXPECT_EQ(st->state, shim::ShimState::kRunning);
    EXPECT_FALSE(r.until([&] { return !r.out.empty(); }, 300ms)) << r.out;
  }
  Reader again = attach(s, true);
  EXPECT_TRUE(again.saw("early-output"));
}

TEST(Shim, FanOutWithAStalledClient) {
  auto go = make_temp_dir("shim-go");
  Shim s({"--pipes", "--linger", "10"},
         {"/bin/sh", "-c",
          "while [ ! -e " + go +
              "/go ]; do sleep 0.05; done; echo flood-start; "
              "yes | head -c 50000000; echo; echo flood-end; exit 7"});
  // A client that attaches and then never reads a byte.
  Reader stalled = attach(s);
  Reader r1 = attach(s), r2 = attach(s);
  // STATUS round trips prove the attaches were processed before the flood.
  ASSERT_TRUE(r1.c.status());
  ASSERT_TRUE(r2.c.status());
  ASSERT_TRUE(stalled.c.status());
  std::ofstream(go + "/go").close();

  std::atomic<bool> ok2{false};
  std::thread t([&] { ok2 = r2.exited(60s); });
  bool ok1 = r1.exited(60s);
  t.join();
  std::filesystem::remove_all(go);
  ASSERT_TRUE(ok1);
  ASSERT_TRUE(ok2);
  EXPECT_EQ(r1.exit->exit_code, 7);
  EXPECT_EQ(r2.exit->exit_code, 7);
  // 50 MB went through while one client read nothing: the stall blocked
  // neither the service nor the readers. Readers slower than the flood may
  // lose old output too, but always keep the newest (the end of the flood).
  for (Reader* r : {&r1, &r2}) {
    EXPECT_GT(r->bytes, 1u << 20);
    EXPECT_NE(r->out.find("flood-end"), std::string::npos);
  }
  EXPECT_NE(slurp(s.log_path()).find("slow client"), std::string::npos);
  // The stalled client still gets the EXIT (never dropped), after whatever
  // output of the flood survived in its queue.
  ASSERT_TRUE(stalled.exited(30s));
  EXPECT_EQ(stalled.exit->exit_code, 7);
  EXPECT_LT(stalled.bytes, 50000000u);
  EXPECT_EQ(s.wait_exit(15s), 0);
}

TEST(Shim, BackpressureMakesTheServiceWaitForASlowClient) {
  // An interactive session (--backpressure): a client that reads slowly gets
  // every byte of a flood, because the service is paused instead.
  auto go = make_temp_dir("shim-go");
  Shim s({"--pipes", "--backpressure", "--linger", "10"},
         {"/bin/sh", "-c",
          "while [ ! -e " + go +
              "/go ]; do sleep 0.05; done; head -c 20000000 /dev/zero; echo flood-end; exit 0"});
  Reader r = attach(s);
  ASSERT_TRUE(r.c.status());
  std::ofstream(go + "/go").close();
  // Slow: a pause now and then, long enough for the shim to have run far ahead.
  int reads = 0;
  bool done = r.until(
      [&] {
        if (++reads % 50 == 0) std::this_thread::sleep_for(20ms);
        return r.exit.has_value();
      },
      120s);
  std::filesystem::remove_all(go);
  ASSERT_TRUE(done);
  EXPECT_EQ(r.bytes, 20000000u + std::string("flood-end\n").size());
  EXPECT_EQ(slurp(s.log_path()).find("dropping"), std::string::npos);
}

TEST(Shim, StopCommandIsGraceful) {
  Shim s({"--pipes", "--stop-command", "stop", "--stop-timeout", "5", "--term-timeout", "5"},
         {"/bin/sh", "-c",
          "echo ready; while read l; do if [ \"$l\" = stop ]; then echo saving; exit 0; fi; "
          "done"});
  Reader r = attach(s);
  ASSERT_TRUE(r.saw("ready"));
  ASSERT_TRUE(r.c.send(FrameType::kStop));
  ASSERT_TRUE(r.exited(10s)) << r.out;
  EXPECT_NE(r.out.find("saving"), std::string::npos);
  EXPECT_EQ(r.exit->exit_code, 0);
  EXPECT_EQ(r.exit->graceful, true);
  ASSERT_TRUE(r.exit->stop_duration_ms);
  EXPECT_LT(*r.exit->stop_duration_ms, 5000);
  EXPECT_EQ(s.wait_exit(5s), 0);
  auto st = s.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->graceful, true);
}

TEST(Shim, StopEscalatesToKill) {
  Shim s({"--pipes", "--stop-command", "stop", "--stop-timeout", "1", "--term-timeout", "1"},
         {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"});
  Reader r = attach(s);
  ASSERT_TRUE(r.saw("ready"));
  auto t0 = Clock::now();
  ASSERT_TRUE(r.c.send(FrameType::kStop));
  ASSERT_TRUE(r.exited(10s)) << r.out;
  auto took = Clock::now() - t0;
  EXPECT_EQ(r.exit->signal, SIGKILL);
  EXPECT_FALSE(r.exit->exit_code);
  EXPECT_EQ(r.exit->graceful, false);
  ASSERT_TRUE(r.exit->stop_duration_ms);
  EXPECT_GE(*r.exit->stop_duration_ms, 2000);
  EXPECT_GE(took, 1900ms);
  EXPECT_LT(took, 5s);
  auto log = slurp(s.log_path());
  EXPECT_NE(log.find("sending SIGTERM"), std::string::npos);
  EXPECT_NE(log.find("sending SIGKILL"), std::string::npos);
}

TEST(Shim, SigtermToTheShimAppliesThePolicy) {
  Shim s({"--pty", "--stop-signal", "TERM", "--stop-timeout", "5"},
         {"/bin/sh", "-c",
          "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done"});
  Reader r = attach(s);
  ASSERT_TRUE(r.saw("ready"));
  ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
  ASSERT_TRUE(r.exited(10s)) << r.out;
  EXPECT_NE(r.out.find("got-term"), std::string::npos);
  EXPECT_EQ(r.exit->exit_code, 3);
  EXPECT_EQ(r.exit->graceful, true);
  EXPECT_EQ(s.wait_exit(5s), 0);
  auto st = s.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, shim::ShimState::kExited);
  EXPECT_EQ(st->graceful, true);
}

// The agent dies (kill -9) while it started the shim and while a console
// client was mid-stream: the shim and service carry on, and a new client
// gets the output produced meanwhile plus live output.
TEST(Shim, SurvivesItsParentAndAKilledClient) {
  become_subreaper();  // the orphaned shim is reparented to us
  std::string dir = make_temp_dir("shim-orphan");
  int pfd[2];
  ASSERT_EQ(::pipe(pfd), 0);
  pid_t agent = ::fork();
  if (agent == 0) {
    ::close(pfd[0]);
    process::SpawnOptions o;
    o.argv =
        shim_argv(dir, {"--pty"},
                  {"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.02; done"});
    o.env = kEnv;
    int log_fd = ::open((dir + "/shim.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    o.stderr_fd = log_fd;
    auto pid = process::spawn(o);
    pid_t p = pid ? *pid : -1;
    (void)!::write(pfd[1], &p, sizeof p);
    if (p < 0) ::_exit(1);
    for (;;) ::pause();  // never reaps the shim
  }
  ::close(pfd[1]);
  pid_t shim_pid = -1;
  ASSERT_EQ(::read(pfd[0], &shim_pid, sizeof shim_pid), ssize_t(sizeof shim_pid));
  ::close(pfd[0]);
  if (shim_pid <= 0) {
    ::kill(agent, SIGKILL);
    ::waitpid(agent, nullptr, 0);
    FAIL() << "the agent could not start the shim";
  }
  Shim s(dir, shim_pid);

  // A console client in another process, killed -9 while output streams.
  int cfd[2];
  ASSERT_EQ(::pipe(cfd), 0);
  pid_t client = ::fork();
  if (client == 0) {
    ::close(cfd[0]);
    auto c = ShimClient::connect(dir + "/shim.sock", 10s);
    if (!c) ::_exit(1);
    (void)c->send(FrameType::kAttach, std::string(1, char(kAttachScrollback)));
    for (bool told = false;;) {
      auto f = c->read_frame(10s);
      if (!f) ::_exit(2);
      if (!told && f->type == FrameType::kOutput) {
        (void)!::write(cfd[1], "x", 1);
        told = true;
      }
    }
  }
  ::close(cfd[1]);
  char x;
  ASSERT_EQ(::read(cfd[0], &x, 1), 1);
  ::close(cfd[0]);
  ::kill(agent, SIGKILL);
  ::kill(client, SIGKILL);
  ::waitpid(agent, nullptr, 0);
  ::waitpid(client, nullptr, 0);

  // The shim is now our (adopted) child; it and the service keep going.
  ASSERT_TRUE(eventually([&] { return ::getppid() != shim_pid && alive(shim_pid); }, 1s));
  auto st0 = s.state();
  ASSERT_TRUE(st0);
  ASSERT_TRUE(alive(st0->pid));
  Reader r = attach(s);
  auto status = r.c.status();
  ASSERT_TRUE(status) << status.error().to_string();
  EXPECT_EQ(status->state, shim::ShimState::kRunning);
  EXPECT_EQ(status->pid, st0->pid);
  EXPECT_EQ(status->shim_pid, shim_pid);
  // Output keeps flowing: a tick number well past what the scrollback had.
  ASSERT_TRUE(r.saw("tick-"));
  std::regex tick("tick-([0-9]+)");
  auto last_tick = [&] {
    int last = 0;
    for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), tick);
         it != std::sregex_iterator(); ++it)
      last = std::max(last, std::stoi((*it)[1]));
    return last;
  };
  int first = last_tick();
  ASSERT_TRUE(r.until([&] { return last_tick() >= first + 10; })) << r.out;
  EXPECT_TRUE(alive(shim_pid));
  EXPECT_EQ(slurp(dir + "/shim.log").find("ERROR"), std::string::npos);
}

TEST(Shim, StateFileIdentifiesTheProcesses) {
  Shim s({"--pipes"}, {"/bin/sleep", "60"});
  ASSERT_TRUE(eventually([&] {
    auto st = s.state();
    return st && st->state == shim::ShimState::kRunning;
  }));
  auto st = s.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->name, "svc");
  EXPECT_EQ(st->shim_pid, s.pid());
  EXPECT_EQ(st->shim_start_time, start_time_of(s.pid()));
  ASSERT_GT(st->pid, 0);
  EXPECT_EQ(st->pid_start_time, start_time_of(st->pid));
  EXPECT_EQ(st->socket, s.socket());
  EXPECT_FALSE(st->started_at.empty());
  EXPECT_FALSE(st->exit_code);
  // The service leads its own process group; the state file is private.
  EXPECT_EQ(::getpgid(st->pid), st->pid);
  struct stat sb {};
  ASSERT_EQ(::stat(s.state_path().c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(s.socket().c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0077, 0u);

  // A second shim on the same socket is refused while the first one lives.
  auto second =
      testing::run_command({bin_dir() + "/zlh-shim", "--name", "other", "--socket", s.socket(),
                            "--state", s.dir() + "/other.json", "--", "/bin/true"});
  EXPECT_EQ(second.exit_code, 1);
  auto other = fs::read_file(s.dir() + "/other.json");
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("another shim"), std::string::npos) << *other;
  EXPECT_TRUE(std::filesystem::exists(s.socket()));

  // A signal frame reaches the group; the state file records the death.
  Reader r = attach(s, false);
  ASSERT_TRUE(r.c.send(FrameType::kSignal, std::string(1, char(SIGUSR1))));
  ASSERT_TRUE(r.exited());
  EXPECT_EQ(r.exit->signal, SIGUSR1);
  ASSERT_TRUE(eventually([&] {
    auto e = s.state();
    return e && e->state == shim::ShimState::kExited && e->signal == SIGUSR1 &&
           !e->exited_at.empty();
  }));
}

TEST(Shim, RunsAsTheGivenUserOnItsOwnPty) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Shim s({"--pty", "--uid", "65534", "--gid", "65534"},
         {"/bin/sh", "-c", "echo uid=$(id -u) tty-owner=$(stat -c %u $(tty)); exec sleep 60"});
  Reader r = attach(s);
  ASSERT_TRUE(r.saw("tty-owner=65534")) << r.out;
  EXPECT_NE(r.out.find("uid=65534"), std::string::npos) << r.out;
}

TEST(Shim, SetupFailureIsReported) {
  std::string dir = make_temp_dir("shim-fail");
  auto r = testing::run_command(shim_argv(dir, {"--pipes"}, {"/nonexistent/program"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto text = fs::read_file(dir + "/state.json");
  ASSERT_TRUE(text);
  auto st = parse_status(*text);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, shim::ShimState::kExited);
  EXPECT_NE(st->error.find("exec /nonexistent/program"), std::string::npos) << st->error;

  auto bad = testing::run_command({bin_dir() + "/zlh-shim", "--name", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zlh::shim
