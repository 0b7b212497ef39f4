// zlh-api's session tokens (api/auth/jwt.hpp): verify_session_token on
// tokens as clients send them, and on tokens whose header and claims are
// the fuzzer's but correctly signed, so the checks after the signature are
// reached too.
//
// Input: first byte picks the mode, the rest is
//   mode even: the token text;
//   mode odd:  header JSON, a newline, claims JSON (signed with the key).
//
// Invariants: no exception escapes; every refusal is E_UNAUTHORIZED; an
// accepted token has alg HS256 (checked by reminting), sub and sid of 1..256
// bytes and the times the contract states (exp > now, iat <= now + skew,
// iat < exp, exp - iat <= kMaxSessionTtl); the same claims minted again
// verify to the same values; a changed byte before the signature fails.
#include "api/auth/jwt.hpp"
#include "fuzz_input.hpp"

namespace auth = zlh::api::auth;

namespace {

constexpr int64_t kNow = 1'800'000'000;

const auth::JwtKey& key() {
  static const auth::JwtKey k = *auth::JwtKey::from_secret(std::string(32, 'k'));
  return k;
}

zlh::Result<auth::SessionClaims> verify(std::string_view token) {
  try {
    return auth::verify_session_token(key(), token, kNow);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("verify_session_token threw", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  const uint8_t mode = in.front_byte();
  const std::string token =
      zlh::fuzz::token_from(in, mode, [](std::string_view header, std::string_view claims) {
        return auth::sign_hs256_raw(key().secret(), header, claims);
      });
  auto c = verify(token);
  if (!c) {
    ZLH_FUZZ_CHECK(c.error().is(zlh::codes::kUnauthorized), c.error().to_string());
    return 0;
  }
  ZLH_FUZZ_CHECK(!c->sub.empty() && c->sub.size() <= auth::kMaxIdBytes);
  ZLH_FUZZ_CHECK(!c->sid.empty() && c->sid.size() <= auth::kMaxIdBytes);
  ZLH_FUZZ_CHECK(c->exp > kNow && c->iat <= kNow + auth::kJwtClockSkew && c->iat < c->exp);
  ZLH_FUZZ_CHECK(c->exp - c->iat <= auth::kMaxSessionTtl);

  auto minted = auth::mint_session_token(key(), c->sub, c->sid, c->iat, c->exp - c->iat);
  ZLH_FUZZ_CHECK(minted, minted.error().to_string());
  auto back = verify(*minted);
  ZLH_FUZZ_CHECK(back && back->sub == c->sub && back->sid == c->sid && back->iat == c->iat &&
                 back->exp == c->exp);

  // One byte changed in the signed part (header.claims) must break the signature.
  size_t signed_len = token.rfind('.');
  if (signed_len != std::string::npos && signed_len > 0) {
    std::string tampered = token;
    size_t at = (size_t(mode) * 7) % signed_len;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    if (tampered[at] != token[at]) ZLH_FUZZ_CHECK(!verify(tampered), "tampered token accepted");
  }
  return 0;
}
