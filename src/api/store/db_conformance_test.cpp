// The seam's cases, engine-neutral: see db_conformance.hpp.
#include "api/store/db_conformance.hpp"

#include <cmath>
#include <optional>
#include <string>

namespace zlh::api::store {

void DbConformance::SetUp() {
  auto r = GetParam().open(dir.path);
  if (!r && r.error().code == codes::kUnavailable) GTEST_SKIP() << r.error().message;
  ASSERT_TRUE(r) << r.error().message;
  db = std::move(*r);
}

namespace {

Code code_of(auto&& f) {
  try {
    f();
  } catch (const DbError& e) {
    return e.code;
  }
  ADD_FAILURE() << "no DbError";
  return Code::kInvalid;
}

TEST_P(DbConformance, BindsAndReadsEveryType) {
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
  EXPECT_EQ(q.col(2).real(), 0.0);
  EXPECT_FALSE(q.step());
}

TEST_P(DbConformance, ValuesRoundTripExactly) {
  const std::string text = "it's \"?1\" -- é \\ /* ? */";
  const double reals[] = {0.1, -1e300, 5e-324, 123456.789, -0.5};
  Stmt ins = db->prepare("INSERT INTO t (name, n, r) VALUES (?, ?, ?)");
  for (int i = 0; i < 5; ++i) {
    ins.reset();
    ins.bind(1, text + std::to_string(i));
    ins.bind(2, i == 0 ? INT64_MIN : int64_t{i});
    ins.bind(3, reals[i]);
    ins.exec();
  }
  Stmt q = db->prepare("SELECT name, n, r FROM t ORDER BY id");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.col(0).text(), text + std::to_string(i));
    EXPECT_EQ(q.col(1).int64(), i == 0 ? INT64_MIN : int64_t{i});
    EXPECT_EQ(q.col(2).real(), reals[i]);
  }
}

TEST_P(DbConformance, ExecCountsChangedRowsAndNumberedParametersRepeat) {
  db->exec("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)");
  Stmt up = db->prepare("UPDATE t SET n = ?1 WHERE n < ?1");
  up.bind(1, 3);
  EXPECT_EQ(up.exec(), 2);
  up.reset();  // bindings are kept
  EXPECT_EQ(up.exec(), 0);
  Stmt del = db->prepare("DELETE FROM t WHERE name <> ?");
  del.bind(1, "b");
  EXPECT_EQ(del.exec(), 2);
}

TEST_P(DbConformance, MarksInLiteralsAreNotParametersAndBareFollowsHighest) {
  db->exec("INSERT INTO t (name, n) VALUES ('?1', 1), ('x', 2)");
  // ?2 first, then a bare ? = 3; '?1' is a string.
  Stmt q = db->prepare(
      "SELECT name FROM t WHERE (name = '?1' AND n = ?2) OR (name = ?1 AND n = ?) ORDER BY n");
  q.bind(1, "x");
  q.bind(2, 1);
  q.bind(3, 2);
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).text(), "?1");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).text(), "x");
  EXPECT_FALSE(q.step());
}

TEST_P(DbConformance, UnboundParametersAreNull) {
  Stmt ins = db->prepare("INSERT INTO t (name, n) VALUES (?, ?)");
  ins.bind(1, "a");
  ins.exec();
  EXPECT_EQ(db->scalar_int64("SELECT count(*) FROM t WHERE n IS NULL"), 1);
}

TEST_P(DbConformance, ResetRunsTheQueryAgain) {
  Stmt q = db->prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).int64(), 0);
  db->exec("INSERT INTO t (name) VALUES ('a')");
  q.reset();
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).int64(), 1);
}

TEST_P(DbConformance, AggregatesAndComparisonsReadAsIntegers) {
  db->exec("INSERT INTO t (name, n, r) VALUES ('a', 4000000000, 2.5), ('b', 2, 0.25)");
  Stmt q = db->prepare(
      "SELECT coalesce(sum(n), 0), EXISTS (SELECT 1 FROM t WHERE n = 2), count(*) > 5, sum(r), "
      "max(r) FROM t");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.col(0).int64(), 4000000002);
  EXPECT_EQ(q.col(1).int64(), 1);
  EXPECT_EQ(q.col(1).text(), "1");
  EXPECT_EQ(q.col(2).int32(), 0);
  EXPECT_DOUBLE_EQ(q.col(3).real(), 2.75);
  EXPECT_EQ(q.col(4).int64(), 2);  // a real read as an integer: truncated
  EXPECT_EQ(q.col(0).real(), 4000000002.0);
}

TEST_P(DbConformance, WriteTxRollsBackUnlessCommitted) {
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

TEST_P(DbConformance, TransactionsDoNotNest) {
  EXPECT_EQ(code_of([&] { db->commit(); }), codes::kInternal);
  EXPECT_EQ(code_of([&] { db->rollback(); }), codes::kInternal);
  db->begin_write();
  EXPECT_EQ(code_of([&] { db->begin_write(); }), codes::kInternal);
  db->rollback();
}

TEST_P(DbConformance, FailuresAreDbErrorsWithSharedCodes) {
  db->exec("INSERT INTO t (name) VALUES ('a')");
  EXPECT_EQ(code_of([&] { db->exec("INSERT INTO t (name) VALUES ('a')"); }), codes::kConflict);
  EXPECT_EQ(code_of([&] { db->prepare("SELECT nope FROM t"); }), codes::kInternal);
  EXPECT_EQ(code_of([&] {
              Stmt ins = db->prepare("INSERT INTO t (name, n) VALUES ('b', ?)");
              ins.bind(1, std::string("not an integer"));  // a bug, not a conflict
              ins.exec();
            }),
            codes::kInternal);
  EXPECT_EQ(count(), 1);
}

TEST_P(DbConformance, OtherConstraintsAreBugsNotConflicts) {
  db->exec("INSERT INTO t (name) VALUES ('a')");
  // Foreign key and CHECK: the store checks these first, so a violation
  // is E_INTERNAL on both engines; only uniqueness is E_CONFLICT.
  EXPECT_EQ(code_of([&] { db->exec("INSERT INTO u (t_id, k) VALUES (99, 1)"); }), codes::kInternal);
  EXPECT_EQ(code_of([&] { db->exec("INSERT INTO u (t_id, k) VALUES (1, 0)"); }), codes::kInternal);
  db->exec("INSERT INTO u (t_id, k) VALUES (1, 1)");
}

TEST_P(DbConformance, OutOfRangeIndexesAreErrors) {
  Stmt ins = db->prepare("INSERT INTO t (name) VALUES (?)");
  EXPECT_EQ(code_of([&] { ins.bind(2, 1); }), codes::kInternal);
  EXPECT_EQ(code_of([&] { ins.bind(0, 1); }), codes::kInternal);
  db->exec("INSERT INTO t (name) VALUES ('a')");
  Stmt q = db->prepare("SELECT name FROM t");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(code_of([&] { (void)q.col(1).text(); }), codes::kInternal);
}

TEST_P(DbConformance, ExecOfNothingIsANoOp) {
  db->exec("");
  db->exec("  -- nothing\n");
  EXPECT_EQ(count(), 0);
}

TEST_P(DbConformance, ScalarWithoutRowIsAnError) {
  EXPECT_THROW(db->scalar_int64("SELECT n FROM t"), DbError);
}

}  // namespace
}  // namespace zlh::api::store
