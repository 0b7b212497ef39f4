// Session tokens of zlh-api (docs/design.md §10.2): JWT (RFC 7519) in JWS compact
// form, HMAC-SHA256 ("HS256") with a server secret.
//
// Claims: sub (user id, string), sid (session id, string; the store keeps the
// session so logout can revoke it), iat and exp (integer unix seconds).
//
// verify_session_token() pins the algorithm: the header must be a JSON object
// whose only members are "alg":"HS256" and optionally "typ":"JWT". Anything
// else ("none", RS256, HS512, a missing alg, "crit", "kid", "jku", ...) is
// refused before the signature is looked at. Signatures are compared in
// constant time. Every failure is E_UNAUTHORIZED "invalid token: <reason>";
// the reason is for debug logs, never for the client, and never contains the
// token. The caller must still look the sid up in the store (revocation).
//
// Time is a parameter (unix seconds) so tests and callers choose the clock.
//
// Threading: JwtKey is an immutable value; the functions are pure and may be
// called from any thread with a shared JwtKey.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::auth {

inline constexpr size_t kMinJwtSecretBytes = 32;
inline constexpr int64_t kDefaultSessionTtl = 12 * 3600;   // docs/design.md §10.2
inline constexpr int64_t kMaxSessionTtl = 30 * 24 * 3600;  // mint and verify cap
// Seconds an iat may lie ahead of `now` (clock stepped back, another API
// instance slightly ahead). exp has no leeway: a token is dead at exp.
inline constexpr int64_t kJwtClockSkew = 30;
// Tokens longer than this are refused before any parsing.
inline constexpr size_t kMaxTokenBytes = 4096;
// sub and sid: non-empty strings of at most this many bytes.
inline constexpr size_t kMaxIdBytes = 256;

// The HMAC secret. Holds raw bytes (not base64); wiped on destruction.
// A moved-from JwtKey is empty and must not be used.
class JwtKey {
 public:
  // E_INVALID (field "jwt_secret") when shorter than kMinJwtSecretBytes.
  static Result<JwtKey> from_secret(std::string secret);
  JwtKey(const JwtKey&) = default;
  JwtKey(JwtKey&&) = default;
  JwtKey& operator=(const JwtKey&) = default;
  JwtKey& operator=(JwtKey&&) = default;
  ~JwtKey();
  const std::string& secret() const { return secret_; }

 private:
  explicit JwtKey(std::string s) : secret_(std::move(s)) {}
  std::string secret_;
};

struct SessionClaims {
  std::string sub;  // user id
  std::string sid;  // session id
  int64_t iat = 0;
  int64_t exp = 0;
};

// header {"alg":"HS256","typ":"JWT"}, claims {sub, sid, iat: now, exp: now+ttl}.
// E_INVALID when sub/sid are empty or longer than kMaxIdBytes, or ttl is not
// 1..kMaxSessionTtl.
Result<std::string> mint_session_token(const JwtKey& key, std::string_view sub,
                                       std::string_view sid, int64_t now,
                                       int64_t ttl = kDefaultSessionTtl);

// Checks, in order: size and shape (exactly three non-empty base64url
// segments), header (JSON object, no duplicate members, exactly alg HS256 and
// optional typ JWT), signature (32 bytes, constant-time HMAC compare), claims
// (JSON object without duplicate members; sub and sid non-empty strings of at
// most kMaxIdBytes; iat and exp integers), then time: exp > now,
// iat <= now + kJwtClockSkew, iat < exp, exp - iat <= kMaxSessionTtl.
// E_UNAUTHORIZED on any failure.
Result<SessionClaims> verify_session_token(const JwtKey& key, std::string_view token, int64_t now);

// Lower-level pieces, exposed so tests can forge tokens exactly.
// HMAC-SHA256 of `data` under `key` (any length); returns the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
// base64url(header_json) "." base64url(claims_json) "." base64url(HMAC) — the
// JSON texts are used byte for byte, without re-serialising.
std::string sign_hs256_raw(std::string_view key, std::string_view header_json,
                           std::string_view claims_json);

}  // namespace zlh::api::auth
