#include "api/drivers/local/process_handle.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/process.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::api::drivers {
namespace {

using namespace std::chrono_literals;

std::string temp_dir() {
  std::string t = "/tmp/zlh-ph-XXXXXX";
  EXPECT_NE(::mkdtemp(t.data()), nullptr);
  char buf[PATH_MAX];
  return ::realpath(t.c_str(), buf) ? buf : t;
}

pid_t spawn_sleep(std::vector<std::string> env, std::string cwd = "/") {
  process::SpawnOptions so;
  so.argv = {"/bin/sleep", "30"};
  so.env = std::move(env);
  so.cwd = std::move(cwd);
  auto pid = process::spawn(so);
  EXPECT_TRUE(pid) << pid.error().message;
  return pid ? *pid : -1;
}

bool has_pid(const std::vector<ProcessHandle>& v, pid_t pid) {
  for (auto& p : v)
    if (p.pid() == pid) return true;
  return false;
}

TEST(PathInside, Boundaries) {
  EXPECT_TRUE(path_inside("/a/b", "/a/b"));
  EXPECT_TRUE(path_inside("/a/b/c", "/a/b"));
  EXPECT_TRUE(path_inside("/a/b/c (deleted)", "/a/b"));
  EXPECT_FALSE(path_inside("/a/bc", "/a/b"));
  EXPECT_FALSE(path_inside("/a", "/a/b"));
  EXPECT_FALSE(path_inside("", "/a/b"));
  EXPECT_FALSE(path_inside("/a/b", ""));
}

TEST(EnvironMentions, ValuesAndPathLists) {
  using namespace std::string_literals;
  std::string dir = "/data/containers/6001";
  EXPECT_TRUE(environ_mentions("A=1\0HOME=/data/containers/6001/home/dev\0"s, dir));
  EXPECT_TRUE(environ_mentions("PATH=/usr/bin:/data/containers/6001/opt/zlh/bin:/bin\0"s, dir));
  EXPECT_TRUE(environ_mentions("ZLH_CONTAINER_ROOT=/data/containers/6001"s, dir));
  EXPECT_FALSE(environ_mentions("HOME=/data/containers/60012/home\0PATH=/bin\0"s, dir));
  EXPECT_FALSE(environ_mentions("X_/data/containers/6001=1\0"s, dir));  // a key is not a value
  EXPECT_FALSE(environ_mentions(""s, dir));
}

TEST(ProcessHandle, IdentityByStartTime) {
  pid_t pid = spawn_sleep({});
  auto st = shim::proc_start_time(pid);
  ASSERT_TRUE(st);
  auto h = ProcessHandle::open(pid, *st);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_TRUE(h->alive());
  EXPECT_EQ(h->start_time(), *st);
  EXPECT_EQ(h->argv(), (std::vector<std::string>{"/bin/sleep", "30"}));
  auto other = ProcessHandle::open(pid, *st + 1);  // what a reused pid looks like
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, codes::kNotFound);

  EXPECT_FALSE(h->wait_exit(50ms));
  EXPECT_EQ(h->signal(SIGTERM).value_or(false), true);
  EXPECT_TRUE(h->wait_exit(5s));
  EXPECT_FALSE(h->alive());
  // Exited but not reaped: a zombie is not a live process.
  EXPECT_FALSE(ProcessHandle::open(pid));
  auto z = ProcessHandle::open(pid, *st, /*allow_exited=*/true);
  ASSERT_TRUE(z);
  EXPECT_FALSE(z->alive());
  EXPECT_EQ(z->signal(SIGKILL).value_or(true), false);
  z->reap_if_child();
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
  EXPECT_FALSE(ProcessHandle::open(pid, *st, true));
  EXPECT_FALSE(ProcessHandle::open(0));
  EXPECT_FALSE(ProcessHandle::open(-5));
}

TEST(ProcessHandle, AllowExitedNeedsAStartTime) {
  pid_t pid = spawn_sleep({});
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  siginfo_t si{};
  ASSERT_EQ(::waitid(P_PID, id_t(pid), &si, WEXITED | WNOWAIT), 0);  // a zombie now
  EXPECT_FALSE(ProcessHandle::open(pid, std::nullopt, true));
  (void)process::wait_exit(pid);
}

TEST(ProcessHandle, SignalGroupOnlyForLeaders) {
  pid_t pid = spawn_sleep({});  // spawn: new session, so it leads its group
  auto h = ProcessHandle::open(pid);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->signal_group(SIGKILL).value_or(false), true);
  EXPECT_TRUE(h->wait_exit(5s));
  EXPECT_EQ(h->signal_group(SIGKILL).value_or(true), false);  // gone: its group id is not ours
  h->reap_if_child();

  process::SpawnOptions so;
  so.argv = {"/bin/sleep", "30"};
  so.new_session = false;  // in our group: not a leader
  auto p2 = process::spawn(so);
  ASSERT_TRUE(p2);
  auto h2 = ProcessHandle::open(*p2);
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->signal_group(SIGKILL).value_or(true), false);
  EXPECT_TRUE(h2->alive());
  EXPECT_EQ(h2->signal(SIGKILL).value_or(false), true);
  std::vector<ProcessHandle*> v{&*h2};
  EXPECT_EQ(wait_all_exit(v, std::chrono::steady_clock::now() + 5s), 0u);
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(*p2)));  // reaped
}

TEST(ProcessesInside, FindsByCwdAndEnvironmentOnly) {
  std::string dir = temp_dir();
  std::string sibling = dir + "2";  // shares the prefix, not the directory
  ASSERT_EQ(::mkdir(sibling.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/work").c_str(), 0755), 0);
  pid_t by_cwd = spawn_sleep({}, dir + "/work");
  pid_t by_env = spawn_sleep({"PATH=/bin:" + dir + "/opt/bin"});
  pid_t by_sibling = spawn_sleep({"HOME=" + sibling}, sibling);
  pid_t unrelated = spawn_sleep({"HOME=/nonexistent"});

  auto found = processes_inside(dir);
  EXPECT_TRUE(has_pid(found, by_cwd));
  EXPECT_TRUE(has_pid(found, by_env));
  EXPECT_FALSE(has_pid(found, by_sibling));
  EXPECT_FALSE(has_pid(found, unrelated));
  EXPECT_FALSE(has_pid(found, ::getpid()));

  for (pid_t p : {by_cwd, by_env, by_sibling, unrelated}) {
    ::kill(p, SIGKILL);
    (void)process::wait_exit(p);
  }
  // Zombies and dead processes are not found.
  EXPECT_TRUE(processes_inside(dir).empty());
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(sibling);
}

}  // namespace
}  // namespace zlh::api::drivers
