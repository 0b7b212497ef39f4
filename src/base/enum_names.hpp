// The wire names of a closed set: an enum class whose values are 0..N-1 in
// declaration order, and one table of their names. The table gives both
// directions (to_string at the writing boundary, parse at the reading one),
// so a closed set is typed everywhere in between and its `switch`es are
// checked by the compiler (-Wswitch).
//
//   enum class Kind { kJar, kInstaller };
//   inline constexpr EnumNames<Kind, 2> kKindNames{{"jar", "installer"}};
//   static_assert(kKindNames.covers(Kind::kInstaller));  // the last value
//
// Thread-safety: constant data.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace zlh {

template <typename E, size_t N>
struct EnumNames {
  std::array<std::string_view, N> names;  // names[i] is the name of E(i)

  constexpr std::string_view name(E e) const { return names[static_cast<size_t>(e)]; }
  constexpr std::optional<E> parse(std::string_view s) const {
    for (size_t i = 0; i < N; ++i)
      if (names[i] == s) return static_cast<E>(i);
    return std::nullopt;
  }
  // True when `last` (the enum's last value) is the table's last entry: with
  // the values in declaration order, every value has exactly one name.
  constexpr bool covers(E last) const { return static_cast<size_t>(last) + 1 == N; }
};

}  // namespace zlh
