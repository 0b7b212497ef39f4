// The sampler and the sample arithmetic against a fake driver whose
// counters the test sets: rates from two readings, absent rates (first
// reading, resets, unmeasured), the ring bound, servers that go, one driver
// call per cycle whatever the number of readers, and the loop thread.
#include "api/stats/sampler.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "api/stats/inert_driver_test.hpp"

namespace zlh::api::stats {
namespace {

using namespace std::chrono_literals;
using drivers::RawCounters;

class FakeDriver final : public testing::InertDriver {
 public:
  Result<std::map<int, RawCounters>> sample(const std::vector<int>& vmids) override {
    std::lock_guard lk(mu);
    ++calls;
    asked = vmids;
    if (error) return fail(codes::kUpstream, "down");
    std::map<int, RawCounters> out;
    for (int v : vmids)
      if (auto it = counters.find(v); it != counters.end()) out[v] = it->second;
    return out;
  }

  std::mutex mu;
  std::map<int, RawCounters> counters;  // what runs
  std::vector<int> asked;
  int calls = 0;
  bool error = false;
};

const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;

RawCounters raw(std::chrono::steady_clock::time_point at, uint64_t cpu_ns, uint64_t rx = 0) {
  RawCounters r;
  r.at = at;
  r.cpu_ns = cpu_ns;
  r.cores = 2;
  r.memory_bytes = 200ull << 20;
  r.memory_max = 1ull << 30;
  r.pids = 12;
  r.net_rx = rx;
  r.net_tx = rx / 2;
  return r;
}

TEST(StatsSample, RatesComeFromTwoReadings) {
  auto a = raw(t0, 5'000'000'000, 1'000);
  auto b = raw(t0 + 2s, 7'000'000'000, 2'001'000);  // one core for 2 s, 1 MB/s in
  auto first = compute_sample(std::nullopt, a, 42);
  EXPECT_EQ(first.t_ms, 42);
  EXPECT_FALSE(first.cpu_cores);
  EXPECT_FALSE(first.net_rx_bps);
  EXPECT_EQ(first.memory_bytes, 200ull << 20);
  auto s = compute_sample(a, b, 43);
  ASSERT_TRUE(s.cpu_cores);
  EXPECT_DOUBLE_EQ(*s.cpu_cores, 1.0);
  EXPECT_DOUBLE_EQ(*s.cpu_ratio(), 0.5);  // one of two allowed cores
  EXPECT_DOUBLE_EQ(*s.net_rx_bps, 1'000'000.0);
  EXPECT_DOUBLE_EQ(*s.net_tx_bps, 500'000.0);
  EXPECT_EQ(s.pids, 12u);
  EXPECT_EQ(s.memory_max, 1ull << 30);
}

TEST(StatsSample, ResetsAndUnmeasuredCountersHaveNoRate) {
  auto a = raw(t0, 9'000'000'000, 5'000);
  auto restarted = raw(t0 + 2s, 1'000'000'000, 10);
  auto s = compute_sample(a, restarted, 1);
  EXPECT_FALSE(s.cpu_cores);  // went back: a reset, not a negative rate
  EXPECT_FALSE(s.net_rx_bps);
  auto no_net = raw(t0 + 2s, 10'000'000'000);
  no_net.net_rx.reset();
  no_net.net_tx.reset();
  s = compute_sample(a, no_net, 1);
  EXPECT_TRUE(s.cpu_cores);
  EXPECT_FALSE(s.net_rx_bps);  // absent, never 0
  EXPECT_FALSE(s.net_tx_bps);
  EXPECT_FALSE(compute_sample(a, a, 1).cpu_cores);  // no time passed
}

TEST(StatsSample, ADriversCurrentCpuIsUsedAsItIs) {
  auto a = raw(t0, 0);
  a.cpu_cores_now = 0.25;
  EXPECT_DOUBLE_EQ(*compute_sample(std::nullopt, a, 1).cpu_cores, 0.25);
  auto b = raw(t0 + 2s, 0);
  b.cpu_cores_now = 1.5;
  EXPECT_DOUBLE_EQ(*compute_sample(a, b, 2).cpu_cores, 1.5);
}

TEST(Sampler, OneDriverCallPerCycleForAllServersAndAllReaders) {
  FakeDriver d;
  d.counters[101] = raw(t0, 0);
  d.counters[102] = raw(t0, 0);
  Sampler s(d, [] { return std::vector<Target>{{1, 101}, {2, 102}, {3, 103}}; });
  s.run_cycle();
  EXPECT_EQ(d.calls, 1);
  EXPECT_EQ(d.asked, (std::vector<int>{101, 102, 103}));
  d.counters[101] = raw(t0 + 2s, 3'000'000'000);
  s.run_cycle();
  EXPECT_EQ(d.calls, 2);
  EXPECT_EQ(s.driver_calls(), 2u);
  // Any number of readers: no driver call.
  for (int i = 0; i < 50; ++i) (void)s.history(1), (void)s.latest(2);
  EXPECT_EQ(d.calls, 2);
  auto h = s.history(1);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_FALSE(h[0].cpu_cores);
  EXPECT_DOUBLE_EQ(*h[1].cpu_cores, 1.5);
  EXPECT_TRUE(s.history(3).empty());  // stopped: known, no samples
  EXPECT_EQ(s.servers(), (std::vector<int64_t>{1, 2, 3}));
}

TEST(Sampler, RingKeepsTheLastSamples) {
  FakeDriver d;
  Sampler s(d, [] { return std::vector<Target>{{7, 700}}; }, {.interval = 2s, .ring_size = 5});
  for (int i = 0; i < 12; ++i) {
    d.counters[700] = raw(t0 + i * 2s, uint64_t(i) * 1'000'000'000);
    s.run_cycle();
  }
  auto h = s.history(7);
  ASSERT_EQ(h.size(), 5u);
  for (const auto& x : h) EXPECT_DOUBLE_EQ(*x.cpu_cores, 0.5);
  EXPECT_EQ(d.calls, 12);
}

TEST(Sampler, GoneServersAreDroppedAndAStopBreaksTheRates) {
  FakeDriver d;
  std::vector<Target> targets{{1, 101}, {2, 102}};
  Sampler s(d, [&] { return targets; });
  d.counters[101] = raw(t0, 0);
  d.counters[102] = raw(t0, 0);
  s.run_cycle();
  targets = {{1, 101}};   // server 2 deleted
  d.counters.erase(101);  // server 1 stopped
  s.run_cycle();
  EXPECT_EQ(s.servers(), (std::vector<int64_t>{1}));
  EXPECT_TRUE(s.history(2).empty());
  d.counters[101] = raw(t0 + 4s, 1'000'000);  // started again
  s.run_cycle();
  auto h = s.history(1);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_FALSE(h[1].cpu_cores);  // no rate across the stop
  targets.clear();
  s.run_cycle();
  EXPECT_TRUE(s.servers().empty());
  EXPECT_EQ(d.calls, 3);  // no targets: no driver call
}

TEST(Sampler, AFailedCallAddsNothingAndTheNextRateSpansTheGap) {
  FakeDriver d;
  Sampler s(d, [] { return std::vector<Target>{{1, 101}}; });
  d.counters[101] = raw(t0, 0);
  s.run_cycle();
  d.error = true;
  s.run_cycle();
  EXPECT_EQ(s.history(1).size(), 1u);
  d.error = false;
  d.counters[101] = raw(t0 + 4s, 4'000'000'000);
  s.run_cycle();
  auto h = s.history(1);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_DOUBLE_EQ(*h[1].cpu_cores, 1.0);
}

TEST(Sampler, TheThreadSamplesEveryInterval) {
  FakeDriver d;
  d.counters[101] = raw(t0, 0);
  Sampler s(d, [] { return std::vector<Target>{{1, 101}}; }, {.interval = 20ms});
  s.start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.driver_calls() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  s.stop();
  EXPECT_GE(s.driver_calls(), 3u);
  EXPECT_GE(s.history(1).size(), 3u);
  const auto calls = s.driver_calls();
  std::this_thread::sleep_for(60ms);  // stopped: no more cycles
  EXPECT_EQ(s.driver_calls(), calls);
}

}  // namespace
}  // namespace zlh::api::stats
