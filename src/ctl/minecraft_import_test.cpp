// The publishers' JSON shapes as minecraft_import reads them. The whole
// command against fakes of the APIs: tests/integration/minecraft_import_test.cpp.
#include "ctl/minecraft_import.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <set>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "ctl/catalog_cmd.hpp"
#include "ctl/keys.hpp"

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

// ---- the whole command through the HTTP seam ----------------------------------

std::string sha1_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha1(), nullptr);
  return crypto::hex_encode(std::string_view(reinterpret_cast<char*>(out), n));
}

// Serves fixed bodies by URL, in chunks of 7 bytes; anything else is 404.
class MapHttp : public HttpGet {
 public:
  std::map<std::string, std::string> bodies;
  int calls = 0;
  Result<void> get(const std::string& url, uint64_t max_bytes, std::chrono::seconds,
                   const ChunkSink& sink) override {
    ++calls;
    auto it = bodies.find(url);
    if (it == bodies.end()) return fail(codes::kNotFound, url + ": HTTP 404");
    if (it->second.size() > max_bytes) return fail(codes::kTooLarge, url + ": too large");
    for (size_t i = 0; i < it->second.size(); i += 7)
      if (auto r = sink(std::string_view(it->second).substr(i, 7)); !r) return r;
    return {};
  }
};

std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    out.insert(std::filesystem::relative(e.path(), dir).string());
  return out;
}

class ImportThroughSeam : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-mcimport-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ASSERT_TRUE(keygen(dir_ + "/keys", false));
    ASSERT_TRUE(catalog_init(dir_ + "/store", false, std::chrono::system_clock::now()));
    opt_.store = dir_ + "/store";
    opt_.key = dir_ + "/keys/catalog.key";
    opt_.variant = "vanilla";
    opt_.version = "1.21.4";
    opt_.mojang_url = "http://mojang.test";
    serve(jar_.size());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Manifest, version JSON and jar, the version JSON listing `listed_size`.
  void serve(size_t listed_size) {
    json v = {
        {"id", "1.21.4"},
        {"javaVersion", {{"majorVersion", 21}}},
        {"downloads",
         {{"server",
           {{"sha1", sha1_hex(jar_)}, {"size", listed_size}, {"url", "http://data.test/s"}}}}}};
    std::string vtext = v.dump();
    json m = {
        {"versions",
         {{{"id", "1.21.4"}, {"url", "http://meta.test/1.21.4.json"}, {"sha1", sha1_hex(vtext)}}}}};
    http_.bodies = {{"http://mojang.test/mc/game/version_manifest_v2.json", m.dump()},
                    {"http://meta.test/1.21.4.json", vtext},
                    {"http://data.test/s", jar_}};
  }

  std::string dir_;
  std::string jar_ = std::string(1000, 'j');
  ImportOptions opt_;
  MapHttp http_;
};

TEST_F(ImportThroughSeam, AddsSignsAndRepeatsAsANoOp) {
  auto r = import_minecraft(opt_, http_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->java, "21");
  EXPECT_EQ(r->size, 1000u);
  EXPECT_TRUE(r->verified);
  EXPECT_FALSE(r->unchanged);
  EXPECT_EQ(r->artifact, "games/minecraft/vanilla/1.21.4/minecraft_server.1.21.4.jar");
  auto v = catalog_validate(opt_.store, dir_ + "/keys/catalog.pub");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->signature, "ok");
  auto again = import_minecraft(opt_, http_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->unchanged);
}

TEST_F(ImportThroughSeam, ASizeOtherThanListedLeavesNothing) {
  auto before = tree(opt_.store);
  serve(1001);  // fewer bytes arrive than listed
  auto r = import_minecraft(opt_, http_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kHashMismatch);
  EXPECT_EQ(tree(opt_.store), before);
}

TEST_F(ImportThroughSeam, MoreBytesThanListedIsAMismatch) {
  auto before = tree(opt_.store);
  serve(500);
  auto r = import_minecraft(opt_, http_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kHashMismatch);
  EXPECT_NE(r.error().message.find("more than the 500 bytes"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(tree(opt_.store), before);
}

TEST_F(ImportThroughSeam, AJarOverTheCapLeavesNothing) {
  auto before = tree(opt_.store);
  opt_.max_jar_bytes = 999;
  auto r = import_minecraft(opt_, http_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kTooLarge);
  EXPECT_EQ(tree(opt_.store), before);
}

TEST_F(ImportThroughSeam, FlagsAreCheckedBeforeAnyRequest) {
  opt_.variant = "forge";
  EXPECT_EQ(import_minecraft(opt_, http_).error().code, codes::kInvalid);
  opt_.variant = "vanilla";
  opt_.version = "../1.21.4";
  EXPECT_EQ(import_minecraft(opt_, http_).error().code, codes::kInvalid);
  opt_.version = "1.21.4";
  opt_.key = dir_ + "/keys/missing.key";
  EXPECT_FALSE(import_minecraft(opt_, http_));
  EXPECT_EQ(http_.calls, 0);  // the checks came before any request
  http_.bodies.clear();
  opt_.key = dir_ + "/keys/catalog.key";
  EXPECT_EQ(import_minecraft(opt_, http_).error().code, codes::kNotFound);
  EXPECT_EQ(http_.calls, 1);
}

}  // namespace
}  // namespace zlh::ctl
