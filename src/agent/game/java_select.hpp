// Which catalog Java runtime a game server runs on (docs/design.md §4.1, §9, §15).
//
// A game entry's `java` field W names versions of the catalog runtime
// "java": a version V matches W when V == W, or when V starts with W
// followed by a component separator ('.', '-', '+' or '_'). So "17" matches
// "17.0.13" and "17-ea" but not "170.1"; "21.0" matches "21.0.5" but not
// "21.05". Among the matches the highest version (catalog::compare_versions)
// wins, whatever its channel: the entry's author chose the Java line, and
// channels describe what users may pick, not what a game may depend on.
// Java is never derived from the Minecraft version.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"
#include "proto/catalog.hpp"

namespace zlh::agent::game {

inline constexpr std::string_view kJavaRuntime = "java";

bool java_matches(std::string_view want, std::string_view version);

// The runtime version to install for `want`. E_NOT_FOUND, naming `want`
// and the versions the catalog has, when the catalog has no "java" runtime
// or no version of it matches.
Result<std::string> select_java(const catalog::Catalog& cat, std::string_view want);

}  // namespace zlh::agent::game
