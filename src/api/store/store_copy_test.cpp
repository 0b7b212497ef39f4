// copy_sqlite_to_postgres (store_copy.hpp): a store filled through the
// Store API on SQLite, copied to a throwaway PostgreSQL (pg_fixture.hpp).
#include "api/store/store_copy.hpp"

#include <gtest/gtest.h>

#include <map>

#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_migrations.hpp"
#include "api/store/test_util.hpp"
#include "pg_fixture.hpp"

namespace zlh::api::store {
namespace {

using testing::StoreTest;

const Result<std::unique_ptr<zlh::testing::PgServer>>& cluster() {
  static auto server = zlh::testing::PgServer::start();
  return server;
}

const std::vector<std::string> kOne = {"step"};
constexpr int64_t kNow = 1'795'514'400'000;

class StoreCopyTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    static int n = 0;
    const auto& pg = cluster();
    if (!pg && pg.error().code == codes::kUnavailable) GTEST_SKIP() << pg.error().message;
    ASSERT_TRUE(pg) << pg.error().message;
    auto ci = (*pg)->create_database("c" + std::to_string(++n));
    ASSERT_TRUE(ci) << ci.error().message;
    conninfo = *ci;
  }

  // Every kind of row the API writes, with a deleted schedule (so
  // sqlite_sequence runs ahead of max(id)).
  void fill() {
    ann = make_user("ann");
    bob = make_user("Bob");
    ASSERT_TRUE(store->create_session(ann, clock.now() + std::chrono::hours(1)));
    ASSERT_TRUE(store->set_quotas(bob, {.servers = 3, .backup_bytes = 1000}));
    NewServer n{.owner_id = ann, .type = ServerType::kGame, .name = "mc"};
    n.payload = R"({"memory_mb": 2048,  "disk_gb":10})";
    n.port_count = 2;
    auto c = store->create_server(n, kOne);
    ASSERT_TRUE(c) << c.error().to_string();
    server = c->server.id;
    ASSERT_TRUE(store->update_server(server, {.progress = 0.25}));
    ASSERT_TRUE(store->update_job_state(c->job.id, JobState::kRunning));
    ASSERT_TRUE(store->update_job_state(c->job.id, JobState::kDone));
    auto b = store->create_backup_job({server, ann, "nightly", BackupKind::kManual}, 0, kOne);
    ASSERT_TRUE(b) << b.error().to_string();
    ASSERT_TRUE(store->add_member(server, bob, PermSet::all(), ann));
    auto s1 = store->create_schedule({.server_id = server, .name = "a", .cron = "0 * * * *"});
    auto s2 = store->create_schedule({.server_id = server, .name = "b", .cron = "0 1 * * *"});
    ASSERT_TRUE(s1 && s2);
    ASSERT_TRUE(store->delete_schedule(server, s2->id));
    ASSERT_TRUE(store->create_run({.schedule_id = s1->id, .fire_time = clock.now()}));
    ASSERT_TRUE(store->append_audit({ann, "server.start", "server:" + std::to_string(server),
                                     R"({"k": [1, 2]})", "192.0.2.1"}));
    ASSERT_TRUE(store->append_audit({std::nullopt, "auth.login_failed", "", "{}", ""}));
  }

  std::unique_ptr<PgDb> target() { return PgDb::connect(conninfo).value(); }

  std::string conninfo;
  int64_t ann = 0, bob = 0, server = 0;
};

