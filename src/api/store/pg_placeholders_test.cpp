// SQLite's `?`/`?N` to PostgreSQL's `$N`: numbering, and what is not a
// parameter (strings, quoted identifiers, comments).
#include "api/store/pg_placeholders.hpp"

#include <gtest/gtest.h>

namespace zlh::api::store {
namespace {

std::string rewritten(std::string_view sql) {
  auto r = pg_placeholders(sql);
  return r ? r->text : "error: " + r.error().message;
}
int params(std::string_view sql) { return pg_placeholders(sql).value().params; }

TEST(PgPlaceholders, BareMarksCountUp) {
  EXPECT_EQ(rewritten("INSERT INTO t (a, b, c) VALUES (?, ?, ?)"),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)");
  EXPECT_EQ(params("INSERT INTO t (a, b, c) VALUES (?, ?, ?)"), 3);
  EXPECT_EQ(rewritten("SELECT 1"), "SELECT 1");
  EXPECT_EQ(params("SELECT 1"), 0);
  EXPECT_EQ(rewritten(""), "");
}

TEST(PgPlaceholders, NumberedMarksKeepTheirNumberAndRepeat) {
  EXPECT_EQ(rewritten("UPDATE t SET n = ?1 WHERE n < ?1"), "UPDATE t SET n = $1 WHERE n < $1");
  EXPECT_EQ(params("UPDATE t SET n = ?1 WHERE n < ?1"), 1);
  EXPECT_EQ(rewritten("?10, ?10, ?2"), "$10, $10, $2");
  EXPECT_EQ(params("?10, ?10, ?2"), 10);
  EXPECT_EQ(rewritten("?007"), "$7");
  EXPECT_EQ(rewritten("?32766"), "$32766");
}

TEST(PgPlaceholders, BareAfterNumberedIsHighestPlusOne) {
  // SQLite's rule, not "previous bare mark plus one".
  EXPECT_EQ(rewritten("?5, ?, ?2, ?"), "$5, $6, $2, $7");
  EXPECT_EQ(rewritten("?, ?1, ?"), "$1, $1, $2");
}

TEST(PgPlaceholders, DoubleMarkIsTwoParameters) {
  EXPECT_EQ(rewritten("a ?? b"), "a $1$2 b");
  EXPECT_EQ(params("a ?? b"), 2);
  EXPECT_EQ(rewritten("?1?"), "$1$2");
}

TEST(PgPlaceholders, DigitsEndTheNumberAndNothingElseIsTaken) {
  EXPECT_EQ(rewritten("?12abc"), "$12abc");
  EXPECT_EQ(rewritten("x=?,y=?)"), "x=$1,y=$2)");
  EXPECT_EQ(rewritten("LIMIT ?\n"), "LIMIT $1\n");
}

TEST(PgPlaceholders, StringsAndQuotedIdentifiersAreLeftAlone) {
  EXPECT_EQ(rewritten("SELECT '?', ? FROM t"), "SELECT '?', $1 FROM t");
  EXPECT_EQ(rewritten("WHERE a = 'it''s ?1' AND b = ?"), "WHERE a = 'it''s ?1' AND b = $1");
  EXPECT_EQ(rewritten("SELECT \"we?ird\"\"?\" FROM t WHERE x = ?"),
            "SELECT \"we?ird\"\"?\" FROM t WHERE x = $1");
  EXPECT_EQ(rewritten("SELECT '\"?', \"'?\", ?"), "SELECT '\"?', \"'?\", $1");
  EXPECT_EQ(rewritten("'' ? ''''"), "'' $1 ''''");
  // Backslash is not an escape (standard_conforming_strings, and SQLite).
  EXPECT_EQ(rewritten("'\\' ?"), "'\\' $1");
  // Unterminated: copied as is; the server reports it.
  EXPECT_EQ(rewritten("? 'abc ?"), "$1 'abc ?");
}

TEST(PgPlaceholders, CommentsAreLeftAlone) {
  EXPECT_EQ(rewritten("SELECT ? -- why? ?\n, ?"), "SELECT $1 -- why? ?\n, $2");
  EXPECT_EQ(rewritten("SELECT ? /* ?1 '*/, ?"), "SELECT $1 /* ?1 '*/, $2");
  EXPECT_EQ(rewritten("? -- to the end ?"), "$1 -- to the end ?");
  EXPECT_EQ(rewritten("? /* unterminated ?"), "$1 /* unterminated ?");
  // Not comments: a lone '-' or '/'.
  EXPECT_EQ(rewritten("n - ? / ?"), "n - $1 / $2");
}

TEST(PgPlaceholders, OutOfRangeNumbersAreRefused) {
  for (std::string_view bad : {"?0", "?32767", "?99999999999999999999", "? ?0"}) {
    auto r = pg_placeholders(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, codes::kInvalid) << bad;
  }
}

TEST(PgPlaceholders, OtherDollarAndNamedFormsAreUntouched) {
  EXPECT_EQ(rewritten("SELECT $1, :a, @b, ?"), "SELECT $1, :a, @b, $1");
}

}  // namespace
}  // namespace zlh::api::store
