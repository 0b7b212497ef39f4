// The browser session cookie and CSRF rule of zlh-api (docs/design.md §10.2).
//
// - parse_cookie_header(): the request's Cookie header into name -> value,
//   leniently (RFC 6265 §5.4 as browsers send it, plus what sloppy clients
//   send): pairs split on ';', surrounding spaces/tabs trimmed, a value in
//   double quotes unquoted, pairs without '=' or with an empty name skipped,
//   and the first occurrence of a name wins (browsers send the cookie with
//   the most specific path first). Never fails. Several Cookie header lines
//   (HTTP/2) must be joined with "; " by the caller.
// - session_cookie() / clear_session_cookie(): Set-Cookie values for
//   `zlh_session`: HttpOnly; SameSite=Lax; Path=/; Max-Age; Secure when the
//   public URL is https (secure_for_public_url()).
// - select_credential(): which credential a /api request presents; a Bearer
//   header wins over the cookie.
// - check_csrf(): a state-changing request authenticated by the cookie must
//   carry `X-ZLH-CSRF: 1`, else 403 E_FORBIDDEN. The header cannot be set
//   cross-site without a CORS preflight, which zlh-api never grants.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::auth {

inline constexpr std::string_view kSessionCookie = "zlh_session";
// L8: on https the session cookie is "__Host-zlh_session": browsers accept
// it only with Secure, Path=/ and no Domain, so no other host (a sibling
// subdomain) can set or shadow it.
inline constexpr std::string_view kHostSessionCookie = "__Host-zlh_session";
inline constexpr std::string_view session_cookie_name(bool secure) {
  return secure ? kHostSessionCookie : kSessionCookie;
}
inline constexpr std::string_view kCsrfHeader = "X-ZLH-CSRF";

using CookieMap = std::map<std::string, std::string, std::less<>>;
CookieMap parse_cookie_header(std::string_view header);
// The value parse_cookie_header would give `name`, without building the map
// (a view into header); nullopt when the header has no such cookie.
std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name);

// true when public_url's scheme is https (case-insensitive).
bool secure_for_public_url(std::string_view public_url);

// "<name>=<token>; Path=/; Max-Age=<max_age>; HttpOnly; SameSite=Lax[; Secure]",
// <name> = session_cookie_name(secure).
// E_INVALID when the token holds a byte that is not a cookie-octet
// (RFC 6265 §4.1.1: no controls, space, '"', ',', ';', '\\') or is empty, or
// max_age < 1. A JWT (base64url and '.') always passes.
Result<std::string> session_cookie(std::string_view token, int64_t max_age, bool secure);

// The logout form: empty value, Max-Age=0 and an Expires in 1970 (for old
// clients), with the same Path/HttpOnly/SameSite/Secure so it replaces the cookie.
std::string clear_session_cookie(bool secure);

enum class CredentialKind { kNone, kBearer, kCookie };

struct Credential {
  CredentialKind kind = CredentialKind::kNone;
  std::string token;  // empty for kNone
};

// From the Authorization and Cookie header values (nullopt when absent).
// Authorization present: must be "Bearer <token>" (scheme case-insensitive,
// one or more spaces, no further spaces in the token), else E_UNAUTHORIZED —
// a malformed Authorization header does not fall back to the cookie.
// Otherwise a non-empty session cookie (session_cookie_name(secure): on
// https only the __Host- one counts) is kCookie; else kNone.
Result<Credential> select_credential(std::optional<std::string_view> authorization,
                                     std::optional<std::string_view> cookie_header,
                                     bool secure = false);

// GET, HEAD and OPTIONS (exact, case-sensitive as HTTP methods are) are safe;
// every other method is state-changing.
bool is_state_changing(std::string_view method);

// E_FORBIDDEN when a state-changing request was authenticated by the cookie
// and its X-ZLH-CSRF header (value, nullopt when absent) is not "1" (spaces
// and tabs around it ignored). Bearer and unauthenticated requests pass.
Result<void> check_csrf(std::string_view method, CredentialKind used,
                        std::optional<std::string_view> csrf_header);

}  // namespace zlh::api::auth
