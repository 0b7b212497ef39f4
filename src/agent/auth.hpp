// Request authentication for the agent API (DESIGN.md §3.3): every route but
// GET /health needs `Authorization: Bearer <JWS>` signed by zlh-api's Ed25519
// key, alg EdDSA, iss/aud/vmid matching, not expired, lifetime ≤ 5 min.
//
// Fails closed: without an API key or a known vmid every request is refused.
// The reason goes to the debug log only; the client gets a generic 401, and the
// token itself is never logged.
// Verified tokens are remembered until their exp (at most 1024 of them), so
// the API's repeated calls with one token cost a map lookup, not an Ed25519
// verification. Only tokens that passed every check are cached; a cached
// token is refused again once its exp passes.
// Thread-safety: check() may run on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, int64_t> verified_;  // token → exp
};

int64_t unix_now();

}  // namespace zlh::agent
