#include "api/activity/console_lines.hpp"

#include <gtest/gtest.h>

namespace zlh::api::activity {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

const ConsoleLines::TimePoint t0{};

TEST(ConsoleLines, KeystrokesMakeALineOnEnter) {
  ConsoleLines l;
  for (char c : std::string("say hi")) EXPECT_TRUE(l.feed(std::string(1, c), t0).empty());
  EXPECT_EQ(l.feed("\r", t0), Lines{"say hi"});
  EXPECT_EQ(l.feed("list\r\nstop\n", t0), (Lines{"list", "stop"}));
}

TEST(ConsoleLines, EditingKeysAndEscapeSequences) {
  ConsoleLines l;
  // Backspace and DEL remove a whole UTF-8 character; arrows are skipped.
  EXPECT_EQ(l.feed("sayx\x7f h\xC3\xA9\x08i\x1b[D\x1bOA!\r", t0), Lines{"say hi!"});
  // Ctrl-U and Ctrl-C clear the line; other controls are ignored.
  EXPECT_EQ(l.feed("secret\x15op ann\r", t0), Lines{"op ann"});
  EXPECT_EQ(l.feed("oops\x03\x01kick bob\r", t0), Lines{"kick bob"});
  // Blank lines are not commands.
  EXPECT_TRUE(l.feed("\r   \r\n", t0).empty());
}

TEST(ConsoleLines, LongLinesAreCutAtACharacterBoundary) {
  ConsoleLines l;
  std::string in = std::string(ConsoleLines::kMaxLine - 1, 'a') + "\xC3\xA9" + "tail\r";
  auto out = l.feed(in, t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], std::string(ConsoleLines::kMaxLine - 1, 'a'));
  EXPECT_EQ(l.feed(std::string(100000, 'b') + "\r", t0)[0].size(), ConsoleLines::kMaxLine);
}

TEST(ConsoleLines, AtMostTwentyLinesASecond) {
  ConsoleLines l;
  std::string burst;
  for (int i = 0; i < 30; ++i) burst += "l" + std::to_string(i) + "\r";
  auto out = l.feed(burst, t0 + 5s);
  ASSERT_EQ(out.size(), size_t(ConsoleLines::kMaxPerSecond));
  EXPECT_EQ(out.back(), "l19");
  EXPECT_EQ(l.dropped(), 10u);
  EXPECT_TRUE(l.feed("x\r", t0 + 5s + 999ms).empty());
  EXPECT_EQ(l.feed("y\r", t0 + 6s), Lines{"y"});
}

}  // namespace
}  // namespace zlh::api::activity
