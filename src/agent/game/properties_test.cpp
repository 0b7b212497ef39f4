#include "agent/game/properties.hpp"

#include <gtest/gtest.h>

namespace zlh::agent::game {
namespace {

TEST(Properties, KeepsUserEditsCommentsAndOrder) {
  std::string existing =
      "#Minecraft server properties\n"
      "#Mon Nov 24 10:00:00 UTC 2026\n"
      "motd=My edited \\u00e9 motd\n"
      "max-players=7\n"
      "\n"
      "server-port=1\n"
      "level-name=old\n"
      "white-list=true\n";
  std::string out = merge_properties(existing, {{"max-players", "10"},
                                                {"difficulty", "hard"},
                                                {"server-port", "25570"},
                                                {"level-name", "world"}});
  EXPECT_EQ(out,
            "#Minecraft server properties\n"
            "#Mon Nov 24 10:00:00 UTC 2026\n"
            "motd=My edited \\u00e9 motd\n"
            "max-players=10\n"
            "\n"
            "server-port=25570\n"
            "level-name=world\n"
            "white-list=true\n"
            "difficulty=hard\n");
  EXPECT_EQ(get_property(out, "motd"), "My edited \xc3\xa9 motd");
  // Merging again with the same values changes nothing.
  EXPECT_EQ(merge_properties(out, {{"max-players", "10"},
                                   {"difficulty", "hard"},
                                   {"server-port", "25570"},
                                   {"level-name", "world"}}),
            out);
}

TEST(Properties, EmptyFileGetsTheValuesInOrder) {
  EXPECT_EQ(merge_properties("", {{"server-port", "25565"}, {"level-name", "world"}}),
            "server-port=25565\nlevel-name=world\n");
  // The last value for a key in `set` wins (forced values come last).
  EXPECT_EQ(merge_properties("", {{"level-name", "mine"}, {"level-name", "world"}}),
            "level-name=world\n");
}

TEST(Properties, KeysMatchAfterUnescapingAndSeparatorsVary) {
  std::string existing = "level\\-name : old\n  server-port   1\nmotd:hi\n";
  std::string out = merge_properties(existing, {{"level-name", "w"}, {"server-port", "2"}});
  EXPECT_EQ(out, "level-name=w\nserver-port=2\nmotd:hi\n");
}

TEST(Properties, ContinuationLinesAreReplacedWholeAndDuplicatesDropped) {
  std::string existing =
      "motd=first \\\n    second\nmax-players=3\nmotd=again\n# motd=comment stays\n";
  EXPECT_EQ(get_property(existing, "motd"), "again");  // the last definition wins when reading
  std::string out = merge_properties(existing, {{"motd", "new"}});
  EXPECT_EQ(out, "motd=new\nmax-players=3\n# motd=comment stays\n");
  // An untouched continuation is kept verbatim.
  EXPECT_EQ(merge_properties("a=1 \\\n  2\n", {{"b", "x"}}), "a=1 \\\n  2\nb=x\n");
  EXPECT_EQ(get_property("a=1 \\\n  2\n", "a"), "1 2");
}

TEST(Properties, CrLfAndMissingFinalNewlineAreRead) {
  EXPECT_EQ(merge_properties("a=1\r\nb=2", {{"b", "3"}}), "a=1\nb=3\n");
}

TEST(Properties, ValuesAreEscapedSoJavaReadsThemBack) {
  EXPECT_EQ(escape_property_value("plain text"), "plain text");
  EXPECT_EQ(escape_property_value(" lead"), "\\ lead");
  EXPECT_EQ(escape_property_value("a=b:c#d!e\\f"), "a\\=b\\:c\\#d\\!e\\\\f");
  EXPECT_EQ(escape_property_value("tab\there"), "tab\\there");
  EXPECT_EQ(escape_property_value("caf\xc3\xa9"), "caf\\u00E9");
  EXPECT_EQ(escape_property_value("\xf0\x9f\x98\x80"),
            "\\uD83D\\uDE00");  // outside the BMP: a surrogate pair
  EXPECT_EQ(escape_property_value("bad\xff"), "bad\\uFFFD");
  // What we write reads back as what we meant.
  for (std::string v :
       {"a=b:c", " lead", "caf\xc3\xa9", "x\\y", "#not a comment", "\xf0\x9f\x98\x80"}) {
    auto text = merge_properties("", {{"motd", v}});
    EXPECT_EQ(get_property(text, "motd"), v) << text;
  }
  EXPECT_EQ(get_property("m=\\uD83D\\uDE00", "m"), "\xf0\x9f\x98\x80");
}

// Found by fuzz/properties_fuzz.cpp (fuzz/corpus/properties/crash-dangling-
// continuation): a file ending in a line continuation (an odd number of
// backslashes, no newline) swallowed the first appended key, which then
// read back as part of that line; merging again dropped the user's line.
TEST(Properties, ContinuationAtTheEndOfTheFileDoesNotSwallowAppendedKeys) {
  for (std::string existing : {"\\", "motd=hi \\", "motd=hi \\\n", "a=1\nb=2 \\\\\\"}) {
    std::string out = merge_properties(existing, {{"y", ""}, {"pvp", "false"}});
    EXPECT_EQ(get_property(out, "y"), "") << out;
    EXPECT_EQ(get_property(out, "pvp"), "false") << out;
    EXPECT_EQ(get_property(out, "motd"), get_property(existing, "motd")) << out;
    EXPECT_EQ(get_property(out, "b"), get_property(existing, "b")) << out;
    EXPECT_EQ(merge_properties(out, {{"y", ""}, {"pvp", "false"}}), out)
        << "not idempotent: " << out;
  }
  EXPECT_EQ(merge_properties("motd=hi \\", {{"pvp", "false"}}), "motd=hi \\\n\npvp=false\n");
}

TEST(Properties, PayloadValuesAsText) {
  EXPECT_EQ(property_text(true), "true");
  EXPECT_EQ(property_text(false), "false");
  EXPECT_EQ(property_text(20), "20");
  EXPECT_EQ(property_text(0.5), "0.5");
  EXPECT_EQ(property_text("hard"), "hard");
}

}  // namespace
}  // namespace zlh::agent::game
