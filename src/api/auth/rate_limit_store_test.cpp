// The login rate limiter counted in the store (issue 25): two limiters over
// one store stand for two replicas; what one counts, the other sees, with
// the in-process limiter's rules and answers.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "api/auth/rate_limit.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::auth {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

class SharedRateLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::open(dir.path + "/zlh.db");
    ASSERT_TRUE(s) << s.error().to_string();
    db = std::move(*s);
  }
  // A fake wall clock shared by both "replicas".
  std::atomic<int64_t> ms{1'795'514'400'000};
  LoginRateLimiter::Clock clock() {
    return [this] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms.load()));
    };
  }
  void advance(std::chrono::milliseconds d) { ms += d.count(); }

  store::testing::TempDir dir;
  std::unique_ptr<store::Store> db;
};

TEST_F(SharedRateLimit, FailuresOnOneReplicaCountOnTheOther) {
  LoginRateLimiter a({}, *db, "login", clock()), b({}, *db, "login", clock());
  for (int i = 0; i < 5; ++i) {
    LoginRateLimiter& l = i % 2 ? b : a;
    EXPECT_FALSE(l.retry_after("alice", "10.0.0.1")) << i;
    l.record_failure("alice", "10.0.0.1");
    advance(1s);
  }
  // As the in-process limiter: the first failure leaves at t0+900 s.
  EXPECT_EQ(a.retry_after("alice", "10.0.0.2"), seconds(895));
  EXPECT_EQ(b.retry_after("alice", "10.0.0.2"), seconds(895));
  EXPECT_FALSE(b.retry_after("bob", "10.0.0.1"));
  EXPECT_EQ(a.account_keys(), 1u);
  EXPECT_EQ(b.address_keys(), 1u);
  advance(894s);
  EXPECT_EQ(b.retry_after("alice", "10.0.0.1"), seconds(1));
  advance(500ms);
  EXPECT_EQ(b.retry_after("alice", "10.0.0.1"), seconds(1));  // rounded up, never 0
  advance(500ms);
  EXPECT_FALSE(a.retry_after("alice", "10.0.0.1"));  // sliding: one place free
  // A success on b clears the account for a too.
  b.record_success("alice");
  EXPECT_EQ(a.account_keys(), 0u);
}

TEST_F(SharedRateLimit, ParallelGuessesOverTwoReplicasGetNoMoreThanTheBudget) {
  const RateLimitConfig cfg{5, seconds(900), 1000, seconds(900), 1000};
  LoginRateLimiter a(cfg, *db, "login"), b(cfg, *db, "login");
  std::atomic<int> passed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 16; ++i)
    ts.emplace_back([&, i] {
      if (!(i % 2 ? a : b).reserve("user:1", "10.0.0." + std::to_string(i))) passed++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(passed.load(), 5);
  auto wait = a.reserve("user:1", "10.0.0.99");
  ASSERT_TRUE(wait);
  EXPECT_GE(*wait, seconds(899));
}

TEST_F(SharedRateLimit, SuccessClearsTheAccountAndGivesTheAddressItsAttemptBack) {
  const RateLimitConfig cfg{3, seconds(900), 3, seconds(900), 1000};
  LoginRateLimiter a(cfg, *db, "login", clock()), b(cfg, *db, "login", clock());
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(a.reserve("user:1", "10.0.0.1")) << i;
    b.succeeded("user:1", "10.0.0.1");
  }
  ASSERT_FALSE(a.reserve("user:2", "10.0.0.1"));
  ASSERT_FALSE(b.reserve("user:3", "10.0.0.1"));
  ASSERT_FALSE(a.reserve("user:4", "10.0.0.1"));
  auto wait = b.reserve("user:5", "10.0.0.1");  // the address is spent
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, seconds(900));
}

TEST_F(SharedRateLimit, ScopesAreSeparateAndZeroDisablesATable) {
  LoginRateLimiter login({1, seconds(60), 0, seconds(60), 10}, *db, "login", clock());
  LoginRateLimiter reg({0, seconds(3600), 1, seconds(3600), 10}, *db, "register", clock());
  ASSERT_FALSE(login.reserve("user:1", "10.0.0.1"));
  EXPECT_TRUE(login.reserve("user:1", "10.0.0.1"));
  EXPECT_FALSE(login.reserve("user:2", "10.0.0.1"));  // no address table
  ASSERT_FALSE(reg.reserve("", "10.0.0.1"));          // not the login's counts
  EXPECT_EQ(reg.reserve("", "10.0.0.1"), seconds(3600));
  // The login limiter's purge (past 60 s) leaves the registrations alone.
  advance(2min);
  EXPECT_FALSE(login.reserve("user:1", "10.0.0.1"));
  EXPECT_EQ(reg.address_keys(), 1u);
  EXPECT_EQ(reg.retry_after("", "10.0.0.1"), seconds(3480));
}

}  // namespace
}  // namespace zlh::api::auth

namespace zlh::api::auth {
namespace {

// Without its table (a PostgreSQL store before migration 0015, a broken
// database) the limiter still limits, in this process.
TEST(SharedRateLimitDegraded, CountsInThisProcessWhenTheStoreFails) {
  store::testing::TempDir dir;
  auto s = store::Store::open(dir.path + "/zlh.db");
  ASSERT_TRUE(s);
  {
    SQLite::Database db(dir.path + "/zlh.db", SQLite::OPEN_READWRITE);
    db.exec("DROP TABLE rate_events");
  }
  LoginRateLimiter l({2, seconds(60), 0, seconds(60), 10}, **s, "login");
  EXPECT_FALSE(l.reserve("user:1", "10.0.0.1"));
  EXPECT_FALSE(l.reserve("user:1", "10.0.0.1"));
  EXPECT_TRUE(l.reserve("user:1", "10.0.0.1"));
  l.succeeded("user:1", "10.0.0.1");
  EXPECT_FALSE(l.reserve("user:1", "10.0.0.1"));
}

}  // namespace
}  // namespace zlh::api::auth
