#include "agent/game/java_select.hpp"

#include <gtest/gtest.h>

namespace zlh::agent::game {
namespace {

catalog::Catalog with_java(std::vector<std::pair<std::string, std::string>> versions) {
  catalog::Catalog c;
  catalog::Item java;
  java.id = "java";
  for (auto& [v, ch] : versions) {
    catalog::Entry e;
    e.version = v;
    e.channel = ch;
    java.versions.push_back(e);
  }
  c.runtimes.push_back(java);
  return c;
}

TEST(JavaSelect, MatchesOnComponentBoundariesOnly) {
  EXPECT_TRUE(java_matches("17", "17"));
  EXPECT_TRUE(java_matches("17", "17.0.13"));
  EXPECT_TRUE(java_matches("17", "17-ea"));
  EXPECT_TRUE(java_matches("17", "17+35"));
  EXPECT_TRUE(java_matches("21.0", "21.0.5"));
  EXPECT_FALSE(java_matches("17", "170.1"));
  EXPECT_FALSE(java_matches("17", "1.17"));
  EXPECT_FALSE(java_matches("21.0", "21.05"));
  EXPECT_FALSE(java_matches("21", "2"));
  EXPECT_FALSE(java_matches("", "21"));
}

TEST(JavaSelect, HighestMatchingVersionWinsComparedAsVersions) {
  auto c = with_java({{"17.0.9", "stable"},
                      {"17.0.13", "stable"},
                      {"170.1", "stable"},
                      {"21.0.5", "stable"},
                      {"21.0.99-test", "dev"},
                      {"8.0.422", "stable"}});
  EXPECT_EQ(select_java(c, "17").value(),
            "17.0.13");  // "17.0.13" > "17.0.9" as versions, not strings
  EXPECT_EQ(select_java(c, "21").value(), "21.0.99-test");  // any channel
  EXPECT_EQ(select_java(c, "21.0.5").value(), "21.0.5");    // exact
  EXPECT_EQ(select_java(c, "8").value(), "8.0.422");
  EXPECT_EQ(select_java(c, "170").value(), "170.1");
}

TEST(JavaSelect, MissingJavaIsNotFoundNamingIt) {
  auto c = with_java({{"17.0.13", "stable"}});
  auto r = select_java(c, "21");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kNotFound));
  EXPECT_NE(r.error().message.find("\"21\""), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("17.0.13"), std::string::npos) << r.error().message;

  catalog::Catalog none;
  auto n = select_java(none, "17");
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error().is(codes::kNotFound));
  EXPECT_NE(n.error().message.find("no java runtime"), std::string::npos);
}

}  // namespace
}  // namespace zlh::agent::game
