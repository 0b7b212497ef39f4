#include "agent/auth.hpp"

#include <chrono>

#include "common/jws.hpp"
#include "common/log.hpp"

namespace zlh::agent {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
  int64_t now = clock_();
  std::string tok(*token);
  {
    std::lock_guard lk(mu_);
    auto it = verified_.find(tok);
    if (it != verified_.end()) {
      if (now < it->second) return std::nullopt;
      verified_.erase(it);
      return deny("expired");
    }
  }
  auto claims = jws::verify_agent_token(tok, *key_, *vmid_, now);
  if (!claims) return deny(claims.error().message);
  std::lock_guard lk(mu_);
  if (verified_.size() >= 1024) {
    std::erase_if(verified_, [now](const auto& kv) { return kv.second <= now; });
    if (verified_.size() >= 1024) verified_.clear();
  }
  verified_.emplace(std::move(tok), (*claims)["exp"].get<int64_t>());
  return std::nullopt;
}

}  // namespace zlh::agent
