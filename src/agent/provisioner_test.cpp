#include "agent/provisioner.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "base/fs.hpp"

namespace zlh::agent {
namespace {

using namespace std::chrono_literals;

// Records the steps it runs; can block on one kind or fail one kind.
class FakeRunner : public StepRunner {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::vector<StepKind> calls;
  std::optional<StepKind> fail_kind;
  std::optional<StepKind> block_kind;
  bool release = false;

  Result<void> run(const StepSpec& s, const payload::Payload&, const std::atomic<bool>& stop,
                   const StepProgress& progress) override {
    progress("", 0.5);
    std::unique_lock lk(mu);
    calls.push_back(s.kind);
    cv.notify_all();
    if (s.kind == block_kind)
      while (!release && !stop.load()) cv.wait_for(lk, 5ms);
    if (s.kind == fail_kind) return fail(codes::kUnavailable, "not today");
    return {};
  }
  void wait_for_call(StepKind kind) {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(
        lk, 10s, [&] { return std::find(calls.begin(), calls.end(), kind) != calls.end(); }));
  }
  void unblock() {
    std::lock_guard lk(mu);
    release = true;
    cv.notify_all();
  }
  std::vector<StepKind> snapshot() {
    std::lock_guard lk(mu);
    return calls;
  }
};

std::string temp_root() {
  char tmpl[] = "/tmp/zlh-prov-XXXXXX";
  return mkdtemp(tmpl);
}

payload::Payload dev_payload(std::string version = "20.18.0") {
  payload::Payload p;
  p.vmid = 6001;
  p.container_type = ContainerType::kDev;
  p.runtime = "node";
  p.version = std::move(version);
  p.memory_mb = 1024;
  return p;
}

bool wait_state(const Provisioner& p, State s) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (p.state() == s) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

TEST(Plan, StepKindNames) {
  EXPECT_EQ(to_string(StepKind::kLayout), "layout");
  EXPECT_EQ(to_string(StepKind::kUser), "user");
  EXPECT_EQ(to_string(StepKind::kRuntime), "runtime");
  EXPECT_EQ(to_string(StepKind::kProfile), "profile");
  EXPECT_EQ(to_string(StepKind::kAddon), "addon");
  EXPECT_EQ(to_string(StepKind::kGame), "game");
  EXPECT_EQ(to_string(StepKind::kWorkload), "workload");
}

TEST(Plan, DevAndGameSteps) {
  auto steps = plan_for(dev_payload());
  ASSERT_GE(steps.size(), 3u);
  EXPECT_EQ(steps.front().kind, StepKind::kLayout);
  EXPECT_EQ(steps[2].name, "install runtime node 20.18.0");
  EXPECT_EQ(steps.back().phase, State::kStarting);
  auto with_ide = dev_payload();
  with_ide.enable_code_server = true;
  EXPECT_EQ(plan_for(with_ide).size(), steps.size() + 1);
  payload::Payload g;
  g.container_type = ContainerType::kGame;
  g.game = "minecraft";
  g.variant = "paper";
  g.version = "1.21.4";
  EXPECT_EQ(plan_for(g)[1].kind, StepKind::kGame);
}

TEST(Provisioner, RunsToRunningAndPersists) {
  auto root = temp_root();
  FakeRunner runner;
  Provisioner p(root, 6001, runner);
  p.load();
  EXPECT_EQ(p.state(), State::kIdle);
  p.start();
  auto a = p.submit(dev_payload());
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, Provisioner::Accept::kAccepted);
  ASSERT_TRUE(wait_state(p, State::kRunning));
  auto st = p.status();
  EXPECT_TRUE(st["provisioning_complete"]);
  EXPECT_EQ(st["progress"], 1.0);
  auto stored = nlohmann::json::parse(*fs::read_file(p.payload_path()));
  EXPECT_EQ(stored, dev_payload().to_json());
  auto state = nlohmann::json::parse(*fs::read_file(p.state_path()));
  EXPECT_EQ(state["state"], "running");
  // Same payload again: a no-op, nothing re-runs.
  auto calls = runner.snapshot().size();
  EXPECT_EQ(*p.submit(dev_payload()), Provisioner::Accept::kUnchanged);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runner.snapshot().size(), calls);
  p.stop();
}

