// The supervisor in process, driving the real zlh-shim binary: crash restarts
// with backoff, a crash loop giving up, graceful and forced stops, and
// reattachment by a new supervisor (what a restarted agent does).
#include "agent/supervisor/supervisor.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>

#include "base/fs.hpp"
#include "harness.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;
using agent::supervisor::CrashPolicyConfig;
using agent::supervisor::ServiceSpec;
using agent::supervisor::ServiceState;
using agent::supervisor::Supervisor;
using agent::supervisor::SystemClock;

CrashPolicyConfig fast_policy() {
  CrashPolicyConfig c;
  c.initial_backoff = 100ms;
  c.max_backoff = 400ms;
  c.max_crashes = 3;
  c.crash_window = 30s;
  return c;
}

ServiceSpec spec(std::string name, std::vector<std::string> argv) {
  ServiceSpec s;
  s.name = std::move(name);
  s.argv = std::move(argv);
  s.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  s.cwd = "/";
  s.stop_timeout_s = 2;
  s.term_timeout_s = 2;
  return s;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir("sup");
    sup_ = std::make_unique<Supervisor>(root_, bin_dir() + "/zlh-shim", clock_, fast_policy());
    // The OOM killer's count, moved by hand (the host's would move with
    // other tests' containers).
    sup_->set_oom_counter([this] { return oom_.load(); });
  }
  void TearDown() override {
    if (sup_) {
      for (auto& v : sup_->services()) (void)sup_->kill(v.name);
    }
    sup_.reset();
  }
  pid_t pid_of(const std::string& name) {
    auto v = sup_->service(name);
    return v ? v->pid : 0;
  }
  bool wait_pid_change(const std::string& name, pid_t old) {
    return eventually(
        [&] {
          auto v = sup_->service(name);
          return v && v->state == ServiceState::kRunning && v->pid > 0 && v->pid != old;
        },
        15s);
  }

  SystemClock clock_;
  std::string root_;
  std::atomic<uint64_t> oom_{0};
  std::unique_ptr<Supervisor> sup_;
};

TEST_F(SupervisorTest, Kill9OfTheServiceRestartsItWithBackoffAndCountsIt) {
  ASSERT_TRUE(sup_->start(spec("svc", {"/bin/sh", "-c", "echo started; exec sleep 1000"})));
  ASSERT_TRUE(sup_->wait_for_state("svc", ServiceState::kRunning, 10s));
  ASSERT_TRUE(eventually([&] { return pid_of("svc") > 0; }));
  pid_t first = pid_of("svc");
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(wait_pid_change("svc", first));
  auto v = *sup_->service("svc");
  EXPECT_EQ(v.crash_count, 1);
  EXPECT_EQ(v.restarts, 1);
  EXPECT_EQ(v.last_exit, (nlohmann::json{{"signal", SIGKILL}}));
  EXPECT_TRUE(v.last_crash_at.has_value());
}

TEST_F(SupervisorTest, ASigkillWhileTheOomKillerCountGrewIsReportedAsOutOfMemory) {
  ASSERT_TRUE(sup_->start(spec("svc", {"/bin/sh", "-c", "exec sleep 1000"})));
  ASSERT_TRUE(sup_->wait_for_state("svc", ServiceState::kRunning, 10s));
  ASSERT_TRUE(eventually([&] { return pid_of("svc") > 0; }));
  pid_t first = pid_of("svc");
  oom_ = 1;  // the kernel's OOM killer chose it
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(wait_pid_change("svc", first));
  EXPECT_EQ(sup_->service("svc")->last_exit,
            (nlohmann::json{{"signal", SIGKILL}, {"reason", "out of memory"}}));
  // The next SIGKILL without a new OOM kill is a plain signal again.
  pid_t second = pid_of("svc");
  ASSERT_EQ(::kill(second, SIGKILL), 0);
  ASSERT_TRUE(wait_pid_change("svc", second));
  EXPECT_EQ(sup_->service("svc")->last_exit, (nlohmann::json{{"signal", SIGKILL}}));
}

