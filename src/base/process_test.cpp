#include "base/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace zlh::process {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin", "LANG=C"};

SpawnOptions cmd(std::vector<std::string> argv, std::vector<std::string> env = kEnv) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.env = std::move(env);
  return o;
}

RunResult must_run(SpawnOptions o, std::chrono::milliseconds timeout = 10s) {
  auto r = run(std::move(o), timeout);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r ? *r : RunResult{};
}

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/zlh-process-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::set<std::string> lines(const std::string& s) {
  std::set<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.insert(l);
  return out;
}

TEST(Process, RunCapturesOutputAndExitCode) {
  auto r = must_run(cmd({"/bin/echo", "hello", "world"}));
  EXPECT_EQ(r.output, "hello world\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);

  r = must_run(cmd({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(lines(r.output), (std::set<std::string>{"out", "err"}));
}

TEST(Process, SpawnAndWaitExit) {
  auto pid = spawn(cmd({"/bin/sh", "-c", "exit 7"}));
  ASSERT_TRUE(pid) << pid.error().to_string();
  auto code = wait_exit(*pid);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 7);
  // Already reaped: an error, not a made-up status.
  auto again = wait_exit(*pid);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, codes::kIo);
}

TEST(Process, SignalDeath) {
  auto r = must_run(cmd({"/bin/sh", "-c", "kill -TERM $$; sleep 5"}));
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.exit_code, -1);

  auto pid = spawn(cmd({"/bin/sh", "-c", "kill -KILL $$"}));
  ASSERT_TRUE(pid);
  EXPECT_EQ(*wait_exit(*pid), 128 + SIGKILL);
}

TEST(Process, ExecFailureIsAnErrorNotExit127) {
  auto r = spawn(cmd({"/nonexistent/prog", "x"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kIo);
  EXPECT_EQ(r.error().message, "exec /nonexistent/prog: No such file or directory");

  auto viapath = run(cmd({"zlh-no-such-program"}), 5s);
  ASSERT_FALSE(viapath);
  EXPECT_EQ(viapath.error().message, "exec zlh-no-such-program: No such file or directory");

  // A file that is not executable: EACCES, like execvp.
  TempDir tmp;
  const std::string& dir = tmp.path;
  std::ofstream(dir + "/plain") << "data\n";
  auto denied = spawn(cmd({dir + "/plain"}));
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message.find("Permission denied"), std::string::npos);

  // A failing child-side step is reported with its stage.
  auto o = cmd({"/bin/true"});
  o.cwd = dir + "/missing";
  auto nodir = spawn(o);
  ASSERT_FALSE(nodir);
  EXPECT_EQ(nodir.error().message, "spawn /bin/true: chdir: No such file or directory");
}

TEST(Process, InvalidOptions) {
  auto empty = spawn(cmd({}));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, codes::kInvalid);
  auto o = cmd({"/bin/true"});
  o.uid = 65534;
  auto nogid = spawn(o);
  ASSERT_FALSE(nogid);
  EXPECT_EQ(nogid.error().code, codes::kInvalid);
}

TEST(Process, CancelStopsARunLikeATimeout) {
  std::atomic<bool> cancel{false};
  std::thread t([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto r = run(cmd({"/bin/sh", "-c", "echo started; sleep 100"}), 60s, 1 << 20, &cancel);
  t.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_EQ(r->output, "started\n");
  // Without a cancel request the flag stays false.
  std::atomic<bool> never{false};
  auto ok = run(cmd({"/bin/echo", "x"}), 10s, 1 << 20, &never);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->cancelled);
  EXPECT_EQ(ok->exit_code, 0);
}

TEST(Process, TimeoutKillsTheWholeGroup) {
  // Orphans of the killed shell get reparented to us so we can reap them and
  // see the group really disappear (pid 1 may not reap zombies here).
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  auto start = std::chrono::steady_clock::now();
  auto r = must_run(cmd({"/bin/sh", "-c", "echo $$; sleep 100 & sleep 100"}), 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  pid_t pgid = std::atoi(r.output.c_str());
  ASSERT_GT(pgid, 1) << r.output;

  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    while (waitpid(-pgid, nullptr, WNOHANG) > 0) {
    }
    gone = kill(-pgid, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_TRUE(gone) << "process group " << pgid << " survived the timeout";
}

TEST(Process, EnvironmentIsExactlyWhatWasGiven) {
  setenv("ZLH_PARENT_ONLY", "leak", 1);
  auto r = must_run(cmd({"/usr/bin/env"}, {"A=1", "B=two words", "C='q'"}));
  unsetenv("ZLH_PARENT_ONLY");
  EXPECT_EQ(r.output, "A=1\nB=two words\nC='q'\n");

  r = must_run(cmd({"/usr/bin/env"}, {}));
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(r.exit_code, 0);
}

TEST(Process, PathLookupUsesTheChildsPath) {
  TempDir tmp;
  const std::string& dir = tmp.path;
  std::string script = dir + "/zlh-probe";
  std::ofstream(script) << "#!/bin/sh\necho probe \"$@\"\n";
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  // Found only through the env given to the child; our own PATH lacks `dir`.
  auto r = must_run(cmd({"zlh-probe", "a b"}, {"PATH=/nonexistent:" + dir + ":/bin"}));
  EXPECT_EQ(r.output, "probe a b\n");
  // No "#!": ENOEXEC falls back to /bin/sh like execvp.
  std::string bare = dir + "/zlh-bare";
  std::ofstream(bare) << "echo bare \"$1\"\n";
  ASSERT_EQ(chmod(bare.c_str(), 0755), 0);
  r = must_run(cmd({"zlh-bare", "x"}, {"PATH=" + dir}));
  EXPECT_EQ(r.output, "bare x\n");
}

TEST(Process, WorkingDirectory) {
  auto r = must_run(cmd({"/bin/pwd"}));
  EXPECT_EQ(r.output, "/\n");
  TempDir tmp;
  const std::string& dir = tmp.path;
  auto o = cmd({"/bin/pwd"});
  o.cwd = dir;
  r = must_run(o);
  EXPECT_EQ(r.output, dir + "\n");
}

TEST(Process, OnlyStandardFdsAreInherited) {
  int leaky = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaky, 0);
  int high = fcntl(leaky, F_DUPFD, 100);
  ASSERT_GE(high, 100);
  auto r = must_run(cmd({"/bin/ls", "/proc/self/fd"}));
  close(leaky);
  close(high);
  auto fds = lines(r.output);
  // 0-2 plus the directory ls itself opened to list /proc/self/fd.
  for (const auto& fd : fds) EXPECT_LE(std::atoi(fd.c_str()), 3) << r.output;
  EXPECT_TRUE(fds.contains("0") && fds.contains("1") && fds.contains("2")) << r.output;
}

TEST(Process, StdinFdAndDefaultDevNull) {
  auto r = must_run(cmd({"/bin/cat"}));  // stdin is /dev/null: returns at once
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(r.exit_code, 0);

  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(write(p[1], "piped\n", 6), 6);
  close(p[1]);
  auto o = cmd({"/bin/cat"});
  o.stdin_fd = p[0];
  r = must_run(o);
  close(p[0]);
  EXPECT_EQ(r.output, "piped\n");
}

TEST(Process, RlimitApplied) {
  auto o = cmd({"/bin/sh", "-c", "ulimit -n"});
  o.rlimits = {{RLIMIT_NOFILE, 256}};
  auto r = must_run(o);
  EXPECT_EQ(r.output, "256\n");
}

TEST(Process, SignalMaskAndDispositionsAreReset) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  auto r = must_run(cmd({"/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}));
  signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(r.output, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(Process, OutputIsCappedAndTheRestDrained) {
  auto r = run(cmd({"/bin/sh", "-c", "head -c 300000 /dev/zero; echo done >&2"}), 10s, 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output.size(), 1000u);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
}

TEST(Process, DropsPrivilegesWhenRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto o = cmd({"/bin/sh", "-c", "id -u; id -g; id -G"});
  o.uid = 65534;
  o.gid = 65534;
  auto r = must_run(o);
  EXPECT_EQ(r.output, "65534\n65534\n65534\n");

  // Supplementary groups come from the user database when a name is given.
  o.user_name = "root";
  o.uid = 0;
  o.gid = 0;
  o.argv = {"/usr/bin/id", "-G"};
  r = must_run(o);
  EXPECT_EQ(r.output.substr(0, 1), "0");
}

TEST(Process, EnvLookup) {
  std::vector<std::string> env = {"PATHX=1", "PATH=/a:/b", "EMPTY=", "PATH=/c"};
  EXPECT_EQ(env_lookup(env, "PATH"), "/a:/b");
  EXPECT_EQ(env_lookup(env, "EMPTY"), "");
  EXPECT_FALSE(env_lookup(env, "PAT"));
}

}  // namespace
}  // namespace zlh::process
