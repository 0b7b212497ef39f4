// Parsing of small JSON request bodies, shared by the agent's route tables.
// Pure functions; errors are E_INVALID naming the field (Error::field).
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::agent {

// A JSON object body; unknown fields are refused and named.
Result<nlohmann::json> object_body(std::string_view body,
                                   std::initializer_list<std::string_view> allowed);
// A required string field.
Result<std::string> string_field(const nlohmann::json& j, const std::string& k);
// A JSON object body of exactly `names`, each a required string: their values
// in the order named. Errors as object_body, then string_field, in that order.
Result<std::vector<std::string>> string_fields(std::string_view body,
                                               std::initializer_list<std::string_view> names);

}  // namespace zlh::agent
