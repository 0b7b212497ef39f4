// The names that travel between zlh-api, the catalog and the agent and end
// up in paths, hostnames and argv: one definition of what is allowed, so a
// name one side accepts is never one the other side refuses, and none can
// reach outside a directory or into a shell. ASCII only, locale-free.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace zlh::proto {

// [a-z0-9][a-z0-9_-]{0,31}: runtime, addon, game and variant ids.
bool valid_id(std::string_view s);
// [0-9A-Za-z][0-9A-Za-z.+_-]{0,63}, no "..": versions.
bool valid_version(std::string_view s);
// 64 lowercase hex digits: a SHA-256.
bool is_hex64(std::string_view s);

}  // namespace zlh::proto