TEST(Provisioner, DifferentPayloadWhileProvisioningIsConflictAndWritesNothing) {
  auto root = temp_root();
  FakeRunner runner;
  runner.block_kind = StepKind::kRuntime;
  Provisioner p(root, 6001, runner);
  p.load();
  p.start();
  ASSERT_TRUE(p.submit(dev_payload()));
  runner.wait_for_call(StepKind::kRuntime);
  EXPECT_EQ(p.state(), State::kInstalling);
  EXPECT_EQ(p.status()["install_step"], "install runtime node 20.18.0");
  auto before = *fs::read_file(p.payload_path());
  auto r = p.submit(dev_payload("22.11.0"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kConflict);
  EXPECT_EQ(*fs::read_file(p.payload_path()), before);
  // The same payload during provisioning is still a no-op, not a conflict.
  EXPECT_EQ(*p.submit(dev_payload()), Provisioner::Accept::kUnchanged);
  runner.unblock();
  ASSERT_TRUE(wait_state(p, State::kRunning));
  // Once done, a new payload is accepted.
  EXPECT_EQ(*p.submit(dev_payload("22.11.0")), Provisioner::Accept::kAccepted);
  ASSERT_TRUE(wait_state(p, State::kRunning));
  p.stop();
}

TEST(Provisioner, StepFailureIsErrorWithReason) {
  auto root = temp_root();
  FakeRunner runner;
  runner.fail_kind = StepKind::kRuntime;
  Provisioner p(root, 6001, runner);
  p.load();
  p.start();
  ASSERT_TRUE(p.submit(dev_payload()));
  ASSERT_TRUE(wait_state(p, State::kError));
  auto st = p.status();
  EXPECT_EQ(st["error"], "install runtime node 20.18.0: not today");
  EXPECT_FALSE(st["provisioning_complete"]);
  // A corrected payload is accepted after an error.
  runner.fail_kind.reset();
  ASSERT_TRUE(p.submit(dev_payload("22.11.0")));
  ASSERT_TRUE(wait_state(p, State::kRunning));
  p.stop();
}

TEST(Provisioner, ResumesAtTheInterruptedStepAfterRestart) {
  auto root = temp_root();
  {
    FakeRunner runner;
    runner.block_kind = StepKind::kRuntime;
    Provisioner p(root, 6001, runner);
    p.load();
    p.start();
    ASSERT_TRUE(p.submit(dev_payload()));
    runner.wait_for_call(StepKind::kRuntime);
    p.stop();  // the agent goes away mid-step
  }
  FakeRunner runner;
  Provisioner p(root, 6001, runner);
  p.load();
  EXPECT_EQ(p.state(), State::kInstalling);
  EXPECT_EQ(p.status()["install_step"], "install runtime node 20.18.0");
  p.start();
  ASSERT_TRUE(wait_state(p, State::kRunning));
  auto calls = runner.snapshot();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.front(), StepKind::kRuntime);  // not kLayout again
  p.stop();
}

TEST(Provisioner, PayloadWithoutStateStartsFromTheTop) {
  auto root = temp_root();
  ASSERT_TRUE(fs::make_dirs(root + "/opt/zlh-agent/config"));
  ASSERT_TRUE(fs::write_file_atomic(root + "/opt/zlh-agent/config/payload.json",
                                    dev_payload().to_json().dump()));
  FakeRunner runner;
  Provisioner p(root, 6001, runner);
  p.load();
  EXPECT_EQ(p.state(), State::kInstalling);
  p.start();
  ASSERT_TRUE(wait_state(p, State::kRunning));
  EXPECT_EQ(runner.snapshot().front(), StepKind::kLayout);
  p.stop();
}

TEST(Provisioner, CorruptStoredPayloadIsError) {
  auto root = temp_root();
  ASSERT_TRUE(fs::make_dirs(root + "/opt/zlh-agent/config"));
  ASSERT_TRUE(fs::write_file_atomic(root + "/opt/zlh-agent/config/payload.json", "{garbage"));
  FakeRunner runner;
  Provisioner p(root, 6001, runner);
  p.load();
  EXPECT_EQ(p.state(), State::kError);
  EXPECT_NE(p.status()["error"].get<std::string>().find("stored payload invalid"),
            std::string::npos);
}

TEST(Provisioner, ContainerTypeCannotChangeOnceProvisioned) {
  auto root = temp_root();
  FakeRunner runner;
  Provisioner p(root, 6001, runner);
  p.load();
  p.start();
  ASSERT_TRUE(p.submit(dev_payload()));
  ASSERT_TRUE(wait_state(p, State::kRunning));
  payload::Payload g;
  g.vmid = 6001;
  g.container_type = ContainerType::kGame;
  g.game = "minecraft";
  g.variant = "paper";
  g.version = "1.21.4";
  g.memory_mb = 2048;
  g.eula = true;
  auto r = p.submit(g);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kConflict);
  p.stop();
}

}  // namespace
}  // namespace zlh::agent
