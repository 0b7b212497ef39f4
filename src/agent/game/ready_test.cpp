#include "agent/game/ready.hpp"

#include <gtest/gtest.h>

namespace zlh::agent::game {
namespace {

TEST(Ready, MatchesACompleteLineAcrossChunks) {
  auto m = ReadyMatcher::make(R"(Done \()");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->feed(
      "[10:00:00] [Server thread/INFO]: Preparing level \"world\"\r\n[10:00:01] [Server thr"));
  EXPECT_FALSE(m->feed("ead/INFO]: Do"));
  EXPECT_FALSE(m->feed("ne (1.234s)! For help, type \"help\""));  // not a line yet
  EXPECT_TRUE(m->feed("\r\n"));
  EXPECT_TRUE(m->matched());
  EXPECT_TRUE(m->feed("more\n"));  // sticky
}

TEST(Ready, AnsiColoursAndCarriageReturnsDoNotHideTheLine) {
  auto m = ReadyMatcher::make(R"(^\[[0-9:]+ INFO\]: Done \([0-9.]+s\)!)");
  ASSERT_TRUE(m);
  EXPECT_TRUE(
      m->feed("\x1b[?1h\x1b=\r\x1b[m[12:00:00 INFO]: \x1b[32mDone (2.5s)!\x1b[m For "
              "help\x1b]0;title\x07\r\n"));
  EXPECT_EQ(strip_terminal_codes("\x1b[1;31mred\x1b[0m \x1b]0;t\x1b\\ok\r"), "red ok");
}

TEST(Ready, AnEchoedCommandOrAnUnrelatedLineDoesNotMatch) {
  auto m = ReadyMatcher::make(R"(Done \()");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->feed("Loading libraries\nDone\nDone(\n"));
  EXPECT_FALSE(m->matched());
}

TEST(Ready, KeepsTheLastLinesForErrors) {
  auto m = ReadyMatcher::make("never");
  ASSERT_TRUE(m);
  for (int i = 0; i < 100; ++i) m->feed("line " + std::to_string(i) + "\n");
  m->feed("\x1b[31mpartial");
  auto lines = m->last_lines();
  ASSERT_EQ(lines.size(), ReadyMatcher::kKeepLines + 1);
  EXPECT_EQ(lines.front(), "line " + std::to_string(100 - ReadyMatcher::kKeepLines));
  EXPECT_EQ(lines[lines.size() - 2], "line 99");
  EXPECT_EQ(lines.back(), "partial");
  m->reset();
  EXPECT_TRUE(m->last_lines().empty());
}

TEST(Ready, EmptyPatternIsTheDefaultAndBadOnesAreRefused) {
  auto m = ReadyMatcher::make("");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->feed("[Server thread/INFO]: Done (0.9s)! For help, type \"help\"\n"));
  auto bad = ReadyMatcher::make("Done (");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(codes::kInvalid));
}

TEST(Ready, OverlongLinesAreBounded) {
  auto m = ReadyMatcher::make("Done");
  ASSERT_TRUE(m);
  std::string huge(1 << 20, 'x');
  EXPECT_FALSE(m->feed(huge + "Done\n"));  // beyond kMaxLine: not seen
  EXPECT_TRUE(m->feed("Done\n"));
  EXPECT_LE(m->last_lines().front().size(), 4 * ReadyMatcher::kMaxLine);
}

}  // namespace
}  // namespace zlh::agent::game
