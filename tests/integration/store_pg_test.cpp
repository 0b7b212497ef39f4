// zlh-api on a PostgreSQL store (issue 25, docs/store-engines.md): started
// with --store postgresql://… and --store-password-file on a throwaway
// cluster (pg_fixture.hpp) that requires a password; /healthz answers 503
// E_UNAVAILABLE while PostgreSQL is down and 200 again once it is back
// (the pool reconnects). Skips when PostgreSQL is not installed.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>

#include "base/fs.hpp"
#include "harness.hpp"
#include "http/client.hpp"
#include "pg_fixture.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;

class StorePgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgServer::Options po;
    po.password = "pg-secret-7f3a";
    auto pg = PgServer::start(po);
    if (!pg && pg.error().code == codes::kUnavailable) GTEST_SKIP() << pg.error().to_string();
    ASSERT_TRUE(pg) << pg.error().to_string();
    pg_ = std::move(*pg);
    url_ = "postgresql://" + po.user + "@/" + po.database +
           "?host=" + percent_encoded(pg_->socket_dir()) + "&port=" + std::to_string(pg_->port()) +
           "&pool=2";
    dir_ = make_temp_dir("store-pg");
    make_tool_store(dir_, dir_ + "/store", dir_ + "/keys");
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/pgpass", po.password + "\n", 0600));
  }
  void TearDown() override {
    api_.reset();
    if (!dir_.empty()) remove_unless_failed(dir_);
  }

  void start_api() {
    api_ = std::make_unique<ApiProcess>(
        dir_, dir_ + "/store", dir_ + "/keys",
        std::vector<std::string>{"--store", url_, "--store-password-file", dir_ + "/pgpass"});
    ASSERT_TRUE(api_->start()) << api_->log();
  }

  // GET /healthz: its status, 0 when there was no answer.
  std::pair<int, std::string> health() const {
    auto r = http::request("GET", api_->url("/healthz"), {}, {}, 5s);
    if (!r) return {0, r.error().message};
    return {r->status, r->body};
  }

  std::unique_ptr<PgServer> pg_;
  std::string url_, dir_;
  std::unique_ptr<ApiProcess> api_;
};

TEST_F(StorePgTest, HealthIs503WhilePostgresIsDownAnd200OnceItIsBack) {
  start_api();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(health().first, 200);
  // The store is really PostgreSQL: the first admin zlh-api made is there.
  ASSERT_TRUE(
      pg_->exec("DO $$ BEGIN IF (SELECT count(*) FROM users) <> 1 THEN"
                " RAISE 'no admin'; END IF; END $$"));
  // The log names the store, never the password.
  const std::string log = api_->log();
  EXPECT_NE(log.find("postgresql://zlh@/zlh"), std::string::npos) << log;
  EXPECT_EQ(log.find("pg-secret-7f3a"), std::string::npos) << log;

  ASSERT_TRUE(pg_->halt());
  std::pair<int, std::string> down;
  EXPECT_TRUE(eventually(
      [&] {
        down = health();
        return down.first == 503;
      },
      30s))
      << down.first << " " << down.second;
  EXPECT_NE(down.second.find("E_UNAVAILABLE"), std::string::npos) << down.second;

  ASSERT_TRUE(pg_->resume());
  std::pair<int, std::string> up;
  EXPECT_TRUE(eventually(
      [&] {
        up = health();
        return up.first == 200;
      },
      30s))
      << up.first << " " << up.second;
  EXPECT_EQ(api_->log().find("pg-secret-7f3a"), std::string::npos);
}

TEST_F(StorePgTest, AWrongPasswordOrALoosePasswordFileStopsTheStart) {
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/pgpass", "not-the-password\n", 0600));
  api_ = std::make_unique<ApiProcess>(
      dir_, dir_ + "/store", dir_ + "/keys",
      std::vector<std::string>{"--store", url_, "--store-password-file", dir_ + "/pgpass"});
  EXPECT_FALSE(api_->start(10s));
  EXPECT_NE(api_->log().find("cannot open the store"), std::string::npos) << api_->log();
  EXPECT_EQ(api_->log().find("not-the-password"), std::string::npos) << api_->log();
  api_.reset();

  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/pgpass", "pg-secret-7f3a\n", 0644));
  api_ = std::make_unique<ApiProcess>(
      dir_, dir_ + "/store", dir_ + "/keys",
      std::vector<std::string>{"--store", url_, "--store-password-file", dir_ + "/pgpass"});
  EXPECT_FALSE(api_->start(10s));
  EXPECT_NE(api_->log().find("chmod 600"), std::string::npos) << api_->log();
}

}  // namespace
}  // namespace zlh::testing
