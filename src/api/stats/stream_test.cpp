// The stream's fan-out against recording connections: the ring first, then
// every sample once and in order to every viewer; driver calls do not grow
// with viewers; a viewer too far behind loses samples without holding up
// the others; unsubscribing (and outliving the fan-out) is clean.
#include "api/stats/stream.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "api/stats/inert_driver_test.hpp"

namespace zlh::api::stats {
namespace {

using nlohmann::json;

class CountingDriver final : public testing::InertDriver {
 public:
  Result<std::map<int, drivers::RawCounters>> sample(const std::vector<int>& vmids) override {
    ++calls;
    std::map<int, drivers::RawCounters> out;
    for (int v : vmids) {
      drivers::RawCounters r;
      r.at = std::chrono::steady_clock::time_point{} + std::chrono::seconds(2 * calls);
      r.cpu_ns = uint64_t(calls) * 1'000'000'000;
      r.memory_bytes = 1000 + uint64_t(v);
      out[v] = r;
    }
    return out;
  }
  std::atomic<int> calls{0};
};

// Records what is queued; `queued` is what it claims to hold.
class RecordingConn final : public http::WsConn {
 public:
  void send_binary(std::string) override { ADD_FAILURE() << "binary frame"; }
  void send_text(std::string data) override {
    std::lock_guard lk(mu);
    texts.push_back(std::move(data));
  }
  void close(uint16_t, std::string) override {}
  size_t queued_bytes() const override { return queued.load(); }
  uint64_t dropped_bytes() const override { return 0; }
  std::vector<std::string> got() {
    std::lock_guard lk(mu);
    return texts;
  }
  std::mutex mu;
  std::vector<std::string> texts;
  std::atomic<size_t> queued{0};
};

struct Rig {
  CountingDriver driver;
  // The sampler's t is wall-clock ms: a distinct, increasing one per cycle
  // needs cycles at least 1 ms apart.
  Sampler sampler{driver, [] { return std::vector<Target>{{1, 101}, {2, 102}}; }};
  Fanout fanout{sampler};
  Rig() {
    sampler.on_cycle([this](const Fresh& f) { fanout.publish(f); });
  }
  void cycle() {
    sampler.run_cycle();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
};

TEST(StatsStream, TheRingThenEachSampleOnceInOrderToEveryViewer) {
  Rig rig;
  rig.cycle();
  rig.cycle();
  auto a = std::make_shared<RecordingConn>(), b = std::make_shared<RecordingConn>();
  auto sa = rig.fanout.subscribe(1, a);
  auto sb = rig.fanout.subscribe(1, b);
  EXPECT_EQ(rig.fanout.viewers(), 2u);
  for (int i = 0; i < 3; ++i) rig.cycle();
  EXPECT_EQ(rig.driver.calls, 5);  // one per cycle, whatever the viewers
  auto ga = a->got();
  ASSERT_EQ(ga.size(), 4u);
  EXPECT_EQ(ga, b->got());
  auto ring = json::parse(ga[0]);
  EXPECT_EQ(ring["server_id"], 1);
  ASSERT_EQ(ring["samples"].size(), 2u);
  int64_t last = ring["samples"][1]["t"];
  for (size_t i = 1; i < ga.size(); ++i) {
    auto s = json::parse(ga[i]);
    EXPECT_EQ(s["memory_bytes"], 1101);  // server 1's, not server 2's
    EXPECT_GT(s["t"].get<int64_t>(), last);
    last = s["t"];
  }
  EXPECT_EQ(rig.fanout.sent(), 6u);
  // Closing one: the other goes on; nothing more for the closed one.
  sa.reset();
  EXPECT_EQ(rig.fanout.viewers(), 1u);
  rig.cycle();
  EXPECT_EQ(a->got().size(), 4u);
  EXPECT_EQ(b->got().size(), 5u);
}

TEST(StatsStream, AViewerTooFarBehindLosesSamplesNotTheOthers) {
  Rig rig;
  rig.cycle();
  auto slow = std::make_shared<RecordingConn>(), fast = std::make_shared<RecordingConn>();
  auto ss = rig.fanout.subscribe(1, slow);
  auto sf = rig.fanout.subscribe(1, fast);
  slow->queued = (1 << 20);  // its peer stopped reading
  for (int i = 0; i < 4; ++i) rig.cycle();
  EXPECT_EQ(slow->got().size(), 1u);  // the ring only
  EXPECT_EQ(fast->got().size(), 5u);
  EXPECT_EQ(rig.fanout.dropped(), 4u);
  // Drained: it resumes with the next sample, still connected.
  slow->queued = 0;
  rig.cycle();
  EXPECT_EQ(slow->got().size(), 2u);
  EXPECT_EQ(json::parse(slow->got().back())["t"], json::parse(fast->got().back())["t"]);
}

TEST(StatsStream, ViewersAreSubscribedWhileCyclesRunWithoutLosingOrRepeating) {
  CountingDriver driver;
  Sampler sampler(driver,
                  [] {
                    return std::vector<Target>{{1, 101}};
                  },
                  {std::chrono::milliseconds(2), 300});
  Fanout fanout(sampler);
  sampler.on_cycle([&](const Fresh& f) { fanout.publish(f); });
  auto cycles_past = [&](int n) {  // waits (with a deadline) for n more cycles
    const int until = driver.calls + n;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (driver.calls < until && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    return driver.calls >= until;
  };
  sampler.start();
  ASSERT_TRUE(cycles_past(2));
  std::vector<std::shared_ptr<RecordingConn>> conns;
  std::vector<std::unique_ptr<Fanout::Subscription>> subs;
  for (int i = 0; i < 50; ++i) {
    conns.push_back(std::make_shared<RecordingConn>());
    subs.push_back(fanout.subscribe(1, conns.back()));
    if (i % 5 == 0) EXPECT_TRUE(cycles_past(1));
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  EXPECT_TRUE(cycles_past(3));
  sampler.stop();
  for (auto& c : conns) {
    auto got = c->got();
    ASSERT_FALSE(got.empty());
    std::vector<int64_t> ts;
    for (const auto& s : json::parse(got[0])["samples"]) ts.push_back(s["t"]);
    for (size_t i = 1; i < got.size(); ++i) ts.push_back(json::parse(got[i])["t"]);
    for (size_t i = 1; i < ts.size(); ++i) EXPECT_GT(ts[i], ts[i - 1]);
    // Nothing skipped: the viewer saw everything the ring holds now.
    auto ring = sampler.history(1);
    if (!ring.empty()) EXPECT_EQ(ts.back(), ring.back().t_ms);
  }
}

TEST(StatsStream, ASubscriptionMayOutliveTheFanout) {
  CountingDriver driver;
  Sampler sampler(driver, [] { return std::vector<Target>{}; });
  auto conn = std::make_shared<RecordingConn>();
  std::unique_ptr<Fanout::Subscription> sub;
  {
    Fanout fanout(sampler);
    sub = fanout.subscribe(7, conn);
    EXPECT_EQ(json::parse(conn->got()[0])["samples"].size(), 0u);
  }
  sub.reset();
  EXPECT_EQ(driver.calls, 0);
}

}  // namespace
}  // namespace zlh::api::stats
