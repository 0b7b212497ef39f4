#include "proto/jws.hpp"

#include <cstdint>

namespace zlh::jws {
namespace {
std::unexpected<Error> unauthorized(std::string why) {
  return fail(codes::kUnauthorized, "invalid token: " + std::move(why));
}
}  // namespace

std::string sign_eddsa(const nlohmann::json& claims, const crypto::Ed25519SecretKey& key) {
  static const std::string kHeader = crypto::base64url_encode(R"({"alg":"EdDSA","typ":"JWT"})");
  std::string signing_input = kHeader + "." + crypto::base64url_encode(claims.dump());
  std::string sig = crypto::ed25519_sign(key, signing_input);
  return signing_input + "." + crypto::base64url_encode(sig);
}

Result<nlohmann::json> verify_eddsa(std::string_view token, const crypto::Ed25519PublicKey& key) {
  if (token.size() > 8192) return unauthorized("too long");
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return unauthorized("not a compact JWS");
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return unauthorized("not a compact JWS");
  auto header_raw = crypto::base64url_decode(token.substr(0, d1));
  if (!header_raw) return unauthorized("header not base64url");
  nlohmann::json header = nlohmann::json::parse(*header_raw, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return unauthorized("header not JSON");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "EdDSA")
    return unauthorized("alg must be EdDSA");
  // "crit" extensions we do not understand must make the token invalid (RFC 7515 §4.1.11).
  if (header.contains("crit")) return unauthorized("unsupported crit header");
  auto sig = crypto::base64url_decode(token.substr(d2 + 1));
  if (!sig || sig->size() != 64) return unauthorized("bad signature encoding");
  if (!crypto::ed25519_verify(key, token.substr(0, d2), *sig)) return unauthorized("bad signature");
  auto payload_raw = crypto::base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload_raw) return unauthorized("payload not base64url");
  nlohmann::json claims = nlohmann::json::parse(*payload_raw, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) return unauthorized("claims not a JSON object");
  return claims;
}

std::string agent_request_hash(std::string_view method, std::string_view target) {
  std::string m;
  m.reserve(method.size() + 1 + target.size());
  m.append(method).append(" ").append(target);
  return crypto::sha256_hex(m);
}

Result<std::string> mint_agent_token(const crypto::Ed25519SecretKey& key, int64_t vmid, int64_t ttl,
                                     int64_t now, std::string_view method,
                                     std::string_view target) {
  if (ttl < 1 || ttl > kAgentMaxTtl)
    return std::unexpected(Error::invalid("ttl", "ttl must be between 1 and 300 seconds"));
  if (vmid < 0) return std::unexpected(Error::invalid("vmid", "vmid must not be negative"));
  if (method.empty() || target.empty() || target.front() != '/')
    return std::unexpected(
        Error::invalid("target", "a token is for one request: a method and a /target"));
  nlohmann::json claims = {{"iss", kAgentIssuer},
                           {"aud", kAgentAudience},
                           {"vmid", vmid},
                           {"iat", now},
                           {"exp", now + ttl},
                           {"req", agent_request_hash(method, target)},
                           {"jti", crypto::base64url_encode(crypto::random_bytes(16))}};
  return sign_eddsa(claims, key);
}

Result<nlohmann::json> verify_agent_token(std::string_view token,
                                          const crypto::Ed25519PublicKey& key, int64_t vmid,
                                          int64_t now, std::string_view method,
                                          std::string_view target) {
  auto claims = verify_eddsa(token, key);
  if (!claims) return claims;
  const auto& c = *claims;
  auto iss = c.find("iss");
  if (iss == c.end() || !iss->is_string() || iss->get<std::string>() != kAgentIssuer)
    return unauthorized("wrong issuer");
  auto aud = c.find("aud");
  bool aud_ok = false;
  if (aud != c.end()) {
    if (aud->is_string()) aud_ok = aud->get<std::string>() == kAgentAudience;
    if (aud->is_array())
      for (const auto& a : *aud)
        if (a.is_string() && a.get<std::string>() == kAgentAudience) aud_ok = true;
  }
  if (!aud_ok) return unauthorized("wrong audience");
  auto v = c.find("vmid");
  if (v == c.end() || !v->is_number_integer() || v->get<int64_t>() != vmid)
    return unauthorized("wrong vmid");
  auto iat = c.find("iat");
  auto exp = c.find("exp");
  // An unsigned over INT64_MAX would become a negative int64_t.
  auto int64 = [](const nlohmann::json& j) {
    return j.is_number_integer() &&
           !(j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(INT64_MAX));
  };
  if (iat == c.end() || !int64(*iat) || exp == c.end() || !int64(*exp))
    return unauthorized("iat/exp missing");
  int64_t iat_v = iat->get<int64_t>(), exp_v = exp->get<int64_t>();
  if (exp_v <= now) return unauthorized("expired");
  if (iat_v > now + kClockSkew) return unauthorized("issued in the future");
  if (exp_v <= iat_v) return unauthorized("exp before iat");
  // exp > iat here, so the difference fits a uint64_t; as int64_t it could
  // overflow (iat near INT64_MIN) and pass for a short lifetime.
  if (uint64_t(exp_v) - uint64_t(iat_v) > uint64_t(kAgentMaxTtl))
    return unauthorized("lifetime over 5 minutes");
  auto req = c.find("req");
  if (req == c.end() || !req->is_string() ||
      !crypto::constant_time_equal(req->get<std::string>(), agent_request_hash(method, target)))
    return unauthorized("token is for another request");
  auto jti = c.find("jti");
  if (jti == c.end() || !jti->is_string() || jti->get<std::string>().size() < 16 ||
      jti->get<std::string>().size() > 64)
    return unauthorized("no jti");
  return claims;
}

}  // namespace zlh::jws
