#include "api/store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>

#include "api/store/impl.hpp"
#include "api/store/sqlite_db.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::SqliteStoreTest;
using testing::TempDir;

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(StoreOpen, FileIsPrivateEvenWhenItExistedLooser) {
  TempDir dir;
  const std::string path = dir.path + "/zlh.db";
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    ASSERT_TRUE((*s)->create_user({"a@b.c", "a", "h", false}));  // forces the -wal file
    EXPECT_EQ(file_mode(path), 0600);
    EXPECT_EQ(file_mode(path + "-wal"), 0600);
  }
  const std::string loose = dir.path + "/loose.db";
  std::ofstream(loose).close();
  ASSERT_EQ(::chmod(loose.c_str(), 0644), 0);
  auto s = Store::open(loose);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(file_mode(loose), 0600);
}

TEST(StoreOpen, MissingDirectoryIsAnIoError) {
  auto s = Store::open("/nonexistent-zlh-dir/zlh.db");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, codes::kIo);
}

TEST(StoreOpen, BadRangesAreRefused) {
  TempDir dir;
  Options o;
  o.game_vmids = {6000, 5000};
  auto s = Store::open(dir.path + "/zlh.db", o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, codes::kInvalid);
  EXPECT_EQ(s.error().field, "game_vmids");
  Options p;
  p.ports = {0, 10};
  s = Store::open(dir.path + "/zlh.db", p);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().field, "ports");
}

// What SQLite's own failures come back as, from a real connection.
Error error_of(SQLite::Database& db, const char* sql) {
  try {
    db.exec(sql);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "ctx");
  }
  ADD_FAILURE() << "no error from: " << sql;
  return Error::make(codes::kInternal, "no error");
}

TEST(StoreErrors, SqliteFailuresMapToStableCodes) {
  TempDir dir;
  SQLite::Database db(dir.path + "/x.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT UNIQUE, c INTEGER CHECK (c > 0))");
  db.exec("INSERT INTO t VALUES (1, 'x', 1)");
  Error dup_pk = error_of(db, "INSERT INTO t VALUES (1, 'y', 1)");
  EXPECT_EQ(dup_pk.code, codes::kConflict);
  EXPECT_EQ(error_of(db, "INSERT INTO t VALUES (2, 'x', 1)").code, codes::kConflict);
  Error check = error_of(db, "INSERT INTO t VALUES (3, 'z', 0)");
  EXPECT_EQ(check.code, codes::kInternal) << "a CHECK the store should have caught is a bug";
  EXPECT_EQ(error_of(db, "SELEC nonsense").code, codes::kInternal);
  EXPECT_EQ(dup_pk.message.rfind("ctx: ", 0), 0u) << dup_pk.message;
  EXPECT_FALSE(dup_pk.cause.empty());
}

TEST_F(SqliteStoreTest, ALockHeldByAnotherProcessIsUnavailableAfterTheBusyTimeout) {
  Options o;
  o.busy_timeout = 50ms;
  reopen(o);
  SQLite::Database other(db_path(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  auto r = store->create_user({"a@b.c", "a", "h", false});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, codes::kUnavailable);
  EXPECT_TRUE(store->count_users().has_value()) << "readers are not blocked by a WAL writer";
  other.exec("COMMIT");
  EXPECT_TRUE(store->create_user({"a@b.c", "a", "h", false}).has_value());
}

}  // namespace
}  // namespace zlh::api::store
