// Fields of a JSON request body, each refusal E_INVALID naming the field
// (Error::field) with a message a client can show.
// Thread-safety: pure functions.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::body {

// A JSON object whose members are all in `allowed`.
Result<nlohmann::json> object(std::string_view text,
                              std::initializer_list<std::string_view> allowed);
// A string member; absent or null is "" unless required.
Result<std::string> string_field(const nlohmann::json& j, const std::string& k,
                                 bool required = true);
// An integer member in lo..hi; absent or null is `def`.
Result<int64_t> int_field(const nlohmann::json& j, const std::string& k, int64_t def, int64_t lo,
                          int64_t hi);

}  // namespace zlh::api::body
