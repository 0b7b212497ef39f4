// PostgreSQL's migrations (migrations/postgres/) and MigrationEngine
// (pg_migrations.hpp) on a throwaway cluster (pg_fixture.hpp): they apply
// on a fresh database, once, also with two connections migrating at once,
// and give the same tables and columns as SQLite's migrations.
#include "api/store/pg_migrations.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/store/pg_db.hpp"
#include "pg_fixture.hpp"

namespace zlh::api::store {
namespace {

const Result<std::unique_ptr<zlh::testing::PgServer>>& cluster() {
  static auto server = zlh::testing::PgServer::start();
  return server;
}

Result<std::string> fresh_database() {
  static int n = 0;
  const auto& pg = cluster();
  if (!pg) return fail(pg.error());
  return (*pg)->create_database("m" + std::to_string(++n));
}

constexpr int64_t kNow = 1'700'000'000'000;

// table -> its columns, in order.
using Columns = std::map<std::string, std::vector<std::string>>;

Columns pg_columns(Db& db) {
  Columns out;
  Stmt q = db.prepare(
      "SELECT table_name, column_name FROM information_schema.columns"
      " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position");
  while (q.step()) out[q.col(0).text()].push_back(q.col(1).text());
  return out;
}

Columns sqlite_columns() {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  auto n = migrate(db, embedded_migrations(Engine::kSqlite), kNow);
  EXPECT_TRUE(n) << n.error().message;
  Columns out;
  SQLite::Statement q(db,
                      "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p"
                      " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
                      " ORDER BY m.name, p.cid");
  while (q.executeStep()) out[q.getColumn(0).getString()].push_back(q.getColumn(1).getString());
  return out;
}

class PgMigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ci = fresh_database();
    if (!ci && ci.error().code == codes::kUnavailable) GTEST_SKIP() << ci.error().message;
    ASSERT_TRUE(ci) << ci.error().message;
    conninfo = *ci;
    db = PgDb::connect(conninfo).value();
  }
  Result<int> run(Db& on, std::span<const Migration> ms) {
    auto engine = pg_migrations();
    return migrate(on, *engine, ms, kNow);
  }
  std::string conninfo;
  std::unique_ptr<PgDb> db;
};

TEST_F(PgMigrationsTest, SameNumbersAndNamesAsSqlite) {
  auto pg = embedded_migrations(Engine::kPostgres);
  auto lite = embedded_migrations(Engine::kSqlite);
  ASSERT_EQ(pg.size(), lite.size());
  for (size_t i = 0; i < pg.size(); ++i) {
    EXPECT_EQ(pg[i].version, lite[i].version);
    EXPECT_EQ(pg[i].name, lite[i].name);
  }
}

TEST_F(PgMigrationsTest, AllApplyOnAFreshDatabaseThenNone) {
  const int all = static_cast<int>(embedded_migrations(Engine::kPostgres).size());
  auto n = run(*db, embedded_migrations(Engine::kPostgres));
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, all);
  EXPECT_EQ(db->scalar_int64("SELECT count(*) FROM schema_migrations"), all);
  EXPECT_EQ(db->scalar_int64("SELECT max(version) FROM schema_migrations"), all);
  auto again = run(*db, embedded_migrations(Engine::kPostgres));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 0);
  // A fresh connection too (nothing cached on it).
  auto other = PgDb::connect(conninfo).value();
  auto third = run(*other, embedded_migrations(Engine::kPostgres));
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(*third, 0);
}

