// Request authentication for the agent API (docs/design.md §3.3): every route but
// GET /health needs `Authorization: Bearer <JWS>` signed by zlh-api's Ed25519
// key, alg EdDSA, iss/aud/vmid matching, not expired, lifetime ≤ 5 min.
//
// Fails closed: without an API key or a known vmid every request is refused.
// The reason goes to the debug log only; the client gets a generic 401, and the
// token itself is never logged.
// M5: a token is good for one request: its "req" claim must be the hash of
// this request's method and target (path and query as received), and its
// jti is remembered until exp, so a second use is refused (a replay from
// the container network). At most kMaxRemembered jtis are held; when full
// (after dropping the expired ones) new tokens are refused, never a
// remembered one forgotten early.
// Thread-safety: check() may run on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/crypto.hpp"
#include "base/unix_time.hpp"
#include "http/http.hpp"

namespace zlh::agent {

class TokenGuard {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  TokenGuard(std::optional<crypto::Ed25519PublicKey> key, std::optional<int64_t> vmid, Clock clock);
  // nullopt = authorized; otherwise the E_UNAUTHORIZED error to answer with.
  std::optional<Error> check(const http::Request& req) const;

 private:
  std::optional<crypto::Ed25519PublicKey> key_;
  std::optional<int64_t> vmid_;
  Clock clock_;
  static constexpr size_t kMaxRemembered = 200000;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, int64_t> seen_;  // jti → exp
};

}  // namespace zlh::agent
