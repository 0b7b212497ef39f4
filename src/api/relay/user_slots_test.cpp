// Concurrent quotas counted in the store (user_slots.hpp, issue 25): two
// UserSlots over one store stand for two replicas; a dead replica's places
// stop counting once its lease expires.
#include "api/relay/user_slots.hpp"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::relay {
namespace {

using namespace std::chrono_literals;

class SharedSlots : public store::testing::SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ann = make_user("ann");
    lease("a");
    lease("b");
  }
  // A replica live for 15 s from now (cluster::Replica's registration).
  void lease(const std::string& id) {
    if (store->heartbeat_replica(id, 15s)) return;
    store::NewReplica r;
    r.id = id;
    r.driver = "proxmox";
    r.host = "h-" + id;
    r.pid = 1;
    r.ttl = 15s;
    ASSERT_TRUE(store->register_replica(r));
  }
  int64_t ann = 0;
};

TEST_F(SharedSlots, TwoReplicasShareTheUsersLimit) {
  auto a = std::make_shared<UserSlots>(*store, "console", "a");
  auto b = std::make_shared<UserSlots>(*store, "console", "b");
  auto s1 = a->acquire(ann, 2);
  auto s2 = b->acquire(ann, 2);
  ASSERT_TRUE(s1 && s2);
  EXPECT_FALSE(*b->try_acquire(ann, 2));  // full: one on each replica
  EXPECT_FALSE(a->acquire(ann, 2));
  EXPECT_EQ(a->open(ann), 2);
  s1.reset();  // gives its place back, seen by b
  EXPECT_EQ(b->open(ann), 1);
  auto s3 = b->acquire(ann, 2);
  EXPECT_TRUE(s3);
  // Uploads are another count.
  auto up = std::make_shared<UserSlots>(*store, "upload", "a");
  EXPECT_TRUE(up->acquire(ann, 1));
}

TEST_F(SharedSlots, ADeadReplicasPlacesExpireWithItsLease) {
  auto a = std::make_shared<UserSlots>(*store, "console", "a");
  auto b = std::make_shared<UserSlots>(*store, "console", "b");
  auto s1 = a->acquire(ann, 2);
  auto s2 = a->acquire(ann, 2);
  ASSERT_TRUE(s1 && s2);
  EXPECT_FALSE(b->acquire(ann, 2));
  // a is killed: it no longer beats; b does.
  clock.advance(10s);
  lease("b");
  EXPECT_FALSE(b->acquire(ann, 2));
  clock.advance(6s);
  auto t1 = b->acquire(ann, 2);
  auto t2 = b->acquire(ann, 2);
  EXPECT_TRUE(t1 && t2);
  EXPECT_FALSE(b->acquire(ann, 2));
}

TEST_F(SharedSlots, InProcessCountingIsUnchanged) {
  auto local = std::make_shared<UserSlots>();
  auto s = local->acquire(ann, 1);
  ASSERT_TRUE(s);
  EXPECT_FALSE(local->acquire(ann, 1));
  EXPECT_EQ(local->open(ann), 1);
  s.reset();
  EXPECT_EQ(local->open(ann), 0);
}

}  // namespace
}  // namespace zlh::api::relay

namespace zlh::api::relay {
namespace {

// Without its table (a PostgreSQL store before migration 0015) the places
// are counted in this process: consoles keep working, still limited.
TEST_F(SharedSlots, CountsInThisProcessWhenTheStoreFails) {
  {
    SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
    db.exec("DROP TABLE user_slots");
  }
  auto a = std::make_shared<UserSlots>(*store, "console", "a");
  auto s = a->acquire(ann, 1);
  ASSERT_TRUE(s);
  EXPECT_FALSE(a->acquire(ann, 1));
  s.reset();
  EXPECT_TRUE(a->acquire(ann, 1));
}

}  // namespace
}  // namespace zlh::api::relay
