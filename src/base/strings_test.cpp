#include "base/strings.hpp"

#include <gtest/gtest.h>

namespace zlh::strings {
namespace {

TEST(Strings, IequalsIsAsciiOnly) {
  EXPECT_TRUE(iequals("Content-Type", "content-type"));
  EXPECT_FALSE(iequals("Content-Type", "content-typ"));
  // Bytes above 0x7f are compared as they are, whatever the locale says.
  EXPECT_FALSE(iequals("\xc9", "\xe9"));
  static_assert(iequals("UPGRADE", "upgrade"));
}

TEST(Strings, TrimOwsKeepsOtherWhitespace) {
  EXPECT_EQ(trim_ows(" \t a b \t "), "a b");
  EXPECT_EQ(trim_ows("\r\nx\r\n"), "\r\nx\r\n");
  EXPECT_EQ(trim_ows("   "), "");
}

TEST(Strings, TrimSpaceTakesEveryAsciiSpace) {
  EXPECT_EQ(trim_space("\n\t\v\f\r x y \r\n"), "x y");
  EXPECT_EQ(trim_space("\xa0x\xa0"), "\xa0x\xa0");  // not ASCII: kept
}

TEST(Strings, ToLower) { EXPECT_EQ(to_lower("MiXeD-1"), "mixed-1"); }

}  // namespace
}  // namespace zlh::strings
