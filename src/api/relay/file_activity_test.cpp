#include "api/relay/file_activity.hpp"

#include <gtest/gtest.h>

namespace zlh::api::relay {
namespace {

using nlohmann::json;

TEST(FileActivity, StreamedChanges) {
  auto w = streamed_change("PUT", "/files/write", "cfg/server.properties");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->action, "files.write");
  EXPECT_EQ(w->detail, json({{"path", "cfg/server.properties"}}));
  EXPECT_EQ(streamed_change("POST", "/files/upload", "plugins")->action, "files.upload");
  EXPECT_EQ(streamed_change("POST", "/mods/install", std::nullopt)->action, "mods.install");
  auto en = streamed_change("POST", "/mods/fabric-api/disable", std::nullopt);
  EXPECT_EQ(en->action, "mods.disable");
  EXPECT_EQ(en->detail, json({{"id", "fabric-api"}}));
  EXPECT_EQ(streamed_change("DELETE", "/mods/x", std::nullopt)->action, "mods.delete");
  // Reads and unknown operations are not changes.
  EXPECT_FALSE(streamed_change("GET", "/files/read", "a"));
  EXPECT_FALSE(streamed_change("PUT", "/files/read", "a"));
  EXPECT_FALSE(streamed_change("POST", "/mods", std::nullopt));
  EXPECT_FALSE(streamed_change("POST", "/files/a/b", "a"));
  EXPECT_EQ(streamed_change("PUT", "/files/write", std::string(5000, 'p'))
                ->detail["path"]
                .get<std::string>()
                .size(),
            1024u);
}

TEST(FileActivity, JsonOperations) {
  EXPECT_EQ(json_op_change("mkdir", R"({"path":"world/x"})").detail, json({{"path", "world/x"}}));
  EXPECT_EQ(json_op_change("rename", R"({"from":"a","to":"b"})").detail,
            json({{"path", "a"}, {"to", "b"}}));
  std::string many = R"({"paths":[)";
  for (int i = 0; i < 30; ++i) many += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  auto d = json_op_change("delete", many + "]}");
  EXPECT_EQ(d.action, "files.delete");
  EXPECT_EQ(d.detail["paths"].size(), 20u);
  EXPECT_EQ(d.detail["count"], 30);
  EXPECT_EQ(json_op_change("mkdir", "nope").detail, json::object());
}

}  // namespace
}  // namespace zlh::api::relay
