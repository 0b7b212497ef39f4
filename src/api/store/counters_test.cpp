// The counters every replica shares (counters.cpp, migration 0015): login
// rate-limit windows and concurrent quotas, with a dead replica's places
// expiring with its lease.
#include <gtest/gtest.h>

#include <array>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using testing::StoreTest;

class CountersStore : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ann = make_user("ann");
    bob = make_user("bob");
  }
  // A replica live for `ttl` from now, as cluster::Replica registers and
  // heartbeats it (migration 0014).
  void lease(const std::string& id, milliseconds ttl) {
    if (store->heartbeat_replica(id, ttl)) return;
    NewReplica r;
    r.id = id;
    r.driver = "proxmox";
    r.host = "h-" + id;
    r.pid = 1;
    r.ttl = ttl;
    auto ok = store->register_replica(r);
    ASSERT_TRUE(ok) << ok.error().to_string();
  }
  int64_t ann = 0, bob = 0;
};

TEST_P(CountersStore, ASlidingWindowLikeTheInProcessLimiter) {
  const std::array<RateBudget, 1> acct{{{"login/a/ann", 3, 60s}}};
  for (int i = 0; i < 3; ++i) {
    auto r = store->check_rate(acct, clock.now(), true);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_FALSE(*r) << i;
    clock.advance(1s);
  }
  // Three at t0, t0+1 s, t0+2 s; now t0+3 s: the first leaves at t0+60 s.
  auto spent = store->check_rate(acct, clock.now(), true);
  ASSERT_TRUE(spent && *spent);
  EXPECT_EQ(**spent, 57s);
  clock.advance(57s);  // t0+60 s: the first left
  auto again = store->check_rate(acct, clock.now(), true);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto next = store->check_rate(acct, clock.now(), false);
  ASSERT_TRUE(next && *next);
  EXPECT_EQ(**next, 1s);  // the second (t0+1 s) leaves next
}

TEST_P(CountersStore, EveryBudgetMustHaveRoomAndTheLongestWaitWins) {
  std::array<RateBudget, 2> both{{{"x/a/ann", 5, 900s}, {"x/d/10.0.0.1", 2, 60s}}};
  ASSERT_FALSE(*store->check_rate(both, clock.now(), true));
  ASSERT_FALSE(*store->check_rate(both, clock.now(), true));
  auto w = store->check_rate(both, clock.now(), true);
  ASSERT_TRUE(w && *w);
  EXPECT_EQ(**w, 60s);  // the address is spent, the account is not
  // Nothing was recorded for the refused attempt: the account has two.
  const std::array<RateBudget, 1> acct{{{"x/a/ann", 2, 900s}}};
  EXPECT_EQ(**store->check_rate(acct, clock.now(), false), 900s);
  // A zero limit is never spent and never counted.
  both[1].limit = 0;
  EXPECT_FALSE(*store->check_rate(both, clock.now(), true));
  EXPECT_EQ(*store->count_rate_keys("x/d/", clock.now() - 1h), 1);
}

TEST_P(CountersStore, RecordClearAndPurge) {
  const std::array<RateBudget, 1> k{{{"r/a/bob", 2, 60s}}};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->record_rate(k, clock.now()));
  EXPECT_EQ(**store->check_rate(k, clock.now(), false), 60s);
  ASSERT_TRUE(store->clear_rate("r/a/bob", /*newest_only=*/true));
  EXPECT_FALSE(*store->check_rate(k, clock.now(), false));  // kept 2, one taken back
  ASSERT_TRUE(store->record_rate(k, clock.now()));
  ASSERT_TRUE(store->clear_rate("r/a/bob"));
  EXPECT_FALSE(*store->check_rate(k, clock.now(), false));
  EXPECT_EQ(*store->count_rate_keys("r/", clock.now() - 1h), 0);
  ASSERT_TRUE(store->record_rate(k, clock.now()));
  clock.advance(61s);
  EXPECT_EQ(*store->count_rate_keys("r/", clock.now() - 60s), 0);  // left the window
  const std::array<RateBudget, 1> other{{{"s/a/bob", 2, 60s}}};
  ASSERT_TRUE(store->record_rate(other, clock.now() - 61s));
  EXPECT_EQ(*store->purge_rate_events("r/", clock.now() - 60s), 1);
  EXPECT_EQ(*store->count_rate_keys("s/", clock.now() - 1h), 1);  // another scope's stay
}

