// zlh-init's container shutdown (src/init/main.cpp; issue 19, "Init and
// shutdown"). zlh-init runs as PID 1 of pid, mount and network namespaces of
// its own, where /run/zlh is the test's directory, with a stand-in agent that
// starts the real zlh-shim for one service the way the agent does (state file
// /run/zlh/<name>.json, a stop command). On SIGPWR (liblxc's shutdown) or
// SIGTERM, zlh-init:
//   - stops respawning the agent and sends it SIGTERM;
//   - sends SIGTERM to each shim recorded in /run/zlh/*.json, and the shim
//     applies the service's stop policy (here: `stop` on its stdin);
//   - at --stop-timeout, SIGKILLs what is left and exits.
// Root only (it makes namespaces and mounts).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fs.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) { return fs::read_file(path, 1 << 20).value_or(""); }

size_t count_lines(const std::string& text, const std::string& line) {
  size_t n = 0;
  for (size_t i = text.find(line + "\n"); i != std::string::npos; i = text.find(line + "\n", i + 1))
    if (i == 0 || text[i - 1] == '\n') ++n;
  return n;
}

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "namespaces and mounts need root";
    dir_ = make_temp_dir("init");
    ASSERT_EQ(::mkdir((dir_ + "/run").c_str(), 0755), 0);
  }
  void TearDown() override {
    if (outer_ > 0) {
      ::kill(init_, SIGKILL);  // ends the namespace and everything in it
      ::waitpid(outer_, nullptr, 0);
    }
    if (!HasFailure()) remove_unless_failed(dir_);
  }

  // The stand-in agent: records each start and its SIGTERM, and starts the
  // shim of service "svc" once (a respawned agent finds it again).
  // `stubborn`: the service ignores its stop command (and SIGTERM).
  void write_scripts(bool stubborn) {
    const std::string vars = "#!/bin/bash\nD='" + dir_ + "'\nBIN='" + bin_dir() + "'\n";
    const std::string agent = vars +
                              "echo start >> $D/agent.events\n"
                              "trap 'echo term >> $D/agent.events; exit 0' TERM\n"
                              "if [ ! -e /run/zlh/svc.json ]; then\n"
                              // As the agent starts it, with a linger longer than the
                              // stop timeouts below: zlh-init's repeated SIGTERM must
                              // end a shim whose service has exited, not its linger.
                              "  $BIN/zlh-shim --name svc --socket /run/zlh/svc.sock"
                              " --state /run/zlh/svc.json --pipes --stop-command stop"
                              " --stop-timeout 300 --term-timeout 300 --linger 600"
                              " -- /bin/bash $D/service.sh >> $D/shim.log 2>&1 &\n"
                              "fi\n"
                              "while :; do sleep 0.1; done\n";
    const std::string service =
        vars + "trap '' TERM\n" + "echo started >> $D/service.events\n" +
        "while read -r line; do\n" + "  echo \"got $line\" >> $D/service.events\n" +
        (stubborn ? ""
                  : "  [ \"$line\" = stop ] && { echo saved >> $D/service.events; exit 0; }\n") +
        "done\n";
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/agent.sh", agent, 0755));
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/service.sh", service, 0755));
  }

  // zlh-init as PID 1 of new pid, mount and network namespaces, through an
  // outer child that waits for it and exits with its exit code; returns once
  // the service runs.
  void start_init(bool stubborn, double stop_timeout) {
    write_scripts(stubborn);
    ASSERT_FALSE(HasFatalFailure());
    std::vector<std::string> argv = {bin_dir() + "/zlh-init",
                                     "--stop-timeout",
                                     std::to_string(stop_timeout),
                                     "--log",
                                     dir_ + "/init.log",
                                     "--",
                                     dir_ + "/agent.sh"};
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const std::string run = dir_ + "/run";
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    outer_ = ::fork();
    ASSERT_GE(outer_, 0);
    if (outer_ == 0) {
      // Private mounts first: nothing below reaches the host's mount table.
      if (::unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) != 0 ||
          ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          ::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0 ||
          ::mkdir("/run/zlh", 0755) != 0 ||
          ::mount(run.c_str(), "/run/zlh", nullptr, MS_BIND, nullptr) != 0)
        _exit(90);
      pid_t init = ::fork();
      if (init == 0) {
        if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
          _exit(91);
        ::execv(cargv[0], cargv.data());
        _exit(92);
      }
      (void)!::write(p[1], &init, sizeof init);
      int st = 0;
      while (::waitpid(init, &st, 0) < 0 && errno == EINTR) {
      }
      _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    ::close(p[1]);
    ASSERT_EQ(::read(p[0], &init_, sizeof init_), ssize_t(sizeof init_));
    ::close(p[0]);
    ASSERT_GT(init_, 0);
    // Running: the agent started the shim and the service.
    ASSERT_TRUE(eventually(
        [&] {
          return slurp(dir_ + "/service.events").find("started") != std::string::npos &&
                 slurp(dir_ + "/run/svc.json").find("\"running\"") != std::string::npos;
        },
        20s))
        << slurp(dir_ + "/init.log") << slurp(dir_ + "/shim.log");
  }

  // Sends `sig` to zlh-init; its exit code once it exited, or -1 if it still
  // runs a minute later.
  int stop_init(int sig) {
    if (::kill(init_, sig) != 0) return -1;
    int code = -1;
    eventually(
        [&] {
          int st = 0;
          if (::waitpid(outer_, &st, WNOHANG) != outer_) return false;
          outer_ = -1;
          code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
          return true;
        },
        60s);
    return code;
  }

  // The agent got SIGTERM and was not started again; the shim got SIGTERM
  // and sent the stop command, which the service obeyed (`saved`) or not.
  void expect_sigterms(bool saved) {
    EXPECT_EQ(slurp(dir_ + "/agent.events"), "start\nterm\n");
    const std::string events = slurp(dir_ + "/service.events");
    EXPECT_EQ(count_lines(events, "got stop"), 1u) << events;
    EXPECT_EQ(count_lines(events, "saved"), saved ? 1u : 0u) << events;
  }

  std::string dir_;
  pid_t outer_ = -1, init_ = -1;
};

