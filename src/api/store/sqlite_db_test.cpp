// The Db seam over SQLite: what the store's files rely on, checked on the
// engine itself. The PostgreSQL engine will run the same cases.
#include "api/store/sqlite_db.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db = std::make_unique<SqliteDb>(
        SQLite::Database(dir.path + "/x.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE));
    db->exec(
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, n INTEGER,"
        " r REAL) STRICT");
  }
  int64_t count() { return db->scalar_int64("SELECT count(*) FROM t"); }

  testing::TempDir dir;
  std::unique_ptr<Db> db;
};

TEST_F(SqliteDbTest, BindsAndReadsEveryType) {
  Stmt ins = db->prepare("INSERT INTO t (name, n, r) VALUES (?, ?, ?)");
  ins.bind(1, std::string("a"));
  ins.bind(2, true);
  ins.bind(3, 1.5);
  EXPECT_EQ(ins.exec(), 1);
  EXPECT_EQ(db->last_insert_id(), 1);

  ins.reset();
  ins.bind(1, std::optional<std::string>{});
  ins.bind(2, std::optional<int64_t>{INT64_MAX});
  ins.bind_null(3);
  ins.exec();
  EXPECT_EQ(db->last_insert_id(), 2);

  Stmt q = db->prepare("SELECT name, n, r FROM t ORDER BY id");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).text(), "a");
  EXPECT_EQ(q.col(1).int32(), 1);
  EXPECT_DOUBLE_EQ(q.col(2).real(), 1.5);
  ASSERT_TRUE(q.step());
  EXPECT_TRUE(q.col(0).is_null());
  EXPECT_EQ(q.col(0).text(), "");
  EXPECT_EQ(q.col(1).int64(), INT64_MAX);
  EXPECT_TRUE(q.col(2).is_null());
  EXPECT_FALSE(q.step());
}

TEST_F(SqliteDbTest, ExecCountsChangedRowsAndNumberedParametersRepeat) {
  db->exec("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)");
  Stmt up = db->prepare("UPDATE t SET n = ?1 WHERE n < ?1");
  up.bind(1, 3);
  EXPECT_EQ(up.exec(), 2);
  up.reset();  // bindings are kept
  EXPECT_EQ(up.exec(), 0);
}

TEST_F(SqliteDbTest, WriteTxRollsBackUnlessCommitted) {
  {
    WriteTx tx(*db);
    db->exec("INSERT INTO t (name) VALUES ('gone')");
  }
  EXPECT_EQ(count(), 0);
  {
    WriteTx tx(*db);
    db->exec("INSERT INTO t (name) VALUES ('kept')");
    tx.commit();
  }
  EXPECT_EQ(count(), 1);
}

TEST_F(SqliteDbTest, FailuresAreDbErrorsWithSharedCodes) {
  db->exec("INSERT INTO t (name) VALUES ('a')");
  try {
    db->exec("INSERT INTO t (name) VALUES ('a')");
    FAIL() << "duplicate accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code, codes::kConflict);
    EXPECT_NE(std::string(e.what()).find("UNIQUE"), std::string::npos) << e.what();
  }
  try {
    db->prepare("SELECT nope FROM t");
    FAIL() << "bad SQL prepared";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code, codes::kInternal);
  }
  try {
    Stmt ins = db->prepare("INSERT INTO t (name, n) VALUES ('b', ?)");
    ins.bind(1, std::string("not an integer"));  // STRICT: a bug, not a conflict
    ins.exec();
    FAIL() << "text stored in an INTEGER column";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code, codes::kInternal);
  }
}

TEST_F(SqliteDbTest, ScalarWithoutRowIsAnError) {
  EXPECT_THROW(db->scalar_int64("SELECT n FROM t"), DbError);
}

}  // namespace
}  // namespace zlh::api::store
