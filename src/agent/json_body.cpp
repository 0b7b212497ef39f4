#include "agent/json_body.hpp"

#include <algorithm>

namespace zlh::agent {

Result<nlohmann::json> object_body(std::string_view body,
                                   std::initializer_list<std::string_view> allowed) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::unexpected(Error::invalid("body", "body must be a JSON object"));
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      return std::unexpected(Error::invalid(it.key(), "field \"" + it.key() + "\": unknown field"));
  return j;
}

Result<std::string> string_field(const nlohmann::json& j, const std::string& k) {
  auto it = j.find(k);
  if (it == j.end()) return std::unexpected(Error::invalid(k, "field \"" + k + "\": is required"));
  if (!it->is_string())
    return std::unexpected(Error::invalid(k, "field \"" + k + "\": must be a string"));
  return it->get<std::string>();
}

Result<std::vector<std::string>> string_fields(std::string_view body,
                                               std::initializer_list<std::string_view> names) {
  auto j = object_body(body, names);
  if (!j) return std::unexpected(j.error());
  std::vector<std::string> out;
  for (std::string_view n : names) {
    auto v = string_field(*j, std::string(n));
    if (!v) return std::unexpected(v.error());
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace zlh::agent
