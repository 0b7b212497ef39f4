#include "agent/auth.hpp"

#include <chrono>

#include "base/log.hpp"
#include "base/unix_time.hpp"
#include "proto/jws.hpp"

namespace zlh::agent {

TokenGuard::TokenGuard(std::optional<crypto::Ed25519PublicKey> key, std::optional<int64_t> vmid,
                       Clock clock)
    : key_(key), vmid_(vmid), clock_(std::move(clock)) {}

std::optional<Error> TokenGuard::check(const http::Request& req) const {
  auto deny = [&](std::string_view why) {
    log::debug("auth", "request refused", {{"reason", why}, {"request_id", req.request_id}});
    return Error::make(codes::kUnauthorized, "missing or invalid token");
  };
  auto token = req.bearer_token();
  if (!token) return deny("no bearer token");
  if (!key_) return deny("agent has no --api-key");
  if (!vmid_) return deny("agent vmid unknown");
  const int64_t now = clock_();
  auto claims = jws::verify_agent_token(*token, *key_, *vmid_, now, req.method, req.target);
  if (!claims) return deny(claims.error().message);
  std::string jti = (*claims)["jti"].get<std::string>();
  const int64_t exp = (*claims)["exp"].get<int64_t>();
  std::lock_guard lk(mu_);
  if (seen_.size() >= kMaxRemembered) {
    std::erase_if(seen_, [now](const auto& kv) { return kv.second <= now; });
    if (seen_.size() >= kMaxRemembered) return deny("too many live tokens");
  }
  if (!seen_.emplace(std::move(jti), exp).second) return deny("token used before (replay)");
  return std::nullopt;
}

}  // namespace zlh::agent
