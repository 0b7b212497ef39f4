// Two pollers of two replicas (cluster::Replica) on one store: each server
// is polled by exactly one of them, and by the survivor once the other
// leaves.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "api/cluster/replica.hpp"
#include "api/poller/poller.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Counts status calls per ip.
class CountingAgents {
 public:
  AgentStatusFn fn() {
    return [this](const std::string& ip, int64_t) -> Result<json> {
      std::lock_guard lk(mu_);
      ++calls_[ip];
      return json{{"state", "running"}};
    };
  }
  std::map<std::string, int> calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }
  void clear() {
    std::lock_guard lk(mu_);
    calls_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

class PollerReplicasTest : public store::testing::SqliteStoreTest {
 protected:
  static constexpr int kServers = 40;
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
      ASSERT_TRUE(store->update_server(c->server.id, {.state = store::ServerState::kReady,
                                                      .ip = "10.0.0." + std::to_string(i)}));
    }
    a = replica("replica-a");
    b = replica("replica-b");
    a->beat();  // a learns about b
  }
  std::unique_ptr<cluster::Replica> replica(std::string id) {
    cluster::ReplicaOptions o{.id = std::move(id), .driver = "proxmox", .host = "h", .ttl = 15s};
    o.clock = clock.fn();
    o.heartbeat_thread = false;
    auto r = cluster::Replica::start(*store, o);
    EXPECT_TRUE(r) << r.error().to_string();
    return std::move(*r);
  }
  PollerConfig cfg(cluster::Replica& r) {
    PollerConfig c;
    c.interval = 10ms;
    c.spread = 0;
    c.clock = clock.fn();
    c.owns = [&r](int64_t id) { return r.owns(id); };
    return c;
  }

  std::unique_ptr<cluster::Replica> a, b;
  CountingAgents agents_a, agents_b;
};

TEST_F(PollerReplicasTest, EachServerIsPolledByExactlyOneReplica) {
  metrics::Registry reg_a, reg_b;
  Poller pa(*store, agents_a.fn(), cfg(*a), &reg_a);
  Poller pb(*store, agents_b.fn(), cfg(*b), &reg_b);
  for (int i = 0; i < 3; ++i) {
    pa.run_cycle();
    pb.run_cycle();
  }
  auto ca = agents_a.calls(), cb = agents_b.calls();
  const size_t polled_by_a = ca.size();
  EXPECT_FALSE(ca.empty());
  EXPECT_FALSE(cb.empty());
  for (int i = 1; i <= kServers; ++i) {
    const std::string ip = "10.0.0." + std::to_string(i);
    EXPECT_EQ(ca[ip] + cb[ip], 3) << ip;
    EXPECT_TRUE(ca[ip] == 0 || cb[ip] == 0) << ip << " polled by both replicas";
  }
  auto owned = [](metrics::Registry& r) {
    std::string m = r.render();
    auto at = m.find("\nzlh_poller_servers_owned ");
    EXPECT_NE(at, std::string::npos) << m;
    return at == std::string::npos ? 0 : std::stoi(m.substr(at + 26));
  };
  EXPECT_EQ(owned(reg_a) + owned(reg_b), kServers);
  EXPECT_NE(reg_a.render().find("zlh_poller_polls_total " + std::to_string(3 * polled_by_a) + "\n"),
            std::string::npos)
      << reg_a.render();
}

TEST_F(PollerReplicasTest, AReplicaLeavingHandsItsServersToTheOther) {
  Poller pa(*store, agents_a.fn(), cfg(*a));
  Poller pb(*store, agents_b.fn(), cfg(*b));
  b->stop();
  a->beat();
  pa.run_cycle();
  pb.run_cycle();
  EXPECT_EQ(agents_a.calls().size(), size_t(kServers));
  EXPECT_TRUE(agents_b.calls().empty());
}

TEST_F(PollerReplicasTest, AnExpiredReplicaStopsPollingBeforeTheOtherTakesOver) {
  Poller pa(*store, agents_a.fn(), cfg(*a));
  Poller pb(*store, agents_b.fn(), cfg(*b));
  clock.advance(16s);  // neither beat: both rows expired
  pa.run_cycle();
  pb.run_cycle();
  EXPECT_TRUE(agents_a.calls().empty());
  EXPECT_TRUE(agents_b.calls().empty());
  a->beat();  // a registers again, alone
  pa.run_cycle();
  EXPECT_EQ(agents_a.calls().size(), size_t(kServers));
}

TEST_F(PollerReplicasTest, AMembershipChangeRunsTheNextCycleAtOnce) {
  PollerConfig c = cfg(*a);
  c.interval = 1h;
  Poller pa(*store, agents_a.fn(), c);
  a->on_membership_change([&] { pa.membership_changed(); });
  pa.start();
  auto wait_for = [](auto pred) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    return pred();
  };
  ASSERT_TRUE(wait_for([&] { return pa.cycles() >= 1; }));
  b->stop();
  a->beat();  // b has left: a's poller cycles now, not in an hour
  EXPECT_TRUE(wait_for([&] { return pa.cycles() >= 2; }));
  EXPECT_TRUE(wait_for([&] { return agents_a.calls().size() == size_t(kServers); }));
  pa.stop();
}

}  // namespace
}  // namespace zlh::api
