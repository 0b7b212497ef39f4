// Store::*_replica, the installation record and published samples
// (replicas.cpp), on the store's fake clock.
#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using testing::StoreTest;
using namespace std::chrono_literals;

class ReplicaStoreTest : public StoreTest {
 protected:
  static NewReplica replica(std::string id, std::string driver = "proxmox",
                            std::string host = "h1") {
    NewReplica r;
    r.id = std::move(id);
    r.driver = std::move(driver);
    r.host = std::move(host);
    r.pid = 42;
    r.ttl = 15s;
    r.single_host = r.driver != "proxmox";
    return r;
  }
  std::vector<std::string> live_ids() {
    auto l = store->list_live_replicas(clock.now());
    EXPECT_TRUE(l) << l.error().to_string();
    std::vector<std::string> ids;
    if (l)
      for (const auto& r : *l) ids.push_back(r.id);
    return ids;
  }
};

TEST_P(ReplicaStoreTest, RegisterRecordsTheDeploymentAndListsLive) {
  EXPECT_TRUE(store->get_deployment().error().is(codes::kNotFound));
  auto a = store->register_replica(replica("b-replica"));
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->started_at, clock.now());
  EXPECT_EQ(a->expires_at, clock.now() + 15s);
  EXPECT_EQ(a->pid, 42);
  ASSERT_TRUE(store->register_replica(replica("a-replica", "proxmox", "h2")));
  EXPECT_EQ(live_ids(), (std::vector<std::string>{"a-replica", "b-replica"}));
  auto d = store->get_deployment();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->driver, "proxmox");
  EXPECT_EQ(d->host, "h1");
  // The same id twice: refused.
  EXPECT_TRUE(store->register_replica(replica("a-replica")).error().is(codes::kConflict));
}

TEST_P(ReplicaStoreTest, InvalidRegistrations) {
  auto r = replica("");
  EXPECT_TRUE(store->register_replica(r).error().is(codes::kInvalid));
  r = replica("x");
  r.ttl = 0ms;
  EXPECT_TRUE(store->register_replica(r).error().is(codes::kInvalid));
  r = replica("x", "");
  EXPECT_TRUE(store->register_replica(r).error().is(codes::kInvalid));
}

TEST_P(ReplicaStoreTest, HeartbeatExtendsAndExpiryRemoves) {
  ASSERT_TRUE(store->register_replica(replica("a")));
  ASSERT_TRUE(store->register_replica(replica("b")));
  clock.advance(10s);
  auto hb = store->heartbeat_replica("a", 15s);
  ASSERT_TRUE(hb) << hb.error().to_string();
  EXPECT_EQ(hb->heartbeat_at, clock.now());
  EXPECT_EQ(hb->expires_at, clock.now() + 15s);
  clock.advance(5s);  // b's 15 s are over
  EXPECT_EQ(live_ids(), std::vector<std::string>{"a"});
  // An expired replica's beat is refused: the others took its servers.
  EXPECT_TRUE(store->heartbeat_replica("b", 15s).error().is(codes::kNotFound));
  auto purged = store->purge_expired_replicas(clock.now());
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1);
  ASSERT_TRUE(store->deregister_replica("a"));
  ASSERT_TRUE(store->deregister_replica("a"));  // repeatable
  EXPECT_TRUE(live_ids().empty());
  EXPECT_TRUE(store->heartbeat_replica("a", 15s).error().is(codes::kNotFound));
  // A dead replica's row never blocks re-registering under its id.
  ASSERT_TRUE(store->register_replica(replica("b")));
}

