#include "api/store/migrations.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>
#include <vector>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using testing::SqliteStoreTest;
using testing::TempDir;

std::vector<Migration> with_extra(std::vector<Migration> extra) {
  std::vector<Migration> all(embedded_migrations().begin(), embedded_migrations().end());
  for (Migration& m : extra) {
    m.version = static_cast<int>(all.size()) + 1;
    all.push_back(m);
  }
  return all;
}

int count(SQLite::Database& db, const std::string& sql) { return db.execAndGet(sql).getInt(); }

TEST(MigrationsEmbedded, NumberedFromOneWithNamesAndChecksums) {
  auto ms = embedded_migrations();
  ASSERT_FALSE(ms.empty());
  EXPECT_EQ(ms[0].name, "init");
  for (size_t i = 0; i < ms.size(); ++i) {
    EXPECT_EQ(ms[i].version, static_cast<int>(i) + 1);
    EXPECT_EQ(ms[i].sha256.size(), 64u);
    EXPECT_TRUE(ms[i].sql.find("CREATE TABLE") != std::string_view::npos ||
                ms[i].sql.find("ALTER TABLE") != std::string_view::npos)
        << ms[i].name;
  }
}

TEST_F(SqliteStoreTest, FreshDatabaseHasEveryTableAndTheVersionRows) {
  auto v = store->schema_version();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, static_cast<int>(embedded_migrations().size()));

  SQLite::Database raw(db_path(), SQLite::OPEN_READONLY);
  for (const char* t : {"schema_migrations", "users", "sessions", "servers", "vmid_allocations",
                        "vmid_reserved", "port_allocations", "jobs", "job_steps", "audit_log"})
    EXPECT_EQ(count(raw, std::string("SELECT count(*) FROM sqlite_schema WHERE type='table' AND "
                                     "name='") +
                             t + "'"),
              1)
        << t;
  EXPECT_EQ(count(raw, "SELECT count(*) FROM schema_migrations"),
            static_cast<int>(embedded_migrations().size()));
  EXPECT_EQ(raw.execAndGet("SELECT name FROM schema_migrations WHERE version = 1").getString(),
            "init");
  EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST_F(SqliteStoreTest, ReopeningAnUpToDateDatabaseWritesNothing) {
  int64_t applied_at;
  {
    SQLite::Database raw(db_path(), SQLite::OPEN_READONLY);
    applied_at =
        raw.execAndGet("SELECT applied_at FROM schema_migrations WHERE version = 1").getInt64();
  }
  // data_version changes when another connection commits anything.
  SQLite::Database watcher(db_path(), SQLite::OPEN_READONLY);
  const int version_before = count(watcher, "PRAGMA data_version");
  clock.advance(std::chrono::hours(1));
  reopen();
  reopen();
  EXPECT_EQ(count(watcher, "PRAGMA data_version"), version_before);
  ASSERT_TRUE(store->create_user({"w@x.y", "w", "h", false}));  // the watcher does see writes
  EXPECT_NE(count(watcher, "PRAGMA data_version"), version_before);

  SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
  EXPECT_EQ(raw.execAndGet("SELECT applied_at FROM schema_migrations WHERE version = 1").getInt64(),
            applied_at);
  EXPECT_EQ(count(raw, "SELECT count(*) FROM schema_migrations"),
            static_cast<int>(embedded_migrations().size()));
  // And directly: the migration runner on an up-to-date database changes no row.
  auto n = migrate(raw, embedded_migrations(), 0);
  ASSERT_TRUE(n.has_value()) << n.error().to_string();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(sqlite3_total_changes(raw.getHandle()), 0);
}

TEST_F(SqliteStoreTest, PendingMigrationsApplyInOrderOnce) {
  store.reset();
  SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
  auto ms = with_extra({{0, "add_t", "CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (7);", "aa"},
                        {0, "add_u", "CREATE TABLE u(b TEXT);", "bb"}});
  auto n = migrate(raw, ms, 42);
  ASSERT_TRUE(n.has_value()) << n.error().to_string();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(count(raw, "SELECT a FROM t"), 7);
  EXPECT_EQ(*schema_version(raw), static_cast<int>(ms.size()));
  auto again = migrate(raw, ms, 43);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(count(raw, "SELECT count(*) FROM t"), 1);
}

