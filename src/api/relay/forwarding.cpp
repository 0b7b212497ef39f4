#include "api/relay/forwarding.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"

namespace zlh::api::relay {

Result<std::string> agent_target(std::string_view api_path, std::string_view query, size_t skip) {
  std::string out;
  size_t seen = 0;
  http::SegmentReader segs(api_path);
  while (auto raw = segs.next()) {
    if (seen++ < skip) continue;
    auto seg = http::url_decode(*raw, false);
    if (!seg) return fail(codes::kBadPath, "path: " + seg.error().message);
    if (seg->empty() || *seg == "." || *seg == ".." ||
        seg->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
      return fail(codes::kBadPath, "path: bad segment");
    out += '/';
    out += http::url_encode(*seg);
  }
  if (seen <= skip) return fail(codes::kNotFound, "no route");
  if (!query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

namespace {
template <size_t N>
bool one_of(std::string_view name, const std::array<std::string_view, N>& names) {
  for (auto n : names)
    if (strings::iequals(name, n)) return true;
  return false;
}
}  // namespace

bool header_to_agent(std::string_view name) {
  static constexpr std::array<std::string_view, 4> kNames = {"Content-Type", "Range", "If-Range",
                                                             "Accept"};
  return one_of(name, kNames);
}

bool header_to_client(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kNames = {
      "Content-Type",  "Content-Range", "Content-Disposition", "Accept-Ranges",
      "Last-Modified", "ETag",          "Retry-After",         "X-ZLH-Restart-Required"};
  return one_of(name, kNames);
}

bool agent_refused_api(int status) { return status == 401; }

Error error_from_agent(int status, std::string_view body) {
  if (!agent_refused_api(status)) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      const auto& e = j["error"];
      auto text = [&e](const char* k) {
        auto it = e.find(k);
        return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      std::string code = text("code");
      if (code.size() > 2 && code.starts_with("E_") && code.size() <= 64) {
        // A code this api does not know is the agent's own failure: 502,
        // with the agent's code kept in front of its message.
        auto known = parse_code(code);
        Error out = known ? Error::make(*known, text("message"))
                          : Error::make(codes::kUpstream, code + ": " + text("message"));
        out.field = text("field");
        return out;
      }
    }
  }
  if (agent_refused_api(status))
    return Error::make(codes::kUpstream, "the agent refused the api's credentials");
  return Error::make(codes::kUpstream, "the agent answered " + std::to_string(status));
}

}  // namespace zlh::api::relay
