#include "proto/jws.hpp"

#include <gtest/gtest.h>

namespace zlh::jws {
namespace {

constexpr int64_t kNow = 1'800'000'000;

class AgentToken : public ::testing::Test {
 protected:
  crypto::Ed25519KeyPair kp = crypto::ed25519_generate();
  std::string with_claims(const nlohmann::json& c) { return sign_eddsa(c, kp.sec); }
  nlohmann::json good_claims() {
    return {{"iss", "zlh-api"},
            {"aud", "zlh-agent"},
            {"vmid", 6001},
            {"iat", kNow},
            {"exp", kNow + 300},
            {"req", agent_request_hash("GET", "/status")},
            {"jti", "0123456789abcdef0123"}};
  }
  bool ok(const std::string& t, int64_t vmid = 6001, int64_t now = kNow) {
    return verify_agent_token(t, kp.pub, vmid, now, "GET", "/status").has_value();
  }
};

TEST_F(AgentToken, MintedTokenVerifies) {
  auto t = mint_agent_token(kp.sec, 6001, 300, kNow, "GET", "/status");
  ASSERT_TRUE(t);
  auto c = verify_agent_token(*t, kp.pub, 6001, kNow + 10, "GET", "/status");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["vmid"], 6001);
  EXPECT_EQ((*c)["iss"], "zlh-api");
}

TEST_F(AgentToken, MintRefusesLongOrZeroTtl) {
  EXPECT_FALSE(mint_agent_token(kp.sec, 6001, 301, kNow, "GET", "/status"));
  EXPECT_FALSE(mint_agent_token(kp.sec, 6001, 0, kNow, "GET", "/status"));
}

TEST_F(AgentToken, ExpiryIsStrict) {
  auto t = *mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "/status");
  EXPECT_TRUE(ok(t, 6001, kNow + 59));
  EXPECT_FALSE(ok(t, 6001, kNow + 60));
  EXPECT_FALSE(ok(t, 6001, kNow + 3600));
}

TEST_F(AgentToken, WrongVmidKeyIssuerAudience) {
  EXPECT_FALSE(ok(*mint_agent_token(kp.sec, 6002, 60, kNow, "GET", "/status")));
  auto other = crypto::ed25519_generate();
  EXPECT_FALSE(ok(*mint_agent_token(other.sec, 6001, 60, kNow, "GET", "/status")));
  auto c = good_claims();
  c["iss"] = "someone";
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c["aud"] = "zlh-api";
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c["aud"] = nlohmann::json::array({"x", "zlh-agent"});
  EXPECT_TRUE(ok(with_claims(c)));
  c = good_claims();
  c["vmid"] = "6001";  // a string is not the integer vmid
  EXPECT_FALSE(ok(with_claims(c)));
}

TEST_F(AgentToken, LifetimeAndIat) {
  auto c = good_claims();
  c["exp"] = kNow + 301;
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c["iat"] = kNow + 120;  // issued in the future beyond skew
  c["exp"] = kNow + 200;
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c.erase("exp");
  EXPECT_FALSE(ok(with_claims(c)));
}

// Found while writing fuzz/jws_fuzz.cpp (fuzz/corpus/jws/crash-iat-overflow,
// UBSan: signed overflow in exp - iat): an iat near INT64_MIN made the
// lifetime check overflow, and a token valid for a year passed as one of
// under 5 minutes. An unsigned iat over INT64_MAX did the same once read as
// int64_t.
TEST_F(AgentToken, HugeLifetimeDoesNotOverflowIntoAShortOne) {
  auto c = good_claims();
  c["iat"] = INT64_MIN;
  c["exp"] = kNow + 365 * 86400;
  EXPECT_FALSE(ok(with_claims(c)));
  c["iat"] = uint64_t(1) << 63;  // INT64_MIN once narrowed
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c["exp"] = UINT64_MAX;
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c["iat"] = kNow - 100;
  c["exp"] = kNow + 200;  // exactly 300 s
  EXPECT_TRUE(ok(with_claims(c)));
}

TEST_F(AgentToken, AlgNoneAndHs256Refused) {
  auto payload = crypto::base64url_encode(good_claims().dump());
  auto none = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
  EXPECT_FALSE(ok(none));
  // alg none with a real EdDSA signature appended: alg is checked first.
  auto good = *mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "/status");
  auto sig = good.substr(good.rfind('.') + 1);
  EXPECT_FALSE(ok(crypto::base64url_encode(R"({"alg":"none"})") + "." + payload + "." + sig));
  EXPECT_FALSE(ok(crypto::base64url_encode(R"({"alg":"HS256"})") + "." + payload + "." + sig));
  EXPECT_FALSE(
      ok(crypto::base64url_encode(R"({"alg":"EdDSA","crit":["x"]})") + "." + payload + "." + sig));
}

TEST_F(AgentToken, TamperedPayloadAndGarbage) {
  auto t = *mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "/status");
  auto d1 = t.find('.'), d2 = t.rfind('.');
  auto c = good_claims();
  c["vmid"] = 6002;
  auto forged = t.substr(0, d1) + "." + crypto::base64url_encode(c.dump()) + t.substr(d2);
  EXPECT_FALSE(verify_agent_token(forged, kp.pub, 6002, kNow, "GET", "/status"));
  EXPECT_FALSE(ok(""));
  EXPECT_FALSE(ok("a.b"));
  EXPECT_FALSE(ok("a.b.c.d"));
  EXPECT_FALSE(ok(t + "x"));
  auto r = verify_agent_token("a.b.c", kp.pub, 6001, kNow, "GET", "/status");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kUnauthorized);
}

// M5: a token sniffed on the bridge is good for its own request only.
TEST_F(AgentToken, BoundToMethodPathAndQuery) {
  auto t = *mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "/files/read?path=notes.txt");
  auto v = [&](std::string_view m, std::string_view target) {
    return verify_agent_token(t, kp.pub, 6001, kNow, m, target).has_value();
  };
  EXPECT_TRUE(v("GET", "/files/read?path=notes.txt"));
  EXPECT_FALSE(v("PUT", "/files/read?path=notes.txt"));      // another method
  EXPECT_FALSE(v("GET", "/files/write?path=notes.txt"));     // another route
  EXPECT_FALSE(v("GET", "/files/read?path=../etc/shadow"));  // another query
  EXPECT_FALSE(v("GET", "/files/read"));                     // the query dropped
  EXPECT_FALSE(v("GET", "/files/read?path=notes.txt&x=1"));  // one added
  // Each token has its own jti.
  auto a = verify_agent_token(*mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "/status"), kp.pub,
                              6001, kNow, "GET", "/status");
  auto b = verify_agent_token(*mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "/status"), kp.pub,
                              6001, kNow, "GET", "/status");
  ASSERT_TRUE(a && b);
  EXPECT_NE((*a)["jti"], (*b)["jti"]);
  // Claims without req or jti (an old token) are refused.
  auto c = good_claims();
  c.erase("req");
  EXPECT_FALSE(ok(with_claims(c)));
  c = good_claims();
  c.erase("jti");
  EXPECT_FALSE(ok(with_claims(c)));
  EXPECT_FALSE(mint_agent_token(kp.sec, 6001, 60, kNow, "GET", "status"));
}

}  // namespace
}  // namespace zlh::jws
