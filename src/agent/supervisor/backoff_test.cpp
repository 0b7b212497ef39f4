#include "agent/supervisor/backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <vector>

namespace zlh::agent::supervisor {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Crashes after `ran` of running, then restarts after the decided delay.
CrashPolicy::Decision run_then_crash(CrashPolicy& p, FakeClock& clock, milliseconds ran) {
  clock.advance(ran);
  CrashPolicy::Decision d = p.on_crash(1, 0);
  if (d.restart) {
    clock.advance(d.delay);
    p.on_start();
  }
  return d;
}

CrashPolicyConfig no_give_up() {
  CrashPolicyConfig cfg;
  cfg.max_crashes = 1000;
  return cfg;
}

TEST(BackoffTest, DoublesUpToCapWithJitter) {
  FakeClock clock;
  CrashPolicy p(no_give_up(), clock, 42);
  p.on_start();
  const std::vector<int64_t> want = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  bool any_jitter = false;
  for (int64_t base : want) {
    auto d = run_then_crash(p, clock, 10s);
    ASSERT_TRUE(d.restart);
    EXPECT_EQ(p.current_backoff(), milliseconds(base));
    EXPECT_GE(d.delay.count(), base * 8 / 10);
    EXPECT_LE(d.delay.count(), base * 12 / 10);
    any_jitter |= d.delay != milliseconds(base);
  }
  EXPECT_TRUE(any_jitter);
}

TEST(BackoffTest, SameSeedSameDelays) {
  auto delays = [](uint64_t seed) {
    FakeClock clock;
    CrashPolicy p(no_give_up(), clock, seed);
    p.on_start();
    std::vector<milliseconds> out;
    for (int i = 0; i < 8; ++i) out.push_back(run_then_crash(p, clock, 1s).delay);
    return out;
  };
  EXPECT_EQ(delays(7), delays(7));
  EXPECT_NE(delays(7), delays(8));
}

TEST(BackoffTest, ResetsAfterStableRun) {
  FakeClock clock;
  CrashPolicy p(no_give_up(), clock, 1);
  p.on_start();
  for (int i = 0; i < 4; ++i) run_then_crash(p, clock, 1s);
  EXPECT_EQ(p.current_backoff(), 8s);
  run_then_crash(p, clock, 5min - 1ms);  // just short of stable: keeps doubling
  EXPECT_EQ(p.current_backoff(), 16s);
  run_then_crash(p, clock, 5min);
  EXPECT_EQ(p.current_backoff(), 1s);
  run_then_crash(p, clock, 1s);
  EXPECT_EQ(p.current_backoff(), 2s);
}

TEST(CrashPolicyTest, SixthCrashWithinWindowGivesUp) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  p.on_start();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(run_then_crash(p, clock, 1s).restart) << i;
  auto d = run_then_crash(p, clock, 1s);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.delay, 0ms);
  EXPECT_TRUE(p.gave_up());
  EXPECT_EQ(p.crash_count(), 6);
  // Stays given up, however much later the next crash comes.
  clock.advance(1h);
  EXPECT_FALSE(p.on_crash(1, 0).restart);
  EXPECT_TRUE(p.gave_up());
}

TEST(CrashPolicyTest, CrashesSpreadOverMoreThanWindowNeverGiveUp) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  p.on_start();
  // One crash every 2 min: the crash 10 min back has just left the window,
  // so a window never holds more than 5.
  for (int i = 0; i < 30; ++i) {
    auto d = p.on_crash(1, 0);
    ASSERT_TRUE(d.restart) << i;
    clock.advance(d.delay);
    p.on_start();
    clock.advance(2min - d.delay);
  }
  EXPECT_FALSE(p.gave_up());
  EXPECT_EQ(p.crash_count(), 30);
}

TEST(CrashPolicyTest, ManualStartClearsGiveUp) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  p.on_start();
  for (int i = 0; i < 6; ++i) run_then_crash(p, clock, 1s);
  ASSERT_TRUE(p.gave_up());
  p.on_manual_start();
  p.on_start();
  EXPECT_FALSE(p.gave_up());
  EXPECT_EQ(p.crash_count(), 6);  // history kept
  auto d = run_then_crash(p, clock, 1s);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(p.current_backoff(), 1s);
}

