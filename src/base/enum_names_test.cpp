#include "base/enum_names.hpp"

#include <gtest/gtest.h>

namespace zlh {
namespace {

enum class Color { kRed, kGreen, kBlue };
constexpr EnumNames<Color, 3> kColorNames{{"red", "green", "blue"}};

TEST(EnumNames, EveryValueRoundTripsAndOthersParseToNothing) {
  for (Color c : {Color::kRed, Color::kGreen, Color::kBlue})
    EXPECT_EQ(kColorNames.parse(kColorNames.name(c)), c);
  EXPECT_EQ(kColorNames.name(Color::kGreen), "green");
  EXPECT_FALSE(kColorNames.parse("").has_value());
  EXPECT_FALSE(kColorNames.parse("Red").has_value());
  EXPECT_FALSE(kColorNames.parse("red ").has_value());
  static_assert(kColorNames.covers(Color::kBlue));
  static_assert(!kColorNames.covers(Color::kGreen));
}

}  // namespace
}  // namespace zlh
