#include "api/store/pg_url.hpp"

#include <gtest/gtest.h>

namespace zlh::api::store {
namespace {

std::string ci(std::string_view url) {
  auto r = pg_conninfo_from_url(url);
  EXPECT_TRUE(r) << url << ": " << r.error().message;
  return r ? r->conninfo : "";
}

TEST(PgUrl, BecomesAQuotedLibpqConnectionString) {
  EXPECT_EQ(ci("postgres://zlh@db.example:5433/zlh"),
            "host='db.example' port='5433' user='zlh' dbname='zlh'");
  EXPECT_EQ(ci("postgresql://db/app"), "host='db' dbname='app'");
  EXPECT_EQ(ci("postgres:///zlh"), "dbname='zlh'");
  EXPECT_EQ(ci("postgres://"), "");
  EXPECT_EQ(ci("postgres://[::1]:6000/x"), "host='::1' port='6000' dbname='x'");
  EXPECT_EQ(ci("postgres://a:1,b:2/x"), "host='a,b' port='1,2' dbname='x'");
  EXPECT_EQ(ci("postgres://%2Frun%2Fpostgresql/zlh"), "host='/run/postgresql' dbname='zlh'");
  EXPECT_EQ(ci("postgres:///zlh?host=/tmp/s&sslmode=require&connect_timeout=5"),
            "dbname='zlh' host='/tmp/s' sslmode='require' connect_timeout='5'");
  EXPECT_EQ(ci("postgres://o%27brien@h/d%20b"), "host='h' user='o\\'brien' dbname='d b'");
}

TEST(PgUrl, PoolIsZlhsOwnParameter) {
  auto r = pg_conninfo_from_url("postgres://h/d?pool=8&sslmode=disable");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pool, 8);
  EXPECT_EQ(r->conninfo, "host='h' dbname='d' sslmode='disable'");
  EXPECT_EQ(pg_conninfo_from_url("postgres://h/d")->pool, 0);
  for (auto bad : {"postgres://h/d?pool=0", "postgres://h/d?pool=65", "postgres://h/d?pool=x"})
    EXPECT_FALSE(pg_conninfo_from_url(bad)) << bad;
}

TEST(PgUrl, APasswordInTheUrlIsRefusedWithoutRepeatingIt) {
  for (auto url : {"postgres://zlh:hunter2@h/d", "postgres://h/d?password=hunter2",
                   "postgresql://zlh:hunter2@h:5432/d?sslmode=require"}) {
    auto r = pg_conninfo_from_url(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, codes::kInvalid);
    EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("password"), std::string::npos);
  }
}

TEST(PgUrl, MalformedUrlsAreInvalid) {
  for (auto url : {"sqlite:/x.db", "mysql://h/d", "postgres://h:99999/d", "postgres://h:x/d",
                   "postgres://[::1/d", "postgres://h/%zz", "postgres://h/d?=v",
                   "postgres://h/d?Bad=1", "postgres://@h/d", "postgres://h/d%2"})
    EXPECT_FALSE(pg_conninfo_from_url(url)) << url;
}

TEST(PgUrl, PasswordIsAppendedQuoted) {
  EXPECT_EQ(pg_conninfo_with_password("host='h'", "p'w\\d"), "host='h' password='p\\'w\\\\d'");
  EXPECT_EQ(pg_conninfo_with_password("", "x"), "password='x'");
}

}  // namespace
}  // namespace zlh::api::store
