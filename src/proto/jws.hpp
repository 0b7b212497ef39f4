// JWS compact tokens signed with Ed25519 (alg "EdDSA", RFC 8037), and the
// API→agent request token built on them (docs/design.md §3.3).
//
// verify_eddsa() accepts exactly alg "EdDSA": "none", HS256 or any other alg
// is refused before the signature is looked at. Errors are E_UNAUTHORIZED
// with a reason meant for logs at debug level, never for the client (the
// client only learns "invalid token").
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/crypto.hpp"
#include "base/error.hpp"

namespace zlh::jws {

// header.payload.signature with header {"alg":"EdDSA","typ":"JWT"}.
std::string sign_eddsa(const nlohmann::json& claims, const crypto::Ed25519SecretKey& key);

// Checks structure, alg and signature; returns the claims object.
Result<nlohmann::json> verify_eddsa(std::string_view token, const crypto::Ed25519PublicKey& key);

// ---- API → agent token ----
inline constexpr std::string_view kAgentIssuer = "zlh-api";
inline constexpr std::string_view kAgentAudience = "zlh-agent";
inline constexpr int64_t kAgentMaxTtl = 300;  // seconds; docs/design.md §3.3 "exp ≤ 5 min"
// Seconds an iat may lie in the future (API clock ahead of the agent). Expiry
// is strict: a token is dead at exp, whatever the skew.
inline constexpr int64_t kClockSkew = 30;

// What a token is good for (M5): one request, "<METHOD> <target>" where the
// target is the path and query exactly as sent ("/files/read?path=a"),
// hashed into the claim "req" (SHA-256, hex), and once: the claim "jti"
// (128 random bits) is remembered by the agent until exp, so a token seen
// on the container network can neither be replayed nor used for another
// route, file or method.
std::string agent_request_hash(std::string_view method, std::string_view target);

// Mints a token for `vmid` valid for ttl seconds from `now` (unix seconds),
// bound to `method` and `target`. ttl must be 1..kAgentMaxTtl, else E_INVALID.
Result<std::string> mint_agent_token(const crypto::Ed25519SecretKey& key, int64_t vmid, int64_t ttl,
                                     int64_t now, std::string_view method, std::string_view target);

// Verifies signature + alg, then iss, aud (string or array), vmid (integer,
// equal to `vmid`), iat/exp present and integers, exp > now,
// iat <= now + skew, exp - iat <= kAgentMaxTtl, "req" equal to the hash of
// `method` and `target`, and a "jti" string of 16..64 characters (which the
// caller checks for replay). Returns the claims.
Result<nlohmann::json> verify_agent_token(std::string_view token,
                                          const crypto::Ed25519PublicKey& key, int64_t vmid,
                                          int64_t now, std::string_view method,
                                          std::string_view target);

}  // namespace zlh::jws
