#include "agent/auth.hpp"

#include <gtest/gtest.h>

#include "common/jws.hpp"

namespace zlh::agent {
namespace {

constexpr int64_t kNow = 1'800'000'000;

http::Request with_token(const std::string& t) {
  http::Request r;
  r.headers.add("Authorization", "Bearer " + t);
  return r;
}

TEST(TokenGuard, AcceptsValidRefusesEverythingElse) {
  auto kp = crypto::ed25519_generate();
  TokenGuard g(kp.pub, 6001, [] { return kNow; });
  EXPECT_FALSE(g.check(with_token(*jws::mint_agent_token(kp.sec, 6001, 300, kNow))));
  auto e = g.check(http::Request{});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, codes::kUnauthorized);
  EXPECT_TRUE(g.check(with_token(*jws::mint_agent_token(kp.sec, 6002, 300, kNow))));
  EXPECT_TRUE(g.check(with_token(*jws::mint_agent_token(kp.sec, 6001, 10, kNow - 20))));
  auto other = crypto::ed25519_generate();
  EXPECT_TRUE(g.check(with_token(*jws::mint_agent_token(other.sec, 6001, 300, kNow))));
}

TEST(TokenGuard, CachedTokenStillExpires) {
  auto kp = crypto::ed25519_generate();
  int64_t now = kNow;
  TokenGuard g(kp.pub, 6001, [&now] { return now; });
  auto t = *jws::mint_agent_token(kp.sec, 6001, 60, kNow);
  EXPECT_FALSE(g.check(with_token(t)));  // verified, cached
  EXPECT_FALSE(g.check(with_token(t)));  // from the cache
  now = kNow + 60;
  EXPECT_TRUE(g.check(with_token(t)));  // dead at exp, cache or not
  EXPECT_TRUE(g.check(with_token(t)));
  // A forged token that shares nothing with a cached one is verified, and refused.
  auto forged = t;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  now = kNow;
  EXPECT_TRUE(g.check(with_token(forged)));
}

TEST(TokenGuard, FailsClosedWithoutKeyOrVmid) {
  auto kp = crypto::ed25519_generate();
  auto t = *jws::mint_agent_token(kp.sec, 6001, 300, kNow);
  TokenGuard no_key(std::nullopt, 6001, [] { return kNow; });
  EXPECT_TRUE(no_key.check(with_token(t)));
  TokenGuard no_vmid(kp.pub, std::nullopt, [] { return kNow; });
  EXPECT_TRUE(no_vmid.check(with_token(t)));
}

}  // namespace
}  // namespace zlh::agent
