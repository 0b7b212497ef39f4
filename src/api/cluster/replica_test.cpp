// cluster::Replica on a real store file: registration, ownership by
// rendezvous hashing, expiry and the heartbeat thread.
#include "api/cluster/replica.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <set>
#include <thread>

#include "api/store/test_util.hpp"

namespace zlh::api::cluster {
namespace {

using namespace std::chrono_literals;
using store::testing::SqliteStoreTest;

class ReplicaTest : public SqliteStoreTest {
 protected:
  ReplicaOptions opts(std::string id, std::string driver = "proxmox") {
    ReplicaOptions o;
    o.id = std::move(id);
    o.driver = std::move(driver);
    o.host = "host-a";
    o.ttl = 15s;
    o.clock = clock.fn();
    o.heartbeat_thread = false;
    return o;
  }
  std::unique_ptr<Replica> start(std::string id, std::string driver = "proxmox") {
    auto r = Replica::start(*store, opts(std::move(id), std::move(driver)));
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? std::move(*r) : nullptr;
  }
  // How many of `replicas` own each of the ids 1..n.
  static std::vector<int> owners(const std::vector<Replica*>& replicas, int n) {
    std::vector<int> count(n + 1, 0);
    for (int id = 1; id <= n; ++id)
      for (auto* r : replicas)
        if (r->owns(id)) ++count[id];
    return count;
  }
};

TEST(ReplicaId, HostnamePidAndEightHex) {
  const std::string id = make_replica_id();
  EXPECT_TRUE(std::regex_match(id, std::regex(".+-[0-9]+-[0-9a-f]{8}"))) << id;
  EXPECT_NE(id.find("-" + std::to_string(::getpid()) + "-"), std::string::npos);
  EXPECT_NE(make_replica_id(), id);
}

TEST(Rendezvous, ALeavingReplicaMovesOnlyItsServers) {
  const std::vector<std::string> three = {"a", "b", "c"}, two = {"a", "c"};
  int moved_from_others = 0, b_had = 0;
  for (int64_t s = 1; s <= 3000; ++s) {
    const auto& before = rendezvous_owner(three, s);
    const auto& after = rendezvous_owner(two, s);
    if (before == "b")
      ++b_had;
    else if (before != after)
      ++moved_from_others;
    EXPECT_EQ(rendezvous_owner(three, s), before);  // deterministic
  }
  EXPECT_EQ(moved_from_others, 0);
  EXPECT_GT(b_had, 700);  // about a third each
  EXPECT_LT(b_had, 1300);
}

TEST_F(ReplicaTest, TwoReplicasPartitionTheServers) {
  auto a = start("replica-a");
  auto b = start("replica-b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->live(), (std::vector<std::string>{"replica-a", "replica-b"}));
  a->beat();  // a learns about b
  EXPECT_EQ(a->live(), b->live());
  auto count = owners({a.get(), b.get()}, 500);
  int a_owns = 0;
  for (int id = 1; id <= 500; ++id) {
    EXPECT_EQ(count[id], 1) << "server " << id;
    if (a->owns(id)) ++a_owns;
  }
  EXPECT_GT(a_owns, 150);
  EXPECT_LT(a_owns, 350);
}

TEST_F(ReplicaTest, AStoppedReplicasServersMoveToTheOther) {
  auto a = start("replica-a");
  auto b = start("replica-b");
  ASSERT_TRUE(a && b);
  a->beat();
  std::atomic<int> changes{0};
  a->on_membership_change([&] { ++changes; });
  b->stop();
  b->stop();  // repeatable
  EXPECT_FALSE(b->owns(1));
  EXPECT_FALSE(b->healthy());
  a->beat();
  EXPECT_EQ(changes.load(), 1);
  EXPECT_EQ(a->live(), std::vector<std::string>{"replica-a"});
  for (int id = 1; id <= 200; ++id) EXPECT_TRUE(a->owns(id));
}

TEST_F(ReplicaTest, AnExpiredReplicasServersMoveAndItOwnsNothing) {
  auto a = start("replica-a");
  auto b = start("replica-b");
  ASSERT_TRUE(a && b);
  a->beat();
  // b stops beating (killed, or cut off from the database); a beats on.
  clock.advance(10s);
  a->beat();
  clock.advance(6s);  // b's row expired
  a->beat();
  EXPECT_EQ(a->live(), std::vector<std::string>{"replica-a"});
  auto count = owners({a.get(), b.get()}, 300);
  for (int id = 1; id <= 300; ++id) {
    EXPECT_TRUE(a->owns(id));
    EXPECT_FALSE(b->owns(id)) << "an expired replica must stop at once";
  }
  // b comes back: its beat registers it again and the split resumes.
  b->beat();
  a->beat();
  EXPECT_EQ(a->live(), (std::vector<std::string>{"replica-a", "replica-b"}));
  count = owners({a.get(), b.get()}, 300);
  for (int id = 1; id <= 300; ++id) EXPECT_EQ(count[id], 1);
}

TEST_F(ReplicaTest, SingleHostDriversRefuseASecondReplica) {
  auto a = start("replica-a", "lxc");
  ASSERT_TRUE(a);
  auto b = Replica::start(*store, opts("replica-b", "lxc"));
  ASSERT_FALSE(b);
  EXPECT_TRUE(b.error().is(codes::kConflict));
  EXPECT_NE(b.error().message.find("replica replica-a on host host-a is live"), std::string::npos)
      << b.error().message;
  auto p = Replica::start(*store, opts("replica-p", "proxmox"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("lxc installation"), std::string::npos) << p.error().message;
}

TEST_F(ReplicaTest, ACrashedProcessOnThisHostDoesNotBlockARestart) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // a pid that no longer runs
  store::NewReplica old{.id = "host-a-dead",
                        .driver = "local",
                        .host = "host-a",
                        .pid = child,
                        .ttl = 15s,
                        .single_host = true};
  ASSERT_TRUE(store->register_replica(old));
  auto r = Replica::start(*store, opts("replica-new", "local"));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ((*r)->live(), std::vector<std::string>{"replica-new"});
}

TEST_F(ReplicaTest, ARemovedRowRegistersAgain) {
  auto a = start("replica-a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(store->deregister_replica("replica-a"));
  a->beat();
  EXPECT_EQ(a->live(), std::vector<std::string>{"replica-a"});
  EXPECT_TRUE(a->healthy());
  EXPECT_TRUE(a->owns(7));
}

// The thread, on the real clock: a short ttl and waits with deadlines.
TEST(ReplicaThread, BeatsAndSeesAStoppedReplicaLeave) {
  store::testing::TempDir dir;
  auto st = store::Store::open(dir.path + "/zlh.db");
  ASSERT_TRUE(st) << st.error().to_string();
  auto mk = [&](std::string id) {
    ReplicaOptions o{.id = std::move(id), .driver = "proxmox", .host = "h", .ttl = 600ms};
    auto r = Replica::start(**st, o);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? std::move(*r) : nullptr;
  };
  auto a = mk("a");
  auto b = mk("b");
  ASSERT_TRUE(a && b);
  auto wait_for = [](auto pred) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    return pred();
  };
  EXPECT_TRUE(wait_for([&] { return a->live().size() == 2; }));
  // The threads beat: b's row moves on from its registration.
  EXPECT_TRUE(wait_for([&] {
    auto l = (*st)->list_live_replicas(store::Clock::now());
    return l && l->size() == 2 && (*l)[1].heartbeat_at > (*l)[1].started_at;
  }));
  EXPECT_TRUE(a->healthy());
  b.reset();  // stop: deregisters
  EXPECT_TRUE(wait_for([&] { return a->live() == std::vector<std::string>{"a"}; }));
  EXPECT_TRUE(a->owns(1) && a->owns(2) && a->owns(3));
}

}  // namespace
}  // namespace zlh::api::cluster