TEST_F(PgMigrationsTest, TwoConnectionsMigratingAtOnceApplyEachOnce) {
  auto ms = embedded_migrations(Engine::kPostgres);
  auto other = PgDb::connect(conninfo).value();
  std::latch go(2);
  Result<int> ra = 0, rb = 0;
  std::thread ta([&] {
    go.arrive_and_wait();
    ra = run(*db, ms);
  });
  std::thread tb([&] {
    go.arrive_and_wait();
    rb = run(*other, ms);
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra) << ra.error().message;
  ASSERT_TRUE(rb) << rb.error().message;
  EXPECT_EQ(*ra + *rb, static_cast<int>(ms.size()));
  EXPECT_EQ(db->scalar_int64("SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(ms.size()));
  EXPECT_EQ(db->scalar_int64("SELECT count(DISTINCT version) FROM schema_migrations"),
            static_cast<int64_t>(ms.size()));
}

TEST_F(PgMigrationsTest, TablesAndColumnsMatchSqlite) {
  auto n = run(*db, embedded_migrations(Engine::kPostgres));
  ASSERT_TRUE(n) << n.error().message;
  const Columns pg = pg_columns(*db);
  const Columns lite = sqlite_columns();
  EXPECT_EQ(pg, lite);
  for (const auto& [table, cols] : lite) EXPECT_TRUE(pg.contains(table)) << table;
  // Integers are 64-bit everywhere (times are ms): no int4 column.
  EXPECT_EQ(db->scalar_int64("SELECT count(*) FROM information_schema.columns"
                             " WHERE table_schema = current_schema() AND data_type = 'integer'"),
            0);
}

TEST_F(PgMigrationsTest, ConstraintsBehaveAsOnSqlite) {
  ASSERT_TRUE(run(*db, embedded_migrations(Engine::kPostgres)));
  db->exec(
      "INSERT INTO users (email, username, password_hash, created_at)"
      " VALUES ('A@x.io', 'Ann', 'h', 1);"
      "INSERT INTO servers (owner_id, type, name, state, created_at, updated_at)"
      " VALUES (1, 'dev', 's', 'ready', 1, 1);"
      "INSERT INTO jobs (server_id, kind, state, created_at, updated_at)"
      " VALUES (1, 'restore', 'cancelled', 1, 1)");
  // citext: the same email in another case is taken.
  EXPECT_THROW(db->exec("INSERT INTO users (email, username, password_hash, created_at)"
                        " VALUES ('a@X.IO', 'bob', 'h', 1)"),
               DbError);
  EXPECT_EQ(db->scalar_int64("SELECT count(*) FROM users WHERE email = 'a@x.io'"), 1);
  // The replaced CHECKs: new values in, unknown ones out.
  EXPECT_THROW(db->exec("INSERT INTO jobs (server_id, kind, state, created_at, updated_at)"
                        " VALUES (1, 'nope', 'done', 1, 1)"),
               DbError);
  EXPECT_THROW(db->exec("INSERT INTO server_members (server_id, user_id, permissions, created_at,"
                        " updated_at) VALUES (1, 1, '{}', 1, 1)"),
               DbError);
  EXPECT_THROW(db->exec("UPDATE servers SET payload = 'not json'"), DbError);
  EXPECT_EQ(db->scalar_int64("SELECT count(*) FROM jobs WHERE params::text = '{}'"), 1);
}

TEST_F(PgMigrationsTest, AuditServerBackfillMatchesSqlite) {
  auto ms = embedded_migrations(Engine::kPostgres);
  ASSERT_TRUE(run(*db, ms.subspan(0, 11)));
  db->exec(
      "INSERT INTO audit_log (at, action, target) VALUES"
      " (1, 'a', 'server:12'), (2, 'a', 'server:7/files'), (3, 'a', 'server:x'),"
      " (4, 'a', 'user:3'), (5, 'a', 'server:'), (6, 'a', 'server:9x/y'), (7, 'a', '')");
  auto n = run(*db, ms);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, static_cast<int>(ms.size()) - 11);  // 0012 and every later one
  Stmt q = db->prepare("SELECT at, server_id FROM audit_log ORDER BY at");
  std::vector<std::pair<int64_t, int64_t>> got;
  while (q.step()) got.emplace_back(q.col(0).int64(), q.col(1).is_null() ? -1 : q.col(1).int64());
  const std::vector<std::pair<int64_t, int64_t>> want = {{1, 12}, {2, 7},  {3, -1}, {4, -1},
                                                         {5, -1}, {6, -1}, {7, -1}};
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace zlh::api::store
