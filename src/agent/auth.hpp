// Request authentication for the agent API (DESIGN.md §3.3): every route but
// GET /health needs `Authorization: Bearer <JWS>` signed by zlh-api's Ed25519
// key, alg EdDSA, iss/aud/vmid matching, not expired, lifetime ≤ 5 min.
//
// Fails closed: without an API key or a known vmid every request is refused.
// The reason goes to the debug log only; the client gets a generic 401, and the
// token itself is never logged.
// Thread-safety: check() is const and may run on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "common/crypto.hpp"
#include "common/http.hpp"

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
};

int64_t unix_now();

}  // namespace zlh::agent
