#include "proto/ids.hpp"

#include <gtest/gtest.h>

namespace zlh::proto {
namespace {

TEST(Ids, IdsAreLowercaseAndShort) {
  EXPECT_TRUE(valid_id("node"));
  EXPECT_TRUE(valid_id("code-server"));
  EXPECT_TRUE(valid_id("0ad_2"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id("Node"));
  EXPECT_FALSE(valid_id("-x"));
  EXPECT_FALSE(valid_id("a/b"));
  EXPECT_FALSE(valid_id(".."));
  EXPECT_FALSE(valid_id(std::string(33, 'a')));
  EXPECT_FALSE(valid_id(std::string_view("a\0b", 3)));
}

TEST(Ids, VersionsCannotClimbOutOfADirectory) {
  EXPECT_TRUE(valid_version("20.18.0"));
  EXPECT_TRUE(valid_version("1.21.4-rc1+build_2"));
  EXPECT_FALSE(valid_version("1..2"));
  EXPECT_FALSE(valid_version(".1"));
  EXPECT_FALSE(valid_version("1/2"));
  EXPECT_FALSE(valid_version("1 2"));
  EXPECT_FALSE(valid_version(std::string(65, '1')));
  // Locale-free: a byte above 0x7f is never a letter.
  EXPECT_FALSE(valid_version("1\xe9"));
}

TEST(Ids, Hex64IsLowercase) {
  EXPECT_TRUE(is_hex64(std::string(64, 'a')));
  EXPECT_FALSE(is_hex64(std::string(64, 'A')));
  EXPECT_FALSE(is_hex64(std::string(63, 'a')));
}

}  // namespace
}  // namespace zlh::proto
