// The ids a zlh-api route reads from a request: the signed-in user (set by
// the router's auth guard) and numeric path parameters. One strict parser:
// decimal digits only, no sign, no spaces, no overflow.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/error.hpp"
#include "http/http.hpp"

namespace zlh::api {

// A positive decimal id (1..INT64_MAX); nullopt for anything else.
std::optional<int64_t> parse_id(std::string_view s);

// The signed-in user's id; 0 when the request has none (a public route).
int64_t user_id(const http::Request& req);

// Path parameter `name` as an id. A malformed or missing id is E_NOT_FOUND
// "no such resource", like any id that is not the caller's.
Result<int64_t> path_id(const http::Request& req, std::string_view name = "id");

}  // namespace zlh::api
