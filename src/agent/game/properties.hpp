// server.properties: merging the payload into the file the server and the
// user edit (docs/design.md §9), in java.util.Properties text format.
//
// merge_properties() keeps the existing text: comments, blank lines, key
// order, escapes and every value the payload does not set stay as they are
// (a user's edits through the file API survive re-provisioning). For each
// key in `set` the first line defining it gets the new value in place (the
// whole logical line, continuations included); later lines defining the
// same key are dropped (Properties.load would let them win). Keys not yet
// present are appended in the order of `set`. Output lines end with "\n".
//
// Keys are matched after Properties unescaping, so "level\-name" and
// "level-name" are one key. Values are written escaped as
// Properties.store does (backslash, leading space, '#', '!', '=', ':',
// control characters) and non-ASCII characters as \uXXXX, which both the
// ISO-8859-1 and the UTF-8 readers Minecraft versions use decode the same.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zlh::agent::game {

using PropertyList = std::vector<std::pair<std::string, std::string>>;  // key, unescaped value

std::string merge_properties(std::string_view existing, const PropertyList& set);

// The unescaped value of `key` (last definition wins, as in Properties.load).
std::optional<std::string> get_property(std::string_view text, std::string_view key);

// Escapes a (UTF-8) value for the right-hand side of "key=value".
std::string escape_property_value(std::string_view utf8);

// A payload property value as text: strings as they are, booleans
// "true"/"false", numbers as JSON writes them.
std::string property_text(const nlohmann::json& v);

}  // namespace zlh::agent::game
