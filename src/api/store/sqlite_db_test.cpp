// The Db seam over SQLite: the shared cases (db_conformance_test.cpp) and
// what is SQLite's own.
#include "api/store/sqlite_db.hpp"

#include <gtest/gtest.h>

#include <string>

#include "api/store/db_conformance.hpp"

namespace zlh::api::store {
namespace {

Result<std::unique_ptr<Db>> open_sqlite(const std::string& scratch) {
  auto db = std::make_unique<SqliteDb>(
      SQLite::Database(scratch + "/x.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE));
  db->exec("PRAGMA foreign_keys = ON");
  db->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, n INTEGER,"
      " r REAL) STRICT;"
      "CREATE TABLE u (t_id INTEGER REFERENCES t(id), k INTEGER CHECK (k > 0)) STRICT");
  return db;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, DbConformance, ::testing::Values(DbEngine{"sqlite", open_sqlite}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SqliteDb, ErrorsCarrySqlitesMessage) {
  testing::TempDir dir;
  auto db = open_sqlite(dir.path).value();
  db->exec("INSERT INTO t (name) VALUES ('a')");
  try {
    db->exec("INSERT INTO t (name) VALUES ('a')");
    FAIL() << "duplicate accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code, codes::kConflict);
    EXPECT_NE(std::string(e.what()).find("UNIQUE"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zlh::api::store
