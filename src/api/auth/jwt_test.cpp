#include "api/auth/jwt.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/crypto.hpp"

namespace zlh::api::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes
const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";

class Jwt : public ::testing::Test {
 protected:
  JwtKey key = *JwtKey::from_secret(kSecret);

  std::string claims(int64_t iat = kNow, int64_t exp = kNow + 3600) {
    return nlohmann::json{{"sub", "u-1"}, {"sid", "s-1"}, {"iat", iat}, {"exp", exp}}.dump();
  }
  std::string forge(std::string_view header, std::string_view claims_json,
                    std::string_view secret = kSecret) {
    return sign_hs256_raw(secret, header, claims_json);
  }
  // Asserts the token is refused with E_UNAUTHORIZED, a reason containing
  // `reason`, and nothing of the token in the message.
  void refused(const std::string& token, std::string_view reason, int64_t now = kNow) {
    auto r = verify_session_token(key, token, now);
    ASSERT_FALSE(r) << "accepted: " << reason;
    EXPECT_EQ(r.error().code, codes::kUnauthorized);
    EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().message;
    EXPECT_TRUE(r.error().message.starts_with("invalid token: ")) << r.error().message;
    for (size_t at = 0; at + 8 <= token.size(); at += 8)
      EXPECT_EQ(r.error().message.find(token.substr(at, 8)), std::string::npos)
          << "message echoes the token: " << r.error().message;
  }
};

TEST_F(Jwt, RoundTrip) {
  auto t = mint_session_token(key, "user-42", "sess-7", kNow);
  ASSERT_TRUE(t);
  auto c = verify_session_token(key, *t, kNow + 1);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->sub, "user-42");
  EXPECT_EQ(c->sid, "sess-7");
  EXPECT_EQ(c->iat, kNow);
  EXPECT_EQ(c->exp, kNow + kDefaultSessionTtl);
  EXPECT_EQ(kDefaultSessionTtl, 12 * 3600);
  // The header is exactly the pinned one.
  auto header = crypto::base64url_decode(t->substr(0, t->find('.')));
  EXPECT_EQ(*header, kHeader);
}

TEST_F(Jwt, ForgedByHandWithRightSecretVerifies) {
  // Baseline for the forgeries below: the helper itself makes valid tokens.
  EXPECT_TRUE(verify_session_token(key, forge(kHeader, claims()), kNow));
  EXPECT_TRUE(verify_session_token(key, forge(R"({"alg":"HS256"})", claims()), kNow));
}

TEST_F(Jwt, ExpiryIsStrictAndRequired) {
  auto t = *mint_session_token(key, "u", "s", kNow, 60);
  EXPECT_TRUE(verify_session_token(key, t, kNow + 59));
  refused(t, "expired", kNow + 60);
  refused(t, "expired", kNow + 100000);
  refused(forge(kHeader, R"({"sub":"u","sid":"s","iat":1800000000})"), "exp missing");
  refused(forge(kHeader, R"({"sub":"u","sid":"s","iat":1800000000,"exp":"1800003600"})"),
          "exp missing or not an integer");
  refused(forge(kHeader, R"({"sub":"u","sid":"s","iat":1800000000,"exp":1800003600.5})"),
          "exp missing or not an integer");
  refused(forge(kHeader, R"({"sub":"u","sid":"s","iat":1800000000,"exp":18446744073709551615})"),
          "exp missing or not an integer");
  refused(forge(kHeader, R"({"sub":"u","sid":"s","exp":1800003600})"), "iat missing");
}

TEST_F(Jwt, IssuedInTheFutureBeyondSkew) {
  EXPECT_TRUE(verify_session_token(key, forge(kHeader, claims(kNow + kJwtClockSkew)), kNow));
  refused(forge(kHeader, claims(kNow + kJwtClockSkew + 1)), "issued in the future");
  refused(forge(kHeader, claims(kNow, kNow)), "expired");
  refused(forge(kHeader, claims(kNow + 10, kNow + 5)), "exp not after iat");
  refused(forge(kHeader, claims(kNow - 10, kNow - 10 + kMaxSessionTtl + 1)), "lifetime too long");
}