TEST_P(ReplicaStoreTest, AnotherDriverIsRefused) {
  ASSERT_TRUE(store->register_replica(replica("a", "proxmox")));
  auto r = store->register_replica(replica("b", "lxc"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kConflict));
  EXPECT_NE(r.error().message.find("proxmox installation"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("--driver proxmox"), std::string::npos);
  EXPECT_EQ(live_ids(), std::vector<std::string>{"a"});
  // Not live any more, but the database holds a server: still refused.
  ASSERT_TRUE(store->deregister_replica("a"));
  auto owner = make_user("ann");
  NewServer n;
  n.owner_id = owner;
  n.name = "srv";
  n.hostname_prefix = "dev-";
  ASSERT_TRUE(store->create_server(n, std::vector<std::string>{"create"}));
  EXPECT_TRUE(store->register_replica(replica("b", "lxc")).error().is(codes::kConflict));
}

TEST_P(ReplicaStoreTest, AnEmptyInstallationMayChangeDriver) {
  ASSERT_TRUE(store->register_replica(replica("a", "local")));
  ASSERT_TRUE(store->deregister_replica("a"));
  ASSERT_TRUE(store->register_replica(replica("b", "proxmox", "h9")));
  EXPECT_EQ(store->get_deployment()->driver, "proxmox");
}

TEST_P(ReplicaStoreTest, SingleHostDriversRunOneReplica) {
  ASSERT_TRUE(store->register_replica(replica("a", "lxc")));
  auto r = store->register_replica(replica("b", "lxc"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kConflict));
  EXPECT_NE(r.error().message.find("replica a on host h1 is live"), std::string::npos)
      << r.error().message;
  // Once a's heartbeat has expired (a crash), the next start is admitted.
  clock.advance(15s);
  ASSERT_TRUE(store->register_replica(replica("b", "lxc")));
  EXPECT_EQ(live_ids(), std::vector<std::string>{"b"});
}

TEST_P(ReplicaStoreTest, SingleHostDriversStayOnTheirHost) {
  ASSERT_TRUE(store->register_replica(replica("a", "local", "h1")));
  ASSERT_TRUE(store->deregister_replica("a"));
  auto r = store->register_replica(replica("b", "local", "h2"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kConflict));
  EXPECT_NE(r.error().message.find("--adopt-host"), std::string::npos) << r.error().message;
  // The operator moved the installation: --adopt-host records the new host,
  // and the old one is refused from then on.
  auto moved = replica("b", "local", "h2");
  moved.adopt_host = true;
  ASSERT_TRUE(store->register_replica(moved));
  EXPECT_EQ(store->get_deployment()->host, "h2");
  ASSERT_TRUE(store->deregister_replica("b"));
  EXPECT_TRUE(store->register_replica(replica("c", "local", "h1")).error().is(codes::kConflict));
}

TEST_P(ReplicaStoreTest, AdoptingAHostIsRefusedWhileAnotherReplicaIsLive) {
  ASSERT_TRUE(store->register_replica(replica("a", "lxc", "h1")));
  auto moved = replica("b", "lxc", "h2");
  moved.adopt_host = true;
  EXPECT_TRUE(store->register_replica(moved).error().is(codes::kConflict));
  EXPECT_EQ(store->get_deployment()->host, "h1");
}

TEST_P(ReplicaStoreTest, ProxmoxReplicasMayRunOnAnyHost) {
  ASSERT_TRUE(store->register_replica(replica("a", "proxmox", "h1")));
  ASSERT_TRUE(store->register_replica(replica("b", "proxmox", "h2")));
  ASSERT_TRUE(store->register_replica(replica("c", "proxmox", "h3")));
  EXPECT_EQ(live_ids().size(), 3u);
}

TEST_P(ReplicaStoreTest, PublishedSamplesAgeOut) {
  std::vector<SampleRow> rows = {
      {1, 1000, R"({"t":1000})"}, {1, 3000, R"({"t":3000})"}, {2, 3000, R"({"t":3000})"}};
  ASSERT_TRUE(store->append_server_samples(rows, 0));
  ASSERT_TRUE(store->append_server_samples(rows, 0));  // a row already there is kept
  auto one = store->list_server_samples(1, 0);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 2u);
  EXPECT_EQ((*one)[0].t_ms, 1000);
  EXPECT_EQ((*one)[1].json, R"({"t":3000})");
  EXPECT_EQ(store->list_server_samples(1, 1000)->size(), 1u);
  std::vector<SampleRow> later = {{1, 5000, R"({"t":5000})"}};
  ASSERT_TRUE(store->append_server_samples(later, 3000));
  EXPECT_EQ(store->list_server_samples(1, 0)->size(), 2u);  // 3000 and 5000
  EXPECT_EQ(store->list_server_samples(2, 0)->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Engines, ReplicaStoreTest, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
