// The API → agent request tokens: JWS EdDSA (proto/jws.hpp, verify_eddsa
// and verify_agent_token) and the agent's guard in front of every route
// (agent/auth.hpp, TokenGuard::check), on tokens as a client sends them and
// on tokens whose header and claims are the fuzzer's but correctly signed,
// so the checks after the signature are reached too.
//
// Input: first byte picks the mode, the rest is
//   mode even: the token text;
//   mode odd:  header JSON, a newline, claims JSON (signed with the key).
//
// The request the token is checked for is fixed (GET /files/read?path=a%20b),
// so a seed's "req" claim (its SHA-256 hex) survives mutation.
//
// Invariants: no exception escapes; every refusal is E_UNAUTHORIZED; an
// accepted token's claims hold iss zlh-api, aud zlh-agent, this vmid, times
// within the contract (exp > now, iat <= now + skew, 0 < exp - iat <= 300,
// compared without overflow), the hash of this request and a jti of 16..64
// characters; it is refused for another method or target; a guard lets the
// request through exactly when verify_agent_token accepts its bearer
// token, and refuses the same request a second time (replay); a changed
// byte before the signature fails.
#include <nlohmann/json.hpp>

#include "agent/auth.hpp"
#include "base/crypto.hpp"
#include "fuzz_input.hpp"
#include "proto/jws.hpp"

namespace crypto = zlh::crypto;
namespace jws = zlh::jws;

namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kVmid = 6001;
constexpr std::string_view kMethod = "GET";
constexpr std::string_view kTarget = "/files/read?path=a%20b";

const crypto::Ed25519KeyPair& keys() {
  static const crypto::Ed25519KeyPair k = crypto::ed25519_generate();
  return k;
}

zlh::Result<nlohmann::json> verify(std::string_view token, std::string_view method = kMethod,
                                   std::string_view target = kTarget) {
  try {
    auto raw = jws::verify_eddsa(token, keys().pub);
    if (!raw) ZLH_FUZZ_CHECK(raw.error().is(zlh::codes::kUnauthorized), raw.error().to_string());
    auto c = jws::verify_agent_token(token, keys().pub, kVmid, kNow, method, target);
    if (!c) ZLH_FUZZ_CHECK(c.error().is(zlh::codes::kUnauthorized), c.error().to_string());
    if (c) ZLH_FUZZ_CHECK(raw && *raw == *c, "agent token accepted, its JWS refused");
    return c;
  } catch (const std::exception& e) {
    zlh::fuzz::broken("verify threw", e.what());
  }
}

// A fresh guard (no jti remembered) asked twice for the same request.
std::pair<bool, bool> guard_twice(std::string_view token) {
  zlh::agent::TokenGuard guard(keys().pub, kVmid, [] { return kNow; });
  zlh::http::Request req;
  req.method = kMethod;
  req.target = kTarget;
  req.path = kTarget.substr(0, kTarget.find('?'));
  req.query = kTarget.substr(kTarget.find('?') + 1);
  req.headers.add("Authorization", "Bearer " + std::string(token));
  try {
    bool first = !guard.check(req);
    bool second = !guard.check(req);
    return {first, second};
  } catch (const std::exception& e) {
    zlh::fuzz::broken("TokenGuard::check threw", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  const uint8_t mode = in.front_byte();
  const std::string token =
      zlh::fuzz::token_from(in, mode, [](std::string_view header, std::string_view claims) {
        std::string input =
            crypto::base64url_encode(header) + "." + crypto::base64url_encode(claims);
        return input + "." + crypto::base64url_encode(crypto::ed25519_sign(keys().sec, input));
      });
  auto c = verify(token);

  // The guard sees what Request::bearer_token() makes of the header.
  zlh::http::Request probe;
  probe.headers.add("Authorization", "Bearer " + token);
  auto bearer = probe.bearer_token();
  if (bearer && bearer->find_first_of("\r\n") == std::string_view::npos) {
    auto [first, second] = guard_twice(*bearer);
    ZLH_FUZZ_CHECK(first == bool(verify(*bearer)), "guard and verify_agent_token disagree");
    ZLH_FUZZ_CHECK(!second, "the guard let a replayed token through");
  }
  if (!c) return 0;

  ZLH_FUZZ_CHECK(c->is_object());
  ZLH_FUZZ_CHECK(c->at("iss") == jws::kAgentIssuer);
  ZLH_FUZZ_CHECK(c->at("vmid").is_number_integer() && c->at("vmid").get<int64_t>() == kVmid);
  const auto& iat = c->at("iat");
  const auto& exp = c->at("exp");
  ZLH_FUZZ_CHECK(iat.is_number_integer() && exp.is_number_integer());
  // The claims as the JSON holds them, without narrowing (an unsigned over
  // INT64_MAX must not pass as a negative number).
  auto as_i128 = [](const nlohmann::json& v) -> __int128 {
    return v.is_number_unsigned() ? __int128(v.get<uint64_t>()) : __int128(v.get<int64_t>());
  };
  __int128 i = as_i128(iat), e = as_i128(exp);
  ZLH_FUZZ_CHECK(e > kNow && i <= kNow + jws::kClockSkew && e > i && e - i <= jws::kAgentMaxTtl,
                 c->dump());
  ZLH_FUZZ_CHECK(c->at("req") == jws::agent_request_hash(kMethod, kTarget));
  ZLH_FUZZ_CHECK(c->at("jti").is_string() && c->at("jti").get<std::string>().size() >= 16 &&
                 c->at("jti").get<std::string>().size() <= 64);
  ZLH_FUZZ_CHECK(!verify(token, "POST", kTarget), "token accepted for another method");
  ZLH_FUZZ_CHECK(!verify(token, kMethod, "/files/read?path=a%20c"),
                 "token accepted for another target");

  size_t signed_len = token.rfind('.');
  if (signed_len != std::string::npos && signed_len > 0) {
    std::string tampered = token;
    size_t at = (size_t(mode) * 7) % signed_len;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    if (tampered[at] != token[at]) ZLH_FUZZ_CHECK(!verify(tampered), "tampered token accepted");
  }
  return 0;
}
