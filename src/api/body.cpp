#include "api/body.hpp"

#include <algorithm>

namespace zlh::api::body {

Result<nlohmann::json> object(std::string_view text,
                              std::initializer_list<std::string_view> allowed) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error::invalid("body", "body must be a JSON object"));
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      // An empty member name still gets a name the client can read.
      std::string k = it.key().empty() ? "(empty name)" : it.key();
      return fail(Error::invalid(k, "field \"" + k + "\": unknown field"));
    }
  return j;
}

Result<std::string> string_field(const nlohmann::json& j, const std::string& k, bool required) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) {
    if (required) return fail(Error::invalid(k, "field \"" + k + "\": is required"));
    return std::string();
  }
  if (!it->is_string()) return fail(Error::invalid(k, "field \"" + k + "\": must be a string"));
  return it->get<std::string>();
}

Result<int64_t> int_field(const nlohmann::json& j, const std::string& k, int64_t def, int64_t lo,
                          int64_t hi) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number_integer())
    return fail(Error::invalid(k, "field \"" + k + "\": must be an integer"));
  const std::string range =
      "field \"" + k + "\": must be " + std::to_string(lo) + ".." + std::to_string(hi);
  // An unsigned beyond INT64_MAX would wrap in get<int64_t>().
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX))
    return fail(Error::invalid(k, range));
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return fail(Error::invalid(k, range));
  return v;
}

}  // namespace zlh::api::body
