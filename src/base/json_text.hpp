// JSON string literals written straight into a buffer, for the paths that
// build JSON text without a tree (log lines, the server list). The output
// is byte for byte what nlohmann::json::dump() writes for the same valid
// string: '"', '\\' and control bytes escaped (\b \f \n \r \t, else \u00XX),
// everything else, including valid UTF-8, copied as it is.
//
// UTF-8 is checked strictly (no overlong forms, no surrogates, nothing past
// U+10FFFF), so the text is always valid JSON in valid UTF-8.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace zlh::json_text {

// Appends `v` quoted and escaped. False, with `out` holding a partial
// string, when `v` is not valid UTF-8.
bool append_string_checked(std::string& out, std::string_view v);

// The same, with each byte that is not part of valid UTF-8 replaced by
// U+FFFD; never fails.
void append_string(std::string& out, std::string_view v);

}  // namespace zlh::json_text
