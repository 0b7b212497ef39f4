// The counters' SQL on PostgreSQL (counters.cpp), before postgres/0015 can
// be embedded: the database gets the pending file (and, while postgres/0014
// is missing, a minimal replicas table) by hand. Runs in api_store_pg_test.
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <sstream>

#include "api/store/pg_db.hpp"
#include "api/store/pg_store.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PgCounters : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::store_engines().front().fresh_url(dir.path);
    if (!url && url.error().code == codes::kUnavailable) GTEST_SKIP() << url.error().message;
    ASSERT_TRUE(url) << url.error().to_string();
    Options o;
    o.clock = clock.fn();
    auto s = Store::open(*url, std::move(o));
    ASSERT_TRUE(s) << s.error().to_string();
    store = std::move(*s);
    auto ci = parse_pg_url(*url, {});
    ASSERT_TRUE(ci);
    db = PgDb::connect(ci->conninfo).value();
    if (db->scalar_int64("SELECT count(*) FROM pg_tables WHERE tablename = 'rate_events'") == 0)
      db->exec(read_file(std::string(ZLH_SOURCE_DIR) +
                         "/src/api/store/migrations/postgres-pending/0015_cluster_counters.sql"));
    db->exec(
        "CREATE TABLE IF NOT EXISTS replicas (id TEXT PRIMARY KEY, driver TEXT, host TEXT,"
        " pid BIGINT, started_at BIGINT, heartbeat_at BIGINT, expires_at BIGINT NOT NULL)");
    ann = store->create_user({"ann@x", "ann", "h", false})->id;
  }
  void lease(const std::string& id, std::chrono::milliseconds ttl) {
    Stmt q = db->prepare(
        "INSERT INTO replicas(id, expires_at) VALUES (?1, ?2)"
        " ON CONFLICT (id) DO UPDATE SET expires_at = ?2");
    q.bind(1, id);
    q.bind(2, std::chrono::duration_cast<std::chrono::milliseconds>(
                  (clock.now() + ttl).time_since_epoch())
                  .count());
    q.exec();
  }
  testing::TempDir dir;
  testing::FakeClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<PgDb> db;
  int64_t ann = 0;
};

TEST_F(PgCounters, RateWindowsAsOnSqlite) {
  const std::array<RateBudget, 2> both{{{"login/a/ann", 2, 60s}, {"login/d/x", 5, 60s}}};
  ASSERT_FALSE(*store->check_rate(both, clock.now(), true));
  clock.advance(1s);
  ASSERT_FALSE(*store->check_rate(both, clock.now(), true));
  auto w = store->check_rate(both, clock.now(), true);
  ASSERT_TRUE(w) << w.error().to_string();
  ASSERT_TRUE(*w);
  EXPECT_EQ(**w, 59s);
  ASSERT_TRUE(store->record_rate(both, clock.now()));
  ASSERT_TRUE(store->clear_rate("login/a/ann", true));
  ASSERT_TRUE(store->clear_rate("login/a/ann"));
  auto keys = store->count_rate_keys("login/", clock.now() - 1h);
  ASSERT_TRUE(keys) << keys.error().to_string();
  EXPECT_EQ(*keys, 1);
  clock.advance(2min);
  auto purged = store->purge_rate_events("login/", clock.now() - 60s);
  ASSERT_TRUE(purged) << purged.error().to_string();
  EXPECT_EQ(*purged, 3);  // the address key's three; the account's were cleared
}

TEST_F(PgCounters, SlotsExpireWithTheirReplicasLease) {
  lease("a", 15s);
  lease("b", 15s);
  ASSERT_TRUE(**store->acquire_user_slot(ann, "console", "a", 2));
  auto second = store->acquire_user_slot(ann, "console", "a", 2);
  ASSERT_TRUE(second) << second.error().to_string();
  ASSERT_TRUE(*second);
  EXPECT_FALSE(*store->acquire_user_slot(ann, "console", "b", 2));
  clock.advance(16s);
  lease("b", 15s);
  EXPECT_TRUE(**store->acquire_user_slot(ann, "console", "b", 2));
  EXPECT_EQ(*store->count_user_slots(ann, "console", "b"), 1);
  ASSERT_TRUE(store->release_user_slot(**second));
}

}  // namespace
}  // namespace zlh::api::store
