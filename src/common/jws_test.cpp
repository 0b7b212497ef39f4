#include "common/jws.hpp"

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
            {"exp", kNow + 300}};
  }
  bool ok(const std::string& t, int64_t vmid = 6001, int64_t now = kNow) {
    return verify_agent_token(t, kp.pub, vmid, now).has_value();
  }
};

TEST_F(AgentToken, MintedTokenVerifies) {
  auto t = mint_agent_token(kp.sec, 6001, 300, kNow);
  ASSERT_TRUE(t);
  auto c = verify_agent_token(*t, kp.pub, 6001, kNow + 10);
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["vmid"], 6001);
  EXPECT_EQ((*c)["iss"], "zlh-api");
}

TEST_F(AgentToken, MintRefusesLongOrZeroTtl) {
  EXPECT_FALSE(mint_agent_token(kp.sec, 6001, 301, kNow));
  EXPECT_FALSE(mint_agent_token(kp.sec, 6001, 0, kNow));
}

TEST_F(AgentToken, ExpiryIsStrict) {
  auto t = *mint_agent_token(kp.sec, 6001, 60, kNow);
  EXPECT_TRUE(ok(t, 6001, kNow + 59));
  EXPECT_FALSE(ok(t, 6001, kNow + 60));
  EXPECT_FALSE(ok(t, 6001, kNow + 3600));
}

TEST_F(AgentToken, WrongVmidKeyIssuerAudience) {
  EXPECT_FALSE(ok(*mint_agent_token(kp.sec, 6002, 60, kNow)));
  auto other = crypto::ed25519_generate();
  EXPECT_FALSE(ok(*mint_agent_token(other.sec, 6001, 60, kNow)));
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

TEST_F(AgentToken, AlgNoneAndHs256Refused) {
  auto payload = crypto::base64url_encode(good_claims().dump());
  auto none = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
  EXPECT_FALSE(ok(none));
  // alg none with a real EdDSA signature appended: alg is checked first.
  auto good = *mint_agent_token(kp.sec, 6001, 60, kNow);
  auto sig = good.substr(good.rfind('.') + 1);
  EXPECT_FALSE(ok(crypto::base64url_encode(R"({"alg":"none"})") + "." + payload + "." + sig));
  EXPECT_FALSE(ok(crypto::base64url_encode(R"({"alg":"HS256"})") + "." + payload + "." + sig));
  EXPECT_FALSE(
      ok(crypto::base64url_encode(R"({"alg":"EdDSA","crit":["x"]})") + "." + payload + "." + sig));
}

TEST_F(AgentToken, TamperedPayloadAndGarbage) {
  auto t = *mint_agent_token(kp.sec, 6001, 60, kNow);
  auto d1 = t.find('.'), d2 = t.rfind('.');
  auto c = good_claims();
  c["vmid"] = 6002;
  auto forged = t.substr(0, d1) + "." + crypto::base64url_encode(c.dump()) + t.substr(d2);
  EXPECT_FALSE(verify_agent_token(forged, kp.pub, 6002, kNow));
  EXPECT_FALSE(ok(""));
  EXPECT_FALSE(ok("a.b"));
  EXPECT_FALSE(ok("a.b.c.d"));
  EXPECT_FALSE(ok(t + "x"));
  auto r = verify_agent_token("a.b.c", kp.pub, 6001, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kUnauthorized);
}

}  // namespace
}  // namespace zlh::jws
