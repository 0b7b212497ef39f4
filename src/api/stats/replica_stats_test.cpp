// Two replicas' samplers on one store: each server is sampled by exactly
// one of them, and a viewer on the other replica gets its samples through
// the store (ReplicaStats).
#include "api/stats/replica_stats.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "api/cluster/replica.hpp"
#include "api/stats/inert_driver_test.hpp"
#include "api/stats/stats_routes.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::stats {
namespace {

using namespace std::chrono_literals;

// Counts how often each vmid is asked for; every one asked runs.
class CountingDriver final : public testing::InertDriver {
 public:
  Result<std::map<int, drivers::RawCounters>> sample(const std::vector<int>& vmids) override {
    std::lock_guard lk(mu_);
    std::map<int, drivers::RawCounters> out;
    for (int v : vmids) {
      int n = ++asked_[v];
      drivers::RawCounters r;
      r.at = std::chrono::steady_clock::time_point{} + std::chrono::seconds(2 * n);
      r.cpu_ns = uint64_t(n) * 1'000'000'000;
      r.memory_bytes = 1000 + uint64_t(v);
      out[v] = r;
    }
    return out;
  }
  std::map<int, int> asked() {
    std::lock_guard lk(mu_);
    return asked_;
  }

 private:
  std::mutex mu_;
  std::map<int, int> asked_;
};

class RecordingConn final : public http::WsConn {
 public:
  void send_binary(std::string) override {}
  void send_text(std::string data) override {
    std::lock_guard lk(mu);
    texts.push_back(std::move(data));
  }
  void close(uint16_t, std::string) override {}
  size_t queued_bytes() const override { return 0; }
  uint64_t dropped_bytes() const override { return 0; }
  std::vector<std::string> got() {
    std::lock_guard lk(mu);
    return texts;
  }
  std::mutex mu;
  std::vector<std::string> texts;
};

// One replica's stats: its sampler (owned servers only), fan-out and sharing.
struct Side {
  Side(store::Store& st, cluster::Replica& r)
      : replica(r),
        sampler(driver, targets_from(st, [&r](int64_t id) { return r.owns(id); })),
        fanout(sampler),
        shared({st, sampler, fanout, [&r](int64_t id) { return r.owns(id); },
                [&r] { return r.live().size() <= 1; }}) {
    sampler.on_cycle([this](const Fresh& f) { shared.on_cycle(f); });
    fanout.set_history([this](int64_t id) { return shared.history(id); });
  }
  void cycle() {
    sampler.run_cycle();
    std::this_thread::sleep_for(2ms);  // distinct wall-clock t per cycle
  }
  cluster::Replica& replica;
  CountingDriver driver;
  Sampler sampler;
  Fanout fanout;
  ReplicaStats shared;
};

class ReplicaStatsTest : public store::testing::SqliteStoreTest {
 protected:
  static constexpr int kServers = 30;
  void SetUp() override {
    SqliteStoreTest::SetUp();
    const int64_t owner = make_user("owner");
    for (int i = 1; i <= kServers; ++i) {
      store::NewServer ns;
      ns.owner_id = owner;
      ns.hostname_prefix = "dev-";
      auto c = store->create_server(ns, std::vector<std::string>{"s"});
      ASSERT_TRUE(c) << c.error().to_string();
      ASSERT_TRUE(store->update_job_state(c->job.id, store::JobState::kRunning));
      ASSERT_TRUE(store->update_job_state(c->job.id, store::JobState::kDone));
      ASSERT_TRUE(store->update_server(c->server.id, {.state = store::ServerState::kReady}));
      vmid_of[c->server.id] = *c->server.vmid;
    }
    a = replica("replica-a");
    b = replica("replica-b");
    a->beat();
    side_a = std::make_unique<Side>(*store, *a);
    side_b = std::make_unique<Side>(*store, *b);
  }
  std::unique_ptr<cluster::Replica> replica(std::string id) {
    cluster::ReplicaOptions o{.id = std::move(id), .driver = "proxmox", .host = "h", .ttl = 15s};
    o.clock = clock.fn();
    o.heartbeat_thread = false;
    auto r = cluster::Replica::start(*store, o);
    EXPECT_TRUE(r) << r.error().to_string();
    return std::move(*r);
  }
  int64_t owned_by(cluster::Replica& r) {
    for (auto [id, vmid] : vmid_of)
      if (r.owns(id)) return id;
    ADD_FAILURE() << r.id() << " owns nothing";
    return 0;
  }

  std::map<int64_t, int> vmid_of;
  std::unique_ptr<cluster::Replica> a, b;
  std::unique_ptr<Side> side_a, side_b;
};

TEST_F(ReplicaStatsTest, EachServerIsSampledByExactlyOneReplica) {
  for (int i = 0; i < 3; ++i) {
    side_a->cycle();
    side_b->cycle();
  }
  auto asked_a = side_a->driver.asked(), asked_b = side_b->driver.asked();
  EXPECT_FALSE(asked_a.empty());
  EXPECT_FALSE(asked_b.empty());
  for (auto [id, vmid] : vmid_of) {
    const int na = asked_a.count(vmid) ? asked_a[vmid] : 0;
    const int nb = asked_b.count(vmid) ? asked_b[vmid] : 0;
    EXPECT_EQ(na + nb, 3) << "server " << id;
    EXPECT_TRUE(na == 0 || nb == 0) << "server " << id << " sampled by both";
  }
}

TEST_F(ReplicaStatsTest, AViewerOnTheOtherReplicaSeesTheSamples) {
  for (int i = 0; i < 2; ++i) side_b->cycle();
  const int64_t id = owned_by(*b);
  // GET …/stats on a: b's ring, through the store.
  auto ring = side_a->shared.history(id);
  auto own = side_b->sampler.history(id);
  ASSERT_EQ(ring.size(), own.size());
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_EQ(ring.back().t_ms, own.back().t_ms);
  EXPECT_EQ(ring.back().memory_bytes, own.back().memory_bytes);
  EXPECT_EQ(ring.back().cpu_cores, own.back().cpu_cores);
  // The stream on a: the ring, then each new sample of b once.
  auto conn = std::make_shared<RecordingConn>();
  auto sub = side_a->fanout.subscribe(id, conn);
  side_a->shared.follow_once();  // nothing new: nothing sent
  EXPECT_EQ(conn->got().size(), 1u);
  side_b->cycle();
  side_a->shared.follow_once();
  side_a->shared.follow_once();
  auto got = conn->got();
  ASSERT_EQ(got.size(), 2u);
  auto j = nlohmann::json::parse(got[1]);
  EXPECT_EQ(j["t"], side_b->sampler.latest(id)->t_ms);
}

TEST_F(ReplicaStatsTest, AloneNothingGoesThroughTheStore) {
  b->stop();
  a->beat();
  for (int i = 0; i < 2; ++i) side_a->cycle();
  const int64_t id = vmid_of.begin()->first;
  EXPECT_TRUE(store->list_server_samples(id, 0)->empty());
  EXPECT_EQ(side_a->shared.history(id).size(), 2u);
}

TEST_F(ReplicaStatsTest, TheFirstSharedCycleCopiesTheWholeRing) {
  b->stop();
  a->beat();
  for (int i = 0; i < 3; ++i) side_a->cycle();
  auto c = replica("replica-c");  // a is no longer alone
  a->beat();
  side_a->cycle();
  const int64_t id = owned_by(*a);
  EXPECT_EQ(store->list_server_samples(id, 0)->size(), 4u);
}

}  // namespace
}  // namespace zlh::api::stats