TEST_F(SupervisorTest, ACrashLoopEndsCrashedUntilAManualStart) {
  ASSERT_TRUE(sup_->start(spec("loop", {"/bin/sh", "-c", "exit 3"})));
  ASSERT_TRUE(sup_->wait_for_state("loop", ServiceState::kCrashed, 30s));
  auto v = *sup_->service("loop");
  EXPECT_EQ(v.crash_count, 4);  // more than max_crashes (3) in the window
  EXPECT_EQ(v.last_exit, (nlohmann::json{{"code", 3}}));
  // It stays crashed: nothing restarts it.
  EXPECT_FALSE(sup_->wait_for_state("loop", ServiceState::kStarting, 500ms));
  // An operator start tries again.
  ASSERT_TRUE(sup_->start_registered("loop"));
  EXPECT_TRUE(eventually([&] { return sup_->service("loop")->crash_count > 4; }, 10s));
}

TEST_F(SupervisorTest, GracefulStopOfAServiceThatObeysTheStopCommand) {
  auto s = spec(
      "obey",
      {"/bin/sh", "-c", "while read line; do [ \"$line\" = stop ] && echo saving && exit 0; done"});
  s.stop_command = "stop";
  ASSERT_TRUE(sup_->start(s));
  ASSERT_TRUE(sup_->wait_for_state("obey", ServiceState::kRunning, 10s));
  auto r = sup_->stop("obey");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["graceful"], true) << r->dump();
  EXPECT_EQ(sup_->service("obey")->state, ServiceState::kStopped);
  EXPECT_EQ(sup_->service("obey")->crash_count, 0);  // a requested stop is not a crash
}

TEST_F(SupervisorTest, StopOfAServiceThatIgnoresItEndsWithSigkill) {
  auto s = spec("stubborn", {"/bin/sh", "-c", "trap '' TERM INT HUP; while :; do sleep 0.2; done"});
  s.stop_command = "stop";
  s.stop_timeout_s = 1;
  s.term_timeout_s = 1;
  ASSERT_TRUE(sup_->start(s));
  ASSERT_TRUE(sup_->wait_for_state("stubborn", ServiceState::kRunning, 10s));
  ASSERT_TRUE(eventually([&] { return pid_of("stubborn") > 0; }));
  pid_t pid = pid_of("stubborn");
  auto r = sup_->stop("stubborn");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["graceful"], false) << r->dump();
  EXPECT_NE(::kill(pid, 0), 0);  // gone
}

TEST_F(SupervisorTest, ANewSupervisorReattachesWithoutRestartingAndKeepsTheOutput) {
  ASSERT_TRUE(sup_->start(spec(
      "ticker", {"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.1; done"})));
  ASSERT_TRUE(sup_->wait_for_state("ticker", ServiceState::kRunning, 10s));
  ASSERT_TRUE(eventually([&] { return pid_of("ticker") > 0; }));
  pid_t pid = pid_of("ticker");
  // The agent goes away: its supervisor object ends, services do not.
  sup_.reset();
  std::this_thread::sleep_for(300ms);  // let output accumulate with nobody attached
  ASSERT_EQ(::kill(pid, 0), 0);
  sup_ = std::make_unique<Supervisor>(root_, bin_dir() + "/zlh-shim", clock_, fast_policy());
  auto t0 = std::chrono::steady_clock::now();
  sup_->reattach();
  // Waited for with a deadline; the time is recorded, not asserted.
  ASSERT_TRUE(sup_->wait_for_state("ticker", ServiceState::kRunning, 20s));
  RecordProperty("reattach_ms",
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count()));
  EXPECT_EQ(pid_of("ticker"), pid);  // the same process, not a restart
  EXPECT_EQ(sup_->service("ticker")->restarts, 0);
  // The scrollback holds what was printed meanwhile.
  auto c = shim::ShimClient::connect(sup_->socket_path("ticker"), 2s);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(shim::FrameType::kAttach, std::string(1, char(shim::kAttachScrollback))));
  std::string out;
  eventually(
      [&] {
        auto f = c->read_frame(200ms);
        if (f && f->type == shim::FrameType::kOutput) out += f->payload;
        return out.find("tick-5") != std::string::npos;
      },
      5s);
  EXPECT_NE(out.find("tick-5"), std::string::npos) << out.substr(0, 200);
}

}  // namespace
}  // namespace zlh::testing
