// copy_sqlite_to_postgres (store_copy.hpp): a store filled through the
// Store API on SQLite, copied to a throwaway PostgreSQL (pg_fixture.hpp).
#include "api/store/store_copy.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <cctype>
#include <map>

#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_migrations.hpp"
#include "api/store/test_util.hpp"
#include "pg_fixture.hpp"

namespace zlh::api::store {
namespace {

using testing::SqliteStoreTest;

const Result<std::unique_ptr<zlh::testing::PgServer>>& cluster() {
  static auto server = zlh::testing::PgServer::start();
  return server;
}

const std::vector<std::string> kOne = {"step"};

constexpr int64_t kNow = 1'795'514'400'000;

class StoreCopyTest : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    static int n = 0;
    const auto& pg = cluster();
    if (!pg && pg.error().code == codes::kUnavailable) GTEST_SKIP() << pg.error().message;
    ASSERT_TRUE(pg) << pg.error().message;
    const std::string name = "c" + std::to_string(++n);
    auto ci = (*pg)->create_database(name);
    ASSERT_TRUE(ci) << ci.error().message;
    conninfo = *ci;
    pg_store_url = "postgresql://" + (*pg)->options().user + "@/" + name +
                   "?host=" + zlh::testing::percent_encoded((*pg)->socket_dir()) +
                   "&port=" + std::to_string((*pg)->port());
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
  // Enough rows for whole batches and a remainder (store_copy.cpp).
  void many_audit_rows(int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(store->append_audit(
          {ann, "server.start", "server:1", R"({"i":)" + std::to_string(i) + "}", "192.0.2.9"}));
  }

  std::unique_ptr<PgDb> target() { return PgDb::connect(conninfo).value(); }

  std::string conninfo, pg_store_url;
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

// The copy, read back through Store on PostgreSQL: what the API sees is
// what it saw on SQLite, and new rows get fresh ids.
TEST_F(StoreCopyTest, TheCopiedStoreOpensOnPostgresWithTheSameAnswers) {
  fill();
  auto before = store->list_servers_for_user(bob);
  auto audit_before = store->list_audit(10);
  auto schedules_before = store->list_schedules(server);
  ASSERT_TRUE(before && audit_before && schedules_before);
  store.reset();
  ASSERT_TRUE(copy_sqlite_to_postgres(db_path(), conninfo, kNow));
  Options o;
  o.clock = clock.fn();
  auto pg = Store::open(pg_store_url, std::move(o));
  ASSERT_TRUE(pg) << pg.error().to_string();
  auto after = (*pg)->list_servers_for_user(bob);
  ASSERT_TRUE(after) << after.error().to_string();
  ASSERT_EQ(after->size(), before->size());
  EXPECT_EQ(after->front().server.ports, before->front().server.ports);
  EXPECT_EQ(after->front().server.vmid, before->front().server.vmid);
  EXPECT_EQ(after->front().server.payload, before->front().server.payload);
  EXPECT_EQ(after->front().owner_username, "ann");
  auto audit_after = (*pg)->list_audit(10);
  ASSERT_TRUE(audit_after);
  ASSERT_EQ(audit_after->size(), audit_before->size());
  EXPECT_EQ(audit_after->front().id, audit_before->front().id);
  EXPECT_EQ(audit_after->front().detail, audit_before->front().detail);
  EXPECT_EQ((*pg)->find_user_by_login("BOB")->id, bob);
  auto cy = (*pg)->create_user({"cy@example.com", "cy", "h", false});
  ASSERT_TRUE(cy) << cy.error().to_string();
  EXPECT_GT(cy->id, bob);
  auto s3 = (*pg)->create_schedule({.server_id = server, .name = "c", .cron = "0 2 * * *"});
  ASSERT_TRUE(s3) << s3.error().to_string();
  EXPECT_EQ(s3->id, 3);  // after the deleted schedule 2
  EXPECT_EQ((*pg)->list_schedules(server)->size(), schedules_before->size() + 1);
}

TEST_F(StoreCopyTest, ManyRowsGoInBatchesAndKeepTheirValues) {
  fill();
  many_audit_rows(450);
  store.reset();
  auto r = copy_sqlite_to_postgres(db_path(), conninfo, kNow);
  ASSERT_TRUE(r) << r.error().to_string();
  auto pg = target();
  EXPECT_EQ(pg->scalar_int64("SELECT count(*) FROM audit_log"), 452);
  EXPECT_EQ(pg->scalar_int64("SELECT count(DISTINCT detail::text) FROM audit_log"), 452);
  EXPECT_EQ(pg->scalar_int64("SELECT max(id) - min(id) FROM audit_log"), 451);
  Stmt last = pg->prepare("SELECT detail, remote_addr, at FROM audit_log ORDER BY id DESC LIMIT 1");
  ASSERT_TRUE(last.step());
  EXPECT_EQ(last.col(0).text(), R"({"i":449})");
  EXPECT_EQ(last.col(1).text(), "192.0.2.9");
  EXPECT_EQ(last.col(2).int64(), kNow);
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

TEST_F(StoreCopyTest, ASourceNewerThanThePostgresMigrationsIsRefused) {
  store.reset();
  const auto pg_count = embedded_migrations(Engine::kPostgres).size();
  {
    SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
    raw.exec("INSERT INTO schema_migrations VALUES (" + std::to_string(pg_count + 1) +
             ", 'future', 'x', 1)");
  }
  auto r = copy_sqlite_to_postgres(db_path(), conninfo, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kConflict);
  EXPECT_NE(r.error().message.find("PostgreSQL migrations up to"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(target()->scalar_int64("SELECT count(*) FROM information_schema.tables"
                                   " WHERE table_schema = current_schema()"),
            0);
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