TEST_F(SqliteStoreTest, AFailingMigrationLeavesThePreviousVersion) {
  store.reset();
  SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
  auto ms =
      with_extra({{0, "broken", "CREATE TABLE x(a); INSERT INTO no_such_table VALUES (1);", "cc"}});
  auto n = migrate(raw, ms, 0);
  ASSERT_FALSE(n.has_value());
  EXPECT_NE(n.error().message.find("broken"), std::string::npos) << n.error().message;
  EXPECT_EQ(*schema_version(raw), static_cast<int>(embedded_migrations().size()));
  EXPECT_EQ(count(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'x'"), 0);
}

TEST_F(SqliteStoreTest, ADatabaseNewerThanTheBinaryIsRefused) {
  store.reset();
  {
    SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
    ASSERT_TRUE(migrate(raw, with_extra({{0, "future", "CREATE TABLE future(a);", "dd"}}), 0));
  }
  auto s = Store::open(db_path());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, codes::kConflict);
  EXPECT_NE(s.error().message.find("newer than this binary"), std::string::npos)
      << s.error().message;
}

TEST_F(SqliteStoreTest, AnEditedMigrationIsRefused) {
  store.reset();
  std::vector<Migration> ms(embedded_migrations().begin(), embedded_migrations().end());
  ms[0].sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
  SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
  auto n = migrate(raw, ms, 0);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code, codes::kConflict);
  EXPECT_NE(n.error().message.find("differs"), std::string::npos) << n.error().message;
}

TEST(Migrations, NumberingMustStartAtOneWithoutGaps) {
  TempDir dir;
  SQLite::Database raw(dir.path + "/x.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  std::vector<Migration> ms = {{2, "two", "CREATE TABLE a(x);", "ee"}};
  auto n = migrate(raw, ms, 0);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code, codes::kInvalid);
}

TEST(Migrations, ConcurrentFirstOpensApplyEachMigrationOnce) {
  TempDir dir;
  const std::string path = dir.path + "/zlh.db";
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto s = Store::open(path);
      if (s)
        ok++;
      else
        ADD_FAILURE() << s.error().to_string();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(count(raw, "SELECT count(*) FROM schema_migrations"),
            static_cast<int>(embedded_migrations().size()));
}

}  // namespace
}  // namespace zlh::api::store

namespace zlh::api::store {
namespace {

// 0002 rebuilds the jobs table (to allow 'cancelled'): a version-1 database
// with jobs and steps keeps every row, its ids and the unfinished-job index,
// and foreign keys are on again afterwards.
TEST(Migrations, JobsRebuildKeepsJobsStepsAndIndexes) {
  testing::TempDir dir;
  std::string path = dir.path + "/zlh.db";
  auto all = embedded_migrations();
  ASSERT_GE(all.size(), 2u);
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("PRAGMA foreign_keys=ON");
    ASSERT_TRUE(migrate(raw, all.subspan(0, 1), 0).has_value());
    raw.exec(
        "INSERT INTO users(id, email, username, password_hash, is_admin, created_at)"
        " VALUES (1, 'a@b.c', 'a', 'h', 0, 0)");
    raw.exec(
        "INSERT INTO servers(id, owner_id, type, name, state, payload, created_at, updated_at)"
        " VALUES (5, 1, 'dev', 'x', 'provisioning', '{}', 0, 0)");
    raw.exec(
        "INSERT INTO jobs(id, server_id, kind, state, created_at, updated_at)"
        " VALUES (40, 5, 'create', 'compensated', 0, 0), (41, 5, 'create', 'running', 0, 0)");
    raw.exec(
        "INSERT INTO job_steps(job_id, idx, name, state) VALUES (40, 0, 'a', 'done'),"
        " (41, 0, 'a', 'done'), (41, 1, 'b', 'running')");
    auto n = migrate(raw, all, 1);
    ASSERT_TRUE(n.has_value()) << n.error().to_string();
    EXPECT_EQ(*n, static_cast<int>(all.size()) - 1);
    EXPECT_EQ(raw.execAndGet("PRAGMA foreign_keys").getInt(), 1) << "restored";
    EXPECT_EQ(raw.execAndGet("SELECT count(*) FROM job_steps").getInt(), 3);
    EXPECT_EQ(raw.execAndGet("SELECT state FROM jobs WHERE id = 41").getString(), "running");
    // Still one unfinished job per server, and the new state is accepted.
    EXPECT_THROW(raw.exec("INSERT INTO jobs(server_id, kind, state, created_at, updated_at)"
                          " VALUES (5, 'delete', 'queued', 0, 0)"),
                 SQLite::Exception);
    raw.exec("UPDATE jobs SET state = 'cancelled' WHERE id = 41");
    raw.exec(
        "INSERT INTO jobs(server_id, kind, state, created_at, updated_at) VALUES (5, 'delete', "
        "'queued', 0, 0)");
    EXPECT_GT(raw.getLastInsertRowid(), 41) << "AUTOINCREMENT continues after the copied ids";
    // Steps still cascade with their job (the reference follows the rename).
    raw.exec("DELETE FROM jobs WHERE id = 40");
    EXPECT_EQ(raw.execAndGet("SELECT count(*) FROM job_steps WHERE job_id = 40").getInt(), 0);
    EXPECT_THROW(raw.exec("INSERT INTO job_steps(job_id, idx, name) VALUES (999, 0, 'x')"),
                 SQLite::Exception);
  }
}

}  // namespace
}  // namespace zlh::api::store
