// The WebSocket Origin check (docs/design.md §10.1, §10.4), used by the
// console relay and the IDE origin: a browser always sends Origin with a
// WebSocket upgrade, so a page on another site could otherwise open a
// console with the user's cookie (cross-site WebSocket hijacking).
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace zlh::http {

// "scheme://host[:port]" of a URL, lowercased, without a default port (80
// for http, 443 for https), path, query or userinfo. nullopt when `url` is
// not an absolute http(s) URL.
std::optional<std::string> normalized_origin(std::string_view url);

// True when there is no Origin header (not a browser: CLI, tests) or when
// it names the same origin as `public_url`. "null" and malformed origins
// are refused.
bool origin_allowed(std::optional<std::string_view> origin, std::string_view public_url);

}  // namespace zlh::http
