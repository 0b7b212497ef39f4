// The two kinds of container (docs/design.md §3.5): a dev environment or a
// game server. Typed everywhere in between; the payload's "container_type",
// the api's JSON and the database column spell it "dev" / "game".
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "base/enum_names.hpp"

namespace zlh {

enum class ContainerType { kDev, kGame };

inline constexpr EnumNames<ContainerType, 2> kContainerTypeNames{{"dev", "game"}};
static_assert(kContainerTypeNames.covers(ContainerType::kGame));

// "dev" or "game".
constexpr std::string_view to_string(ContainerType t) { return kContainerTypeNames.name(t); }
// The type a wire string names; nullopt for anything else.
constexpr std::optional<ContainerType> parse_container_type(std::string_view s) {
  return kContainerTypeNames.parse(s);
}
// A ContainerType put into JSON (payloads, log fields) is its name, never
// the enum's number.
inline void to_json(nlohmann::json& j, ContainerType t) { j = to_string(t); }

}  // namespace zlh
