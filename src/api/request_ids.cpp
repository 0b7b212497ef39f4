#include "api/request_ids.hpp"

#include <charconv>

namespace zlh::api {

std::optional<int64_t> parse_id(std::string_view s) {
  int64_t v = 0;
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

int64_t user_id(const http::Request& req) { return parse_id(req.log_user).value_or(0); }

Result<int64_t> path_id(const http::Request& req, std::string_view name) {
  auto it = req.params.find(name);
  auto id = it == req.params.end() ? std::nullopt : parse_id(it->second);
  if (!id) return fail(codes::kNotFound, "no such resource");
  return *id;
}

}  // namespace zlh::api