TEST_F(StoreCopyTest, CopiesEveryRowAndIdsContinueAfterTheSources) {
  fill();
  store.reset();  // the copy reads the file; nothing writes it meanwhile
  auto r = copy_sqlite_to_postgres(db_path(), conninfo, kNow);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->version, static_cast<int>(embedded_migrations().size()));
  EXPECT_EQ(r->target_migrations, r->version);
  std::map<std::string, int64_t> rows;
  for (const auto& t : r->tables) rows[t.name] = t.rows;
  const std::map<std::string, int64_t> want = {
      {"users", 2},          {"sessions", 1},         {"user_quotas", 1},
      {"servers", 1},        {"vmid_allocations", 1}, {"port_allocations", 2},
      {"jobs", 2},           {"job_steps", 2},        {"backups", 1},
      {"server_members", 1}, {"schedules", 1},        {"schedule_runs", 1},
      {"audit_log", 2}};
  for (const auto& [table, n] : want) EXPECT_EQ(rows[table], n) << table;
  // Parents first.
  auto at = [&](const std::string& t) {
    return std::ranges::find(r->tables, t, &CopiedTable::name) - r->tables.begin();
  };
  EXPECT_LT(at("users"), at("servers"));
  EXPECT_LT(at("servers"), at("jobs"));
  EXPECT_LT(at("jobs"), at("job_steps"));
  EXPECT_LT(at("schedules"), at("schedule_runs"));

  auto pg = target();
  for (const auto& [table, n] : want)
    EXPECT_EQ(pg->scalar_int64("SELECT count(*) FROM " + table), n) << table;
  Stmt q = pg->prepare(
      "SELECT s.payload, s.progress, u.username, a.detail, a.server_id, a.user_id"
      " FROM servers s JOIN users u ON u.id = s.owner_id"
      " JOIN audit_log a ON a.action = 'server.start'");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).text(), R"({"memory_mb": 2048,  "disk_gb":10})");  // json: verbatim
  EXPECT_DOUBLE_EQ(q.col(1).real(), 0.25);
  EXPECT_EQ(q.col(2).text(), "ann");
  EXPECT_EQ(q.col(3).text(), R"({"k": [1, 2]})");
  EXPECT_EQ(q.col(4).int64(), server);
  EXPECT_EQ(q.col(5).int64(), ann);
  EXPECT_EQ(pg->scalar_int64("SELECT count(*) FROM users WHERE username = 'bob'"), 1);  // citext
  EXPECT_EQ(pg->scalar_int64("SELECT count(*) FROM audit_log WHERE user_id IS NULL"), 1);
  EXPECT_EQ(pg->scalar_int64("SELECT enabled FROM schedules"), 1);

  // New rows on PostgreSQL get fresh ids: after max(id), and after the
  // deleted schedule's id too.
  const int64_t max_user = pg->scalar_int64("SELECT max(id) FROM users");
  EXPECT_GT(pg->scalar_int64("INSERT INTO users (email, username, password_hash, created_at)"
                             " VALUES ('c@x.io', 'cy', 'h', 1) RETURNING id"),
            max_user);
  EXPECT_EQ(pg->scalar_int64("INSERT INTO schedules (server_id, name, cron, timezone, enabled,"
                             " catch_up, only_when_running, tasks, created_at, updated_at)"
                             " VALUES (" +
                             std::to_string(server) +
                             ", 'c', '* * * * *', 'UTC', 1, 1, 0, '[]', 1, 1) RETURNING id"),
            3);
  EXPECT_GT(pg->scalar_int64("INSERT INTO audit_log (at, action) VALUES (1, 'x') RETURNING id"), 2);
}

TEST_F(StoreCopyTest, RefusesATargetWithRows) {
  fill();
  store.reset();
  ASSERT_TRUE(copy_sqlite_to_postgres(db_path(), conninfo, kNow));
  auto again = copy_sqlite_to_postgres(db_path(), conninfo, kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, codes::kConflict);
  EXPECT_NE(again.error().message.find("already has rows"), std::string::npos)
      << again.error().message;
  EXPECT_EQ(target()->scalar_int64("SELECT count(*) FROM users"), 2);
}

TEST_F(StoreCopyTest, AMigratedEmptyTargetIsFineAnotherVersionIsRefused) {
  fill();
  store.reset();
  auto pg = target();
  auto engine = pg_migrations();
  auto ms = embedded_migrations(Engine::kPostgres);
  ASSERT_TRUE(migrate(*pg, *engine, ms.subspan(0, ms.size() - 1), kNow));
  auto older = copy_sqlite_to_postgres(db_path(), conninfo, kNow);
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().code, codes::kConflict);
  EXPECT_NE(older.error().message.find("schema version"), std::string::npos);
  ASSERT_TRUE(migrate(*pg, *engine, ms, kNow));
  auto ok = copy_sqlite_to_postgres(db_path(), conninfo, kNow);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->target_migrations, 0);
}

TEST_F(StoreCopyTest, MissingSourceOrUnreachableTarget) {
  auto none = copy_sqlite_to_postgres(dir.path + "/nope.db", conninfo, kNow);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, codes::kNotFound);
  auto down = copy_sqlite_to_postgres(db_path(), "host=/nonexistent dbname=x", kNow);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, codes::kUnavailable);
}

}  // namespace
}  // namespace zlh::api::store
