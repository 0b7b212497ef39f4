#include "agent/auth.hpp"

#include <gtest/gtest.h>

#include "proto/jws.hpp"

namespace zlh::agent {
namespace {

constexpr int64_t kNow = 1'800'000'000;

http::Request request(const std::string& method, const std::string& target,
                      const std::string& token) {
  http::Request r;
  r.method = method;
  r.target = target;
  auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.headers.add("Authorization", "Bearer " + token);
  return r;
}
http::Request with_token(const std::string& t) { return request("GET", "/status", t); }
std::string mint(const crypto::Ed25519SecretKey& k, int64_t vmid, int64_t ttl, int64_t now,
                 const std::string& method = "GET", const std::string& target = "/status") {
  return *jws::mint_agent_token(k, vmid, ttl, now, method, target);
}

TEST(TokenGuard, AcceptsValidRefusesEverythingElse) {
  auto kp = crypto::ed25519_generate();
  TokenGuard g(kp.pub, 6001, [] { return kNow; });
  EXPECT_FALSE(g.check(with_token(mint(kp.sec, 6001, 300, kNow))));
  auto e = g.check(http::Request{});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, codes::kUnauthorized);
  EXPECT_TRUE(g.check(with_token(mint(kp.sec, 6002, 300, kNow))));
  EXPECT_TRUE(g.check(with_token(mint(kp.sec, 6001, 10, kNow - 20))));
  auto other = crypto::ed25519_generate();
  EXPECT_TRUE(g.check(with_token(mint(other.sec, 6001, 300, kNow))));
}

// M5: a token sniffed on the bridge cannot be replayed, nor used for
// another method, route or query.
TEST(TokenGuard, OneTokenOneRequest) {
  auto kp = crypto::ed25519_generate();
  int64_t now = kNow;
  TokenGuard g(kp.pub, 6001, [&now] { return now; });
  auto t = mint(kp.sec, 6001, 60, kNow, "GET", "/files/read?path=notes.txt");
  EXPECT_TRUE(g.check(request("GET", "/files/read?path=../../etc/shadow", t)));
  EXPECT_TRUE(g.check(request("PUT", "/files/read?path=notes.txt", t)));
  EXPECT_TRUE(g.check(request("POST", "/files/delete", t)));
  EXPECT_FALSE(g.check(request("GET", "/files/read?path=notes.txt", t)));  // its own request, once
  auto replay = g.check(request("GET", "/files/read?path=notes.txt", t));  // the replay
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->code, codes::kUnauthorized);
  EXPECT_EQ(replay->message, "missing or invalid token");  // no reason for the client
  now = kNow + 60;
  EXPECT_TRUE(g.check(with_token(mint(kp.sec, 6001, 60, kNow))));  // dead at exp
}

TEST(TokenGuard, FailsClosedWithoutKeyOrVmid) {
  auto kp = crypto::ed25519_generate();
  auto t = mint(kp.sec, 6001, 300, kNow);
  TokenGuard no_key(std::nullopt, 6001, [] { return kNow; });
  EXPECT_TRUE(no_key.check(with_token(t)));
  TokenGuard no_vmid(kp.pub, std::nullopt, [] { return kNow; });
  EXPECT_TRUE(no_vmid.check(with_token(t)));
}

}  // namespace
}  // namespace zlh::agent
