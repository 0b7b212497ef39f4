#include "api/auth/rate_limit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace zlh::api::auth {
namespace {

// "prefix" + number without `const char* + std::string&&`, which trips a
// GCC 12 -Wrestrict false positive.
std::string key(std::string prefix, int i) { return prefix.append(std::to_string(i)); }

using namespace std::chrono_literals;
using std::chrono::seconds;

class RateLimit : public ::testing::Test {
 protected:
  std::atomic<int64_t> ms{3'600'000};  // fake steady time, ms
  LoginRateLimiter::Clock clock() {
    return [this] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms.load()));
    };
  }
  void advance(std::chrono::milliseconds d) { ms += d.count(); }
};

TEST_F(RateLimit, FiveFailuresPerAccountThenRetryAfter) {
  LoginRateLimiter rl({}, clock());
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(rl.retry_after("alice", "10.0.0.1")) << i;
    rl.record_failure("alice", "10.0.0.1");
    advance(1s);
  }
  // Five failures at t0..t0+4s; now t0+5s: the first leaves at t0+900s.
  auto wait = rl.retry_after("alice", "10.0.0.2");  // another address: still limited
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 895s);
  // Another account from the same address is fine.
  EXPECT_FALSE(rl.retry_after("bob", "10.0.0.1"));
  advance(894s);
  EXPECT_EQ(rl.retry_after("alice", "10.0.0.1"), seconds(1));
  advance(500ms);
  EXPECT_EQ(rl.retry_after("alice", "10.0.0.1"), seconds(1));  // rounded up, never 0
  advance(500ms);
  EXPECT_FALSE(rl.retry_after("alice", "10.0.0.1"));  // sliding: one slot free
  rl.record_failure("alice", "10.0.0.1");
  EXPECT_EQ(rl.retry_after("alice", "10.0.0.1"), seconds(1));  // the second failure leaves next
}

TEST_F(RateLimit, TwentyFailuresPerAddressAcrossAccounts) {
  LoginRateLimiter rl({}, clock());
  for (int i = 0; i < 20; ++i) {
    std::string account = key("user", i);
    EXPECT_FALSE(rl.retry_after(account, "203.0.113.9")) << i;
    rl.record_failure(account, "203.0.113.9");
  }
  auto wait = rl.retry_after("someone-new", "203.0.113.9");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 900s);
  EXPECT_FALSE(rl.retry_after("someone-new", "203.0.113.10"));
  advance(900s);
  EXPECT_FALSE(rl.retry_after("someone-new", "203.0.113.9"));
}

TEST_F(RateLimit, SuccessResetsTheAccountButNotTheAddress) {
  RateLimitConfig cfg;
  cfg.address_limit = 6;
  LoginRateLimiter rl(cfg, clock());
  for (int i = 0; i < 5; ++i) rl.record_failure("alice", "10.0.0.1");
  ASSERT_TRUE(rl.retry_after("alice", "10.0.0.9"));
  rl.record_success("alice");
  EXPECT_FALSE(rl.retry_after("alice", "10.0.0.9"));
  EXPECT_EQ(rl.account_keys(), 0u);
  // The address still holds its five failures: one more and it is limited.
  EXPECT_FALSE(rl.retry_after("carol", "10.0.0.1"));
  rl.record_failure("carol", "10.0.0.1");
  EXPECT_EQ(rl.retry_after("carol", "10.0.0.1"), 900s);
}

TEST_F(RateLimit, LongerOfBothWaitsIsReturned) {
  RateLimitConfig cfg;
  cfg.account_limit = 2;
  cfg.account_window = 60s;
  cfg.address_limit = 2;
  cfg.address_window = 600s;
  LoginRateLimiter rl(cfg, clock());
  rl.record_failure("a", "x");
  rl.record_failure("a", "x");
  EXPECT_EQ(rl.retry_after("a", "x"), 600s);
  EXPECT_EQ(rl.retry_after("a", "y"), 60s);
  EXPECT_EQ(rl.retry_after("b", "x"), 600s);
}

TEST_F(RateLimit, ZeroLimitDisablesATable) {
  RateLimitConfig cfg;
  cfg.address_limit = 0;
  LoginRateLimiter rl(cfg, clock());
  for (int i = 0; i < 100; ++i) rl.record_failure(key("u", i), "1.2.3.4");
  EXPECT_FALSE(rl.retry_after("fresh", "1.2.3.4"));
  EXPECT_EQ(rl.address_keys(), 0u);
}