TEST_P(CountersStore, SlotsAreCountedAcrossReplicas) {
  lease("a", 15s);
  lease("b", 15s);
  auto a1 = store->acquire_user_slot(ann, "console", "a", 2);
  ASSERT_TRUE(a1 && *a1) << (a1 ? "" : a1.error().to_string());
  auto b1 = store->acquire_user_slot(ann, "console", "b", 2);
  ASSERT_TRUE(b1 && *b1);
  auto b2 = store->acquire_user_slot(ann, "console", "b", 2);
  ASSERT_TRUE(b2);
  EXPECT_FALSE(*b2);                                                // two held, one on each replica
  EXPECT_TRUE(**store->acquire_user_slot(ann, "upload", "b", 2));   // another kind
  EXPECT_TRUE(**store->acquire_user_slot(bob, "console", "b", 2));  // another user
  EXPECT_EQ(*store->count_user_slots(ann, "console", "a"), 2);
  ASSERT_TRUE(store->release_user_slot(**a1));
  ASSERT_TRUE(store->release_user_slot(**a1));  // repeatable
  EXPECT_TRUE(**store->acquire_user_slot(ann, "console", "b", 2));
  // Unlimited still counts.
  EXPECT_TRUE(**store->acquire_user_slot(ann, "console", "a", 0));
  EXPECT_EQ(*store->count_user_slots(ann, "console", "a"), 3);
}

TEST_P(CountersStore, ADeadReplicasSlotsExpireWithItsLease) {
  lease("a", 15s);
  lease("b", 15s);
  ASSERT_TRUE(**store->acquire_user_slot(ann, "console", "a", 2));
  ASSERT_TRUE(**store->acquire_user_slot(ann, "console", "a", 2));
  EXPECT_FALSE(*store->acquire_user_slot(ann, "console", "b", 2));
  clock.advance(10s);
  lease("b", 15s);  // b beats, a (killed) does not
  EXPECT_FALSE(*store->acquire_user_slot(ann, "console", "b", 2));
  clock.advance(6s);  // a's lease ran out
  EXPECT_EQ(*store->count_user_slots(ann, "console", "b"), 0);
  EXPECT_EQ(*store->count_user_slots(ann, "console", "a"), 2);  // its own always count
  ASSERT_TRUE(**store->acquire_user_slot(ann, "console", "b", 2));
  ASSERT_TRUE(**store->acquire_user_slot(ann, "console", "b", 2));
  EXPECT_FALSE(*store->acquire_user_slot(ann, "console", "b", 2));
  // The acquire deleted a's rows: a itself now sees only b's two.
  EXPECT_EQ(*store->count_user_slots(ann, "console", "a"), 2);
  // A replica with no lease row (never registered) counts only its own.
  clock.advance(16s);
  EXPECT_EQ(*store->count_user_slots(ann, "console", "c"), 0);
}

TEST_P(CountersStore, SlotArgumentsAreChecked) {
  EXPECT_TRUE(store->acquire_user_slot(ann, "tty", "a", 1).error().is(codes::kInvalid));
  EXPECT_TRUE(store->acquire_user_slot(ann, "console", "", 1).error().is(codes::kInvalid));
  EXPECT_TRUE(store->acquire_user_slot(9999, "console", "a", 1).error().is(codes::kNotFound));
}

INSTANTIATE_TEST_SUITE_P(Engines, CountersStore, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
