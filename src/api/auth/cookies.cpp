#include "api/auth/cookies.hpp"

#include <cctype>

#include "base/strings.hpp"

namespace zlh::api::auth {
namespace {

// RFC 6265 §4.1.1 cookie-octet.
bool cookie_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

std::string attributes(bool secure) {
  return secure ? "; HttpOnly; SameSite=Lax; Secure" : "; HttpOnly; SameSite=Lax";
}

// Calls f(name, value) for each pair, in order, by the rules of
// parse_cookie_header (cookies.hpp); stops when f returns true.
template <typename F>
void each_cookie(std::string_view header, F f) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = strings::trim_ows(pair.substr(0, eq));
    std::string_view value = strings::trim_ows(pair.substr(eq + 1));
    if (name.empty()) continue;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (f(name, value)) return;
  }
}

}  // namespace

CookieMap parse_cookie_header(std::string_view header) {
  CookieMap out;
  each_cookie(header, [&](std::string_view name, std::string_view value) {
    out.emplace(std::string(name), std::string(value));  // keeps the first
    return false;
  });
  return out;
}

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) {
  std::optional<std::string_view> found;
  each_cookie(header, [&](std::string_view n, std::string_view value) {
    if (n != name) return false;
    found = value;
    return true;
  });
  return found;
}

bool secure_for_public_url(std::string_view public_url) {
  return public_url.size() >= 8 && strings::iequals(public_url.substr(0, 8), "https://");
}

Result<std::string> session_cookie(std::string_view token, int64_t max_age, bool secure) {
  if (token.empty()) return fail(Error::invalid("token", "session cookie value is empty"));
  for (unsigned char c : token)
    if (!cookie_octet(c))
      return fail(
          Error::invalid("token", "session cookie value holds a byte not allowed in cookies"));
  if (max_age < 1) return fail(Error::invalid("max_age", "max_age must be at least 1 second"));
  return std::string(session_cookie_name(secure)) + "=" + std::string(token) +
         "; Path=/; Max-Age=" + std::to_string(max_age) + attributes(secure);
}

std::string clear_session_cookie(bool secure) {
  return std::string(session_cookie_name(secure)) +
         "=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT" + attributes(secure);
}

Result<Credential> select_credential(std::optional<std::string_view> authorization,
                                     std::optional<std::string_view> cookie_header, bool secure) {
  if (authorization) {
    std::string_view v = strings::trim_ows(*authorization);
    size_t sp = v.find(' ');
    if (sp == std::string_view::npos || !strings::iequals(v.substr(0, sp), "Bearer"))
      return fail(codes::kUnauthorized, "authorization header is not a bearer token");
    std::string_view token = v.substr(sp + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.empty() || token.find_first_of(" \t") != std::string_view::npos)
      return fail(codes::kUnauthorized, "authorization header is not a bearer token");
    return Credential{CredentialKind::kBearer, std::string(token)};
  }
  if (cookie_header) {
    auto v = find_cookie(*cookie_header, session_cookie_name(secure));
    if (v && !v->empty()) return Credential{CredentialKind::kCookie, std::string(*v)};
  }
  return Credential{};
}

bool is_state_changing(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

Result<void> check_csrf(std::string_view method, CredentialKind used,
                        std::optional<std::string_view> csrf_header) {
  if (used != CredentialKind::kCookie || !is_state_changing(method)) return {};
  if (csrf_header && strings::trim_ows(*csrf_header) == "1") return {};
  return fail(codes::kForbidden, "cookie-authenticated request without X-ZLH-CSRF: 1");
}

}  // namespace zlh::api::auth