TEST_F(InitTest, OnSigpwrTheAgentAndTheShimsGetSigtermAndTheServiceStopsByItsPolicy) {
  start_init(/*stubborn=*/false, /*stop_timeout=*/30);
  ASSERT_FALSE(HasFatalFailure());
  // Everything stopped: zlh-init leaves without waiting for its deadline,
  // though the shim would linger 600 s after its service exited.
  EXPECT_EQ(stop_init(SIGPWR), 0) << slurp(dir_ + "/init.log");
  expect_sigterms(/*saved=*/true);
  auto st = nlohmann::json::parse(slurp(dir_ + "/run/svc.json"), nullptr, false);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["state"], "exited") << st.dump();
  EXPECT_EQ(st["exit_code"], 0) << st.dump();
  EXPECT_EQ(st["graceful"], true) << st.dump();
  const std::string log = slurp(dir_ + "/init.log");
  EXPECT_NE(log.find("container shutdown"), std::string::npos) << log;
  EXPECT_NE(log.find("container stopped"), std::string::npos) << log;
  EXPECT_EQ(log.find("stop timeout"), std::string::npos) << log;
}

TEST_F(InitTest, OnSigtermNothingRespawnsAndWhatIsLeftAtTheDeadlineIsKilled) {
  // Longer than the agent's first respawn delay (1 s): a respawn would show.
  start_init(/*stubborn=*/true, /*stop_timeout=*/4);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(stop_init(SIGTERM), 0) << slurp(dir_ + "/init.log");
  expect_sigterms(/*saved=*/false);  // the service ignored its stop
  const std::string log = slurp(dir_ + "/init.log");
  EXPECT_NE(log.find("stop timeout: killing what is left"), std::string::npos) << log;
  EXPECT_NE(log.find("container stopped"), std::string::npos) << log;
}

}  // namespace
}  // namespace zlh::testing
