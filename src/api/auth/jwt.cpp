#include "api/auth/jwt.hpp"

#include <sodium.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "base/crypto.hpp"

namespace zlh::api::auth {
namespace {

using nlohmann::json;

std::unexpected<Error> unauthorized(std::string_view why) {
  return fail(codes::kUnauthorized, "invalid token: " + std::string(why));
}

// Parses a JSON object, refusing duplicate member names at any depth: with
// duplicates, what we check and what another parser sees can differ.
std::optional<json> parse_strict_object(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  bool duplicate = false;
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          duplicate = true;
        break;
      default:
        break;
    }
    return true;
  };
  json j = json::parse(text, cb, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || duplicate) return std::nullopt;
  return j;
}

std::optional<int64_t> integer(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return it->get<int64_t>();
}

std::optional<std::string> id_string(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  std::string s = it->get<std::string>();
  if (s.empty() || s.size() > kMaxIdBytes) return std::nullopt;
  return s;
}

bool valid_id(std::string_view s) { return !s.empty() && s.size() <= kMaxIdBytes; }

}  // namespace

Result<JwtKey> JwtKey::from_secret(std::string secret) {
  if (secret.size() < kMinJwtSecretBytes) {
    sodium_memzero(secret.data(), secret.size());
    return fail(Error::invalid("jwt_secret", "jwt secret must be at least " +
                                                 std::to_string(kMinJwtSecretBytes) + " bytes"));
  }
  return JwtKey(std::move(secret));
}

JwtKey::~JwtKey() {
  if (!secret_.empty()) sodium_memzero(secret_.data(), secret_.size());
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  crypto::init();
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

std::string sign_hs256_raw(std::string_view key, std::string_view header_json,
                           std::string_view claims_json) {
  std::string input =
      crypto::base64url_encode(header_json) + "." + crypto::base64url_encode(claims_json);
  std::string mac = hmac_sha256(key, input);
  return input + "." + crypto::base64url_encode(mac);
}

Result<std::string> mint_session_token(const JwtKey& key, std::string_view sub,
                                       std::string_view sid, int64_t now, int64_t ttl) {
  if (!valid_id(sub))
    return fail(Error::invalid("sub", "sub must be 1.." + std::to_string(kMaxIdBytes) + " bytes"));
  if (!valid_id(sid))
    return fail(Error::invalid("sid", "sid must be 1.." + std::to_string(kMaxIdBytes) + " bytes"));
  if (ttl < 1 || ttl > kMaxSessionTtl)
    return fail(
        Error::invalid("ttl", "ttl must be 1.." + std::to_string(kMaxSessionTtl) + " seconds"));
  json claims = {{"sub", sub}, {"sid", sid}, {"iat", now}, {"exp", now + ttl}};
  return sign_hs256_raw(key.secret(), R"({"alg":"HS256","typ":"JWT"})", claims.dump());
}

Result<SessionClaims> verify_session_token(const JwtKey& key, std::string_view token, int64_t now) {
  if (token.size() > kMaxTokenBytes) return unauthorized("too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return unauthorized("not three segments");
  std::string_view header_b64 = token.substr(0, d1);
  std::string_view claims_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  std::string_view sig_b64 = token.substr(d2 + 1);
  if (header_b64.empty() || claims_b64.empty() || sig_b64.empty())
    return unauthorized("empty segment");

  auto header_raw = crypto::base64url_decode(header_b64);
  if (!header_raw) return unauthorized("header not base64url");
  auto header = parse_strict_object(*header_raw);
  if (!header) return unauthorized("header not a JSON object");
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "HS256")
    return unauthorized("alg must be HS256");
  for (const auto& [name, value] : header->items()) {
    if (name == "alg") continue;
    if (name == "typ" && value.is_string() && value.get<std::string>() == "JWT") continue;
    return unauthorized("unexpected header member");
  }

  auto sig = crypto::base64url_decode(sig_b64);
  if (!sig || sig->size() != crypto_auth_hmacsha256_BYTES)
    return unauthorized("bad signature encoding");
  std::string expected = hmac_sha256(key.secret(), token.substr(0, d2));
  if (!crypto::constant_time_equal(expected, *sig)) return unauthorized("bad signature");

  auto claims_raw = crypto::base64url_decode(claims_b64);
  if (!claims_raw) return unauthorized("claims not base64url");
  auto claims = parse_strict_object(*claims_raw);
  if (!claims) return unauthorized("claims not a JSON object");

  SessionClaims out;
  auto sub = id_string(*claims, "sub");
  if (!sub) return unauthorized("sub missing or not a string");
  auto sid = id_string(*claims, "sid");
  if (!sid) return unauthorized("sid missing or not a string");
  auto iat = integer(*claims, "iat");
  if (!iat) return unauthorized("iat missing or not an integer");
  auto exp = integer(*claims, "exp");
  if (!exp) return unauthorized("exp missing or not an integer");
  if (*exp <= now) return unauthorized("expired");
  // Differences in uint64_t: the operands are ordered, and this cannot overflow.
  if (*iat > now && uint64_t(*iat) - uint64_t(now) > uint64_t(kJwtClockSkew))
    return unauthorized("issued in the future");
  if (*exp <= *iat) return unauthorized("exp not after iat");
  if (uint64_t(*exp) - uint64_t(*iat) > uint64_t(kMaxSessionTtl))
    return unauthorized("lifetime too long");
  out.sub = std::move(*sub);
  out.sid = std::move(*sid);
  out.iat = *iat;
  out.exp = *exp;
  return out;
}

}  // namespace zlh::api::auth
