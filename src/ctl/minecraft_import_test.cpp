// The publishers' JSON shapes as minecraft_import reads them. The whole
// command against fakes of the APIs: tests/integration/minecraft_import_test.cpp.
#include "ctl/minecraft_import.hpp"

#include <gtest/gtest.h>

namespace zlh::ctl {
namespace {

using nlohmann::json;

const std::string kSha1(40, 'a');

TEST(MinecraftManifest, FindsTheVersionUrlAndSha1) {
  json m = {
      {"latest", {{"release", "1.21.4"}}},
      {"versions",
       {{{"id", "1.21.4"}, {"url", "https://x/1.21.4.json"}, {"sha1", "AB" + kSha1.substr(2)}},
        {{"id", "1.20.4"}, {"url", "https://x/1.20.4.json"}, {"sha1", kSha1}}}}};
  auto r = manifest_version(m, "1.21.4");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url, "https://x/1.21.4.json");
  EXPECT_EQ(r->sha1, "ab" + kSha1.substr(2));  // compared lowercase
  auto missing = manifest_version(m, "9.9");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, codes::kNotFound);
  EXPECT_EQ(manifest_version(json::object(), "1.21.4").error().code, codes::kUpstream);
  json bad = {{"versions", {{{"id", "1.21.4"}, {"url", "file:///etc/passwd"}, {"sha1", kSha1}}}}};
  EXPECT_EQ(manifest_version(bad, "1.21.4").error().code, codes::kUpstream);
}

TEST(MinecraftVersionJson, JavaMajorAndServerDownload) {
  json v = {
      {"id", "1.20.4"},
      {"javaVersion", {{"component", "java-runtime-gamma"}, {"majorVersion", 17}}},
      {"downloads", {{"server", {{"sha1", kSha1}, {"size", 42}, {"url", "https://x/s.jar"}}}}}};
  auto r = parse_mojang_version(v, "1.20.4");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->java, "17");
  EXPECT_EQ(r->server.url, "https://x/s.jar");
  EXPECT_EQ(r->server.algo, "sha1");
  EXPECT_EQ(r->server.size, 42u);
  EXPECT_EQ(r->server.file_name, "minecraft_server.1.20.4.jar");

  json old = {{"id", "1.6.4"}};  // no javaVersion, no server download
  auto o = parse_mojang_version(old, "1.6.4");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->java, "8");
  EXPECT_TRUE(o->server.url.empty());

  v["javaVersion"]["majorVersion"] = "21";
  EXPECT_EQ(parse_mojang_version(v, "1.20.4").error().code, codes::kUpstream);
  EXPECT_EQ(parse_mojang_version(old, "1.21.4").error().code, codes::kUpstream);  // id differs
}

TEST(PaperBuilds, LatestOfTheChannel) {
  auto build = [](int n, const char* channel) {
    return json{{"build", n},
                {"channel", channel},
                {"downloads",
                 {{"application",
                   {{"name", "paper-1.21.4-" + std::to_string(n) + ".jar"},
                    {"sha256", std::string(64, 'b')}}}}}};
  };
  json b = {{"builds", {build(3, "default"), build(7, "default"), build(9, "experimental")}}};
  auto r = pick_paper_build(b, "http://p/", "1.21.4", "default");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->file_name, "paper-1.21.4-7.jar");
  EXPECT_EQ(r->url,
            "http://p/v2/projects/paper/versions/1.21.4/builds/7/downloads/paper-1.21.4-7.jar");
  EXPECT_EQ(r->algo, "sha256");
  EXPECT_EQ(pick_paper_build(b, "http://p", "1.21.4", "experimental")->file_name,
            "paper-1.21.4-9.jar");
  json none = {{"builds", {build(9, "experimental")}}};
  EXPECT_EQ(pick_paper_build(none, "http://p", "1.21.4", "default").error().code, codes::kNotFound);
  json evil = {{"builds", {build(1, "default")}}};
  evil["builds"][0]["downloads"]["application"]["name"] = "../../catalog.json";
  EXPECT_EQ(pick_paper_build(evil, "http://p", "1.21.4", "default").error().code, codes::kUpstream);
}

TEST(PurpurApi, LatestBuildAndMd5) {
  json v = {{"project", "purpur"}, {"builds", {{"latest", "2400"}, {"all", {"2399", "2400"}}}}};
  EXPECT_EQ(purpur_latest_build(v).value(), "2400");
  EXPECT_FALSE(purpur_latest_build(json{{"builds", {{"latest", "../x"}}}}));
  json b = {{"build", "2400"}, {"result", "SUCCESS"}, {"md5", std::string(32, 'c')}};
  auto r = purpur_build_jar(b, "http://u", "1.21.4", "2400");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url, "http://u/v2/purpur/1.21.4/2400/download");
  EXPECT_EQ(r->algo, "md5");
  b["result"] = "FAILURE";
  EXPECT_EQ(purpur_build_jar(b, "http://u", "1.21.4", "2400").error().code, codes::kNotFound);
}

TEST(FabricMeta, FirstStableLoaderAndInstaller) {
  json loaders = {{{"loader", {{"version", "0.17.0-beta"}, {"stable", false}}}},
                  {{"loader", {{"version", "0.16.9"}, {"stable", true}}}}};
  json installers = {{{"version", "1.1.0"}, {"stable", true}}, {{"version", "1.0.1"}}};
  auto r = pick_fabric(loaders, installers, "http://f", "1.21.4");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url, "http://f/v2/versions/loader/1.21.4/0.16.9/1.1.0/server/jar");
  EXPECT_TRUE(r->algo.empty());  // Fabric lists no hash
  EXPECT_EQ(pick_fabric(json::array(), installers, "http://f", "1.21.4").error().code,
            codes::kNotFound);
}

TEST(MinecraftBackupBlock, IsTheContractsBlock) {
  EXPECT_EQ(minecraft_backup_block().dump(),
            R"({"pause":["save-off","save-all flush"],"saved":"Saved the game",)"
            R"("resume":["save-on"],"timeout_s":120})");
}

}  // namespace
}  // namespace zlh::ctl