TEST_F(RateLimit, MemoryIsBounded) {
  RateLimitConfig cfg;
  cfg.max_keys = 50;
  cfg.address_limit = 0;
  LoginRateLimiter rl(cfg, clock());
  // The victim's failures are the oldest in the table.
  for (int i = 0; i < 5; ++i) rl.record_failure("victim", "a");
  ASSERT_TRUE(rl.retry_after("victim", "a"));
  for (int i = 0; i < 49; ++i) rl.record_failure(key("k", i), "a");
  EXPECT_EQ(rl.account_keys(), 50u);
  EXPECT_TRUE(rl.retry_after("victim", "a"));  // still held at capacity
  rl.record_failure("one-more", "a");
  EXPECT_EQ(rl.account_keys(), 50u);
  EXPECT_FALSE(rl.retry_after("victim", "a"));  // least recently failed key evicted
  for (int i = 0; i < 1000; ++i) rl.record_failure(key("flood", i), "a");
  EXPECT_EQ(rl.account_keys(), 50u);
}

TEST_F(RateLimit, ExpiredKeysAreDropped) {
  LoginRateLimiter rl({}, clock());
  for (int i = 0; i < 10; ++i) rl.record_failure(key("u", i), key("10.0.0.", i));
  EXPECT_EQ(rl.account_keys(), 10u);
  EXPECT_EQ(rl.address_keys(), 10u);
  advance(901s);
  rl.record_failure("new", "10.0.1.1");  // insertion sweeps expired keys
  EXPECT_EQ(rl.account_keys(), 1u);
  EXPECT_EQ(rl.address_keys(), 1u);
}

TEST_F(RateLimit, LongKeysAreHashedAndStillDistinct) {
  LoginRateLimiter rl({}, clock());
  std::string a(100000, 'a'), b = a;
  b.back() = 'b';
  for (int i = 0; i < 5; ++i) rl.record_failure(a, "1.1.1.1");
  EXPECT_TRUE(rl.retry_after(a, "2.2.2.2"));
  EXPECT_FALSE(rl.retry_after(b, "2.2.2.2"));
}

TEST_F(RateLimit, ThreadSafeUnderConcurrentFailures) {
  RateLimitConfig cfg;
  cfg.account_limit = 1000;
  cfg.address_limit = 1000;
  LoginRateLimiter rl(cfg, clock());
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        rl.record_failure("shared", key("10.0.0.", t));
        (void)rl.retry_after("shared", "10.0.0.1");
        advance(1ms);
      }
    });
  for (auto& th : ts) th.join();
  // Exactly 1000 failures were counted for the account: it is now limited.
  EXPECT_TRUE(rl.retry_after("shared", "10.9.9.9"));
  rl.record_success("shared");
  EXPECT_FALSE(rl.retry_after("shared", "10.9.9.9"));
  EXPECT_EQ(rl.address_keys(), 4u);
}

TEST_F(RateLimit, AccountExactlyAtLimitMinusOneIsNotLimited) {
  RateLimitConfig cfg;
  cfg.account_limit = 1000;
  cfg.address_limit = 0;
  LoginRateLimiter rl(cfg, clock());
  for (int i = 0; i < 999; ++i) rl.record_failure("x", "a");
  EXPECT_FALSE(rl.retry_after("x", "a"));
  rl.record_failure("x", "a");
  EXPECT_TRUE(rl.retry_after("x", "a"));
}

TEST(RateLimitError, CodeAndMessage) {
  Error e = rate_limited_error(42s);
  EXPECT_EQ(e.code, codes::kRateLimited);
  EXPECT_EQ(http_status_for(e.code), 429);
  EXPECT_EQ(e.message, "too many failed logins; retry in 42 s");
}

TEST(AddressKey, NormalisesAddresses) {
  EXPECT_EQ(address_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("::1"), "::/64");
  EXPECT_EQ(address_key("not an ip"), "not an ip");
  EXPECT_EQ(address_key(""), "");
}

}  // namespace
}  // namespace zlh::api::auth

namespace zlh::api::auth {
namespace {

// M2: the attempt is counted before the password is checked, so parallel
// guesses cannot all pass a check made before any was recorded.
TEST(LoginRateLimiterReserve, ParallelGuessesGetNoMoreThanTheBudget) {
  LoginRateLimiter l(
      RateLimitConfig{5, std::chrono::seconds(900), 1000, std::chrono::seconds(900), 1000});
  std::atomic<int> passed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 32; ++i)
    ts.emplace_back([&, i] {
      if (!l.reserve("user:1", "10.0.0." + std::to_string(i))) passed++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(passed.load(), 5);
}

TEST(LoginRateLimiterReserve, SuccessClearsTheAccountAndGivesTheAddressItsAttemptBack) {
  LoginRateLimiter l(
      RateLimitConfig{3, std::chrono::seconds(900), 3, std::chrono::seconds(900), 1000});
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(l.reserve("user:1", "10.0.0.1")) << i;
    l.succeeded("user:1", "10.0.0.1");
  }
  ASSERT_FALSE(l.reserve("user:2", "10.0.0.1"));
  ASSERT_FALSE(l.reserve("user:2", "10.0.0.1"));
  ASSERT_FALSE(l.reserve("user:2", "10.0.0.1"));
  auto wait = l.reserve("user:2", "10.0.0.1");
  ASSERT_TRUE(wait);
  EXPECT_GE(wait->count(), 1);
}

}  // namespace
}  // namespace zlh::api::auth