TEST_F(Jwt, AlgorithmIsPinned) {
  // alg none, with and without a signature.
  std::string none_input = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                           crypto::base64url_encode(claims());
  refused(none_input + ".", "empty segment");
  refused(none_input + "." + crypto::base64url_encode(hmac_sha256(kSecret, none_input)),
          "alg must be HS256");
  refused(forge(R"({"alg":"none"})", claims()), "alg must be HS256");
  refused(forge(R"({"alg":"RS256","typ":"JWT"})", claims()), "alg must be HS256");
  refused(forge(R"({"alg":"HS512","typ":"JWT"})", claims()), "alg must be HS256");
  refused(forge(R"({"alg":"hs256","typ":"JWT"})", claims()), "alg must be HS256");
  refused(forge(R"({"typ":"JWT"})", claims()), "alg must be HS256");
  refused(forge(R"({"alg":["HS256"]})", claims()), "alg must be HS256");
  refused(forge(R"({"alg":null})", claims()), "alg must be HS256");
}

TEST_F(Jwt, HeaderHoldsNothingElse) {
  refused(forge(R"({"alg":"HS256","crit":["exp"]})", claims()), "unexpected header member");
  refused(forge(R"({"alg":"HS256","kid":"../../etc/passwd"})", claims()),
          "unexpected header member");
  refused(forge(R"({"alg":"HS256","jku":"https://evil.example/keys"})", claims()),
          "unexpected header member");
  refused(forge(R"({"alg":"HS256","typ":"JWS"})", claims()), "unexpected header member");
  refused(forge(R"({"alg":"HS256","typ":1})", claims()), "unexpected header member");
  refused(forge(R"({"alg":"none","alg":"HS256"})", claims()), "header not a JSON object");
  refused(forge(R"(["HS256"])", claims()), "header not a JSON object");
  refused(forge(R"({"alg":"HS256")", claims()), "header not a JSON object");
  refused(forge(R"({"alg":"HS256"} x)", claims()), "header not a JSON object");
}

TEST_F(Jwt, ShapeAndEncoding) {
  auto t = *mint_session_token(key, "u", "s", kNow);
  refused(t + ".", "not three segments");
  refused(t + ".abc", "not three segments");
  refused(t.substr(0, t.rfind('.')), "not three segments");
  refused("", "not three segments");
  refused("..", "empty segment");
  refused(t.substr(t.find('.')), "empty segment");  // ".claims.sig"
  refused(std::string(kMaxTokenBytes + 1, 'a'), "too long");
  // Padding and the standard alphabet are not base64url.
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  refused(t.substr(0, d1) + "=" + t.substr(d1), "header not base64url");
  refused(std::string(1, '+').append(t, 1), "header not base64url");
  refused(t.substr(0, d2 + 1) + "+" + t.substr(d2 + 2), "bad signature encoding");
  refused(t.substr(0, d2 + 1) + t.substr(d2 + 1, 20), "bad signature encoding");
  refused(t + "AA", "bad signature encoding");
}

TEST_F(Jwt, WrongSignatures) {
  auto t = *mint_session_token(key, "u", "s", kNow);
  // Another secret.
  auto other = *JwtKey::from_secret(std::string(32, 'z'));
  auto theirs = *mint_session_token(other, "u", "s", kNow);
  refused(theirs, "bad signature");
  // Tampered signature: every position of the last segment, one char changed.
  size_t d2 = t.rfind('.');
  for (size_t i = d2 + 1; i < t.size() - 1; ++i) {
    std::string bad = t;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    refused(bad, "bad signature");
  }
  // A signature of the right length that is all zeros.
  refused(t.substr(0, d2 + 1) + crypto::base64url_encode(std::string(32, '\0')), "bad signature");
  // A secret that shares a prefix with ours (HMAC pads keys; no shortcut).
  refused(forge(kHeader, claims(), kSecret + "x"), "bad signature");
}

TEST_F(Jwt, ChangedClaimsBreakTheSignature) {
  auto t = *mint_session_token(key, "victim-user", "s", kNow);
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  std::string evil =
      nlohmann::json{{"sub", "admin"}, {"sid", "s"}, {"iat", kNow}, {"exp", kNow + 3600}}.dump();
  refused(t.substr(0, d1 + 1) + crypto::base64url_encode(evil) + t.substr(d2), "bad signature");
  // Extend the expiry of a real token.
  auto c = nlohmann::json::parse(*crypto::base64url_decode(t.substr(d1 + 1, d2 - d1 - 1)));
  c["exp"] = kNow + kMaxSessionTtl;
  refused(t.substr(0, d1 + 1) + crypto::base64url_encode(c.dump()) + t.substr(d2), "bad signature");
  // Claims of one valid token with the signature of another.
  auto t2 = *mint_session_token(key, "other-user", "s2", kNow);
  refused(t.substr(0, d2) + t2.substr(t2.rfind('.')), "bad signature");
}

TEST_F(Jwt, ReEncodedHeaderBreaksTheSignature) {
  auto t = *mint_session_token(key, "u", "s", kNow);
  size_t d1 = t.find('.');
  for (const char* h :
       {R"({"typ":"JWT","alg":"HS256"})", R"({"alg":"HS256"})",
        R"({ "alg" : "HS256", "typ" : "JWT" })", R"({"alg":"HS256","typ":"JWT"} )"}) {
    refused(crypto::base64url_encode(h) + t.substr(d1), "bad signature");
  }
}

TEST_F(Jwt, ClaimsMustBeWellFormed) {
  refused(forge(kHeader, "not json"), "claims not a JSON object");
  refused(forge(kHeader, "[1,2]"), "claims not a JSON object");
  refused(
      forge(kHeader, R"({"sub":"u","sub":"admin","sid":"s","iat":1800000000,"exp":1800003600})"),
      "claims not a JSON object");
  refused(forge(kHeader, R"({"sid":"s","iat":1800000000,"exp":1800003600})"), "sub missing");
  refused(forge(kHeader, R"({"sub":42,"sid":"s","iat":1800000000,"exp":1800003600})"),
          "sub missing or not a string");
  refused(forge(kHeader, R"({"sub":"","sid":"s","iat":1800000000,"exp":1800003600})"),
          "sub missing");
  refused(forge(kHeader, R"({"sub":"u","iat":1800000000,"exp":1800003600})"), "sid missing");
  refused(forge(kHeader, R"({"sub":"u","sid":null,"iat":1800000000,"exp":1800003600})"),
          "sid missing or not a string");
  refused(forge(kHeader, R"({"sub":"u","sid":["s"],"iat":1800000000,"exp":1800003600})"),
          "sid missing or not a string");
  std::string long_sub = nlohmann::json{
      {"sub", std::string(kMaxIdBytes + 1, 'u')},
      {"sid", "s"},
      {"iat", kNow},
      {"exp", kNow + 60}}.dump();
  refused(forge(kHeader, long_sub), "sub missing");
  // Unknown extra claims are allowed (they are signed by us anyway).
  EXPECT_TRUE(verify_session_token(
      key, forge(kHeader, R"({"sub":"u","sid":"s","iat":1800000000,"exp":1800003600,"x":1})"),
      kNow));
}

TEST_F(Jwt, MintValidatesItsInput) {
  EXPECT_FALSE(mint_session_token(key, "", "s", kNow));
  EXPECT_FALSE(mint_session_token(key, "u", "", kNow));
  EXPECT_FALSE(mint_session_token(key, std::string(kMaxIdBytes + 1, 'u'), "s", kNow));
  EXPECT_FALSE(mint_session_token(key, "u", "s", kNow, 0));
  EXPECT_FALSE(mint_session_token(key, "u", "s", kNow, kMaxSessionTtl + 1));
  auto r = mint_session_token(key, "u", "s", kNow, -5);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_EQ(r.error().field, "ttl");
  EXPECT_TRUE(mint_session_token(key, "u", "s", kNow, kMaxSessionTtl));
}

TEST(JwtKeyTest, SecretMustBeAtLeast32Bytes) {
  auto r = JwtKey::from_secret(std::string(31, 'k'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_EQ(r.error().field, "jwt_secret");
  EXPECT_EQ(r.error().message.find("kkkk"), std::string::npos);
  EXPECT_TRUE(JwtKey::from_secret(std::string(32, 'k')));
}

TEST(JwtHmac, MatchesRfc4231TestCase2) {
  // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
  EXPECT_EQ(crypto::hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace zlh::api::auth