TEST(CrashPolicyTest, CleanStopIsNotACrash) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  p.on_start();
  run_then_crash(p, clock, 1s);
  run_then_crash(p, clock, 1s);
  clock.advance(10s);
  p.on_clean_stop();
  EXPECT_EQ(p.crash_count(), 2);
  EXPECT_FALSE(p.gave_up());
  EXPECT_EQ(p.current_backoff(), 2s);
  // Many stop/start cycles never give up.
  for (int i = 0; i < 10; ++i) {
    p.on_start();
    clock.advance(1s);
    p.on_clean_stop();
  }
  EXPECT_EQ(p.crash_count(), 2);
  EXPECT_FALSE(p.gave_up());
}

TEST(CrashPolicyTest, ReportsLastExitAndCrashTime) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  EXPECT_FALSE(p.last_exit());
  EXPECT_FALSE(p.last_crash_at());
  p.on_start();
  clock.advance(3s);
  p.on_crash(137, SIGKILL);
  ASSERT_TRUE(p.last_exit());
  EXPECT_EQ(p.last_exit()->signal, SIGKILL);
  EXPECT_FALSE(p.last_exit()->code);
  EXPECT_EQ(p.last_crash_at(), clock.wall());
  clock.advance(5s);
  p.on_start();
  clock.advance(1s);
  p.on_crash(3, 0);
  EXPECT_EQ(p.last_exit()->code, 3);
  EXPECT_FALSE(p.last_exit()->signal);
  EXPECT_EQ(p.last_crash_at(), clock.wall());
}

TEST(CrashPolicyTest, JsonRoundTripKeepsWindow) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  p.on_start();
  for (int i = 0; i < 5; ++i) run_then_crash(p, clock, 1s);
  nlohmann::json state = p.to_json();

  // A new agent after a reboot: another steady origin, the same wall time.
  FakeClock later(std::chrono::steady_clock::time_point{5h}, clock.wall() + 30s);
  auto q = CrashPolicy::from_json(state, {}, later, 2);
  ASSERT_TRUE(q) << q.error().to_string();
  EXPECT_EQ(q->crash_count(), 5);
  EXPECT_EQ(q->current_backoff(), 16s);
  EXPECT_EQ(q->last_crash_at(), p.last_crash_at());
  EXPECT_EQ(q->last_exit()->code, 1);
  EXPECT_FALSE(q->gave_up());
  // The restored window still holds 5 crashes: a 6th one gives up.
  later.advance(1s);
  EXPECT_FALSE(q->on_crash(1, 0).restart);

  // Once the window has passed, the same history no longer counts.
  FakeClock much_later(std::chrono::steady_clock::time_point{5h}, clock.wall() + 11min);
  auto r = CrashPolicy::from_json(state, {}, much_later, 2);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->on_crash(1, 0).restart);
}

TEST(CrashPolicyTest, JsonRoundTripKeepsGiveUp) {
  FakeClock clock;
  CrashPolicy p({}, clock, 1);
  p.on_start();
  for (int i = 0; i < 6; ++i) run_then_crash(p, clock, 1s);
  ASSERT_TRUE(p.gave_up());
  auto q = CrashPolicy::from_json(p.to_json(), {}, clock, 1);
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->gave_up());
  EXPECT_EQ(q->crash_count(), 6);
  EXPECT_EQ(q->to_json(), p.to_json());
}

TEST(CrashPolicyTest, JsonRoundTripKeepsStabilityTimer) {
  FakeClock clock;
  CrashPolicy p(no_give_up(), clock, 1);
  p.on_start();
  for (int i = 0; i < 3; ++i) run_then_crash(p, clock, 1s);
  clock.advance(4min);
  auto q = CrashPolicy::from_json(p.to_json(), no_give_up(), clock, 1);
  ASSERT_TRUE(q);
  clock.advance(1min);  // 5 min since the service started, across the restart
  q->on_crash(1, 0);
  EXPECT_EQ(q->current_backoff(), 1s);
}

TEST(CrashPolicyTest, FromJsonRejectsMalformedState) {
  FakeClock clock;
  auto r = CrashPolicy::from_json(nlohmann::json{{"crash_count", "x"}}, {}, clock, 1);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kInvalid));
  EXPECT_FALSE(CrashPolicy::from_json(nlohmann::json::array(), {}, clock, 1));
}

}  // namespace
}  // namespace zlh::agent::supervisor
