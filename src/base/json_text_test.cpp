#include "base/json_text.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace zlh::json_text {
namespace {

// Every byte value at every position of an 8-byte word (the fast path
// skips plain words): the output is what nlohmann::json writes.
TEST(JsonText, SameBytesAsNlohmannForValidText) {
  for (int c = 0; c < 0x80; ++c)
    for (size_t pos = 0; pos < 9; ++pos) {
      std::string v = "abcdefghijklmnop";
      v.insert(pos, 1, char(c));
      std::string out;
      ASSERT_TRUE(append_string_checked(out, v));
      EXPECT_EQ(out, nlohmann::json(v).dump()) << c << " at " << pos;
    }
  std::string out;
  append_string(out, "é 中 🎮");
  EXPECT_EQ(out, nlohmann::json("é 中 🎮").dump());
}

TEST(JsonText, InvalidUtf8IsRefusedOrReplaced) {
  for (std::string bad :
       {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "x\x80y"}) {
    std::string out;
    EXPECT_FALSE(append_string_checked(out, bad)) << bad;
    out.clear();
    append_string(out, bad);
    auto j = nlohmann::json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    EXPECT_NE(j.get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace zlh::json_text
