// `zlhctl catalog import minecraft` (the real binary) against
// tests/fixtures/fake_minecraft_apis.py on 127.0.0.1: Mojang's manifest and
// version JSON, PaperMC, Purpur and Fabric meta in their documented shapes.
// Nothing here reaches the internet.
#include "ctl/minecraft_import.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "base/fs.hpp"
#include "base/process.hpp"
#include "fixture_process.hpp"
#include "harness.hpp"
#include "http/client.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string fake_script() {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/fake_minecraft_apis.py";
}

// Every path below `dir`, relative to it (directories end in "/").
std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    std::string rel = std::filesystem::relative(e.path(), dir).string();
    out.insert(e.is_directory() ? rel + "/" : rel);
  }
  return out;
}

class MinecraftImport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv("no_proxy", "127.0.0.1", 1);  // loopback only, whatever the machine's proxy
    work_ = make_temp_dir("mcimport");
    auto k = zlhctl({"keygen", "--out", work_ + "/keys"});
    ASSERT_EQ(k.exit_code, 0) << k.err;
    std::string port_file = work_ + "/fake.port", log_path = work_ + "/fake.log";
    process::SpawnOptions so;
    so.argv = {"python3", "-u", fake_script(), "--port", "0", "--port-file", port_file};
    so.env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    so.stdout_fd = log;
    so.stderr_fd = log;
    auto pid = process::spawn(so);
    if (log >= 0) ::close(log);
    ASSERT_TRUE(pid) << pid.error().message;
    pid_ = *pid;
    auto port = wait_port_file(pid_, port_file, "fake_minecraft_apis.py", log_path);
    ASSERT_TRUE(port) << port.error().message;
    base_ = "http://127.0.0.1:" + *port;
  }
  static void TearDownTestSuite() {
    stop_child(pid_, 5s);
    pid_ = -1;
    remove_unless_failed(work_);
  }

  void SetUp() override {
    ASSERT_FALSE(base_.empty()) << "the fake APIs did not start";
    post("/_fake/reset");
    store_ = work_ + "/store-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(store_);
    auto r = zlhctl({"catalog", "init", "--store", store_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(store_);
  }

  static void post(const std::string& path) {
    auto r = http::request("POST", base_ + path, {}, "", 5s);
    ASSERT_TRUE(r && r->status == 204) << path;
  }

  CommandResult import(const std::string& variant, const std::string& version,
                       std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"catalog",
                                     "import",
                                     "minecraft",
                                     "--store",
                                     store_,
                                     "--key",
                                     work_ + "/keys/catalog.key",
                                     "--variant",
                                     variant,
                                     "--version",
                                     version,
                                     "--mojang-url",
                                     base_,
                                     "--paper-url",
                                     base_,
                                     "--purpur-url",
                                     base_,
                                     "--fabric-url",
                                     base_};
    args.insert(args.end(), extra.begin(), extra.end());
    return zlhctl(args);
  }

  json catalog() const {
    auto text = fs::read_file(store_ + "/catalog.json");
    return text ? json::parse(*text, nullptr, false) : json();
  }
  // games[minecraft].variants[variant].versions[version], or null.
  json entry(const std::string& variant, const std::string& version) const {
    for (const auto& g : catalog().value("games", json::array()))
      for (const auto& v : g.value("variants", json::array()))
        if (g["id"] == "minecraft" && v["id"] == variant)
          for (const auto& e : v["versions"])
            if (e["version"] == version) return e;
    return nullptr;
  }
  json variant(const std::string& id) const {
    for (const auto& g : catalog().value("games", json::array()))
      for (const auto& v : g.value("variants", json::array()))
        if (v["id"] == id) return v;
    return nullptr;
  }
  // catalog validate with the public key: artifacts and signature.
  void expect_valid_and_signed() {
    auto v =
        zlhctl({"catalog", "validate", "--store", store_, "--key", work_ + "/keys/catalog.pub"});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("signature: ok"), std::string::npos) << v.out;
  }
  // A refused import: the code in the output and the store as it was.
  void expect_refused(const CommandResult& r, const std::set<std::string>& before,
                      const std::string& catalog_before, const char* code = "E_HASH_MISMATCH") {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(code), std::string::npos) << r.err;
    EXPECT_EQ(tree(store_), before);
    EXPECT_EQ(fs::read_file(store_ + "/catalog.json").value_or(""), catalog_before);
  }

  static inline std::string work_, base_;
  static inline pid_t pid_ = -1;
  std::string store_;
};

TEST_F(MinecraftImport, VanillaTakesJavaFromTheVersionJson) {
  for (auto [version, java] : {std::pair{"1.21.4", "21"}, {"1.20.4", "17"}, {"1.20.5", "21"}}) {
    auto r = import("vanilla", version);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("java " + std::string(java)), std::string::npos) << r.out;
    json e = entry("vanilla", version);
    ASSERT_TRUE(e.is_object()) << catalog().dump(2);
    EXPECT_EQ(e["java"], java) << version;
    EXPECT_EQ(e["channel"], "stable");
    EXPECT_EQ(e["kind"], "jar");
    EXPECT_EQ(e["ready"], "Done \\(");
    EXPECT_EQ(e["stop"], (json{{"type", "command"}, {"value", "stop"}}));
    EXPECT_EQ(e["backup"], json::parse(R"({"pause":["save-off","save-all flush"],
        "saved":"Saved the game","resume":["save-on"],"timeout_s":120})"));
    EXPECT_EQ(e["artifact"], "games/minecraft/vanilla/" + std::string(version) +
                                 "/minecraft_server." + version + ".jar");
  }
  EXPECT_FALSE(variant("vanilla").contains("mods_dir"));
  expect_valid_and_signed();
}

TEST_F(MinecraftImport, SameVersionTwiceIsANoOp) {
  auto first = import("vanilla", "1.21.4", {"--channel", "beta"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  auto again = import("vanilla", "1.21.4", {"--channel", "beta"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing changed"), std::string::npos) << again.out;
  EXPECT_EQ(tree(store_), before);
  EXPECT_EQ(fs::read_file(store_ + "/catalog.json").value_or(""), text);
  EXPECT_EQ(entry("vanilla", "1.21.4")["channel"], "beta");
  expect_valid_and_signed();
}

TEST_F(MinecraftImport, VanillaJarSha1MismatchLeavesNothing) {
  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  post("/_fake/corrupt?target=vanilla-jar");
  auto r = import("vanilla", "1.21.4");
  expect_refused(r, before, text);
  EXPECT_NE(r.err.find("sha1"), std::string::npos) << r.err;
}

TEST_F(MinecraftImport, VersionJsonSha1MismatchIsRefused) {
  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  post("/_fake/corrupt?target=version-json");
  auto r = import("vanilla", "1.20.4");
  expect_refused(r, before, text);
  EXPECT_NE(r.err.find("version JSON"), std::string::npos) << r.err;
  // Every variant takes its java from that JSON, so paper is refused too.
  expect_refused(import("paper", "1.20.4"), before, text);
}

TEST_F(MinecraftImport, UnknownVersionIsNotFound) {
  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  expect_refused(import("vanilla", "1.99.9"), before, text, "E_NOT_FOUND");
  // Mojang knows 1.20.5, the fake PaperMC does not.
  expect_refused(import("paper", "1.20.5"), before, text, "E_NOT_FOUND");
}

TEST_F(MinecraftImport, PaperLatestBuildOfTheChannelAndSha256) {
  auto r = import("paper", "1.21.4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json e = entry("paper", "1.21.4");
  EXPECT_EQ(e["artifact"], "games/minecraft/paper/1.21.4/paper-1.21.4-12.jar");  // not 15
  EXPECT_EQ(e["java"], "21");
  EXPECT_EQ(variant("paper")["mods_dir"], "plugins");
  expect_valid_and_signed();

  // The experimental build is another jar for the same version: refused.
  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  auto exp = import("paper", "1.21.4", {"--paper-channel", "experimental"});
  expect_refused(exp, before, text);
  EXPECT_NE(exp.err.find("already in the catalog"), std::string::npos) << exp.err;

  post("/_fake/corrupt?target=paper-jar");
  auto bad = import("paper", "1.20.4");
  expect_refused(bad, before, text);
  EXPECT_NE(bad.err.find("sha256"), std::string::npos) << bad.err;
  expect_valid_and_signed();
}

TEST_F(MinecraftImport, PurpurMd5IsChecked) {
  auto r = import("purpur", "1.20.4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json e = entry("purpur", "1.20.4");
  EXPECT_EQ(e["artifact"], "games/minecraft/purpur/1.20.4/purpur-1.20.4-2176.jar");
  EXPECT_EQ(e["java"], "17");
  EXPECT_NE(r.out.find("md5"), std::string::npos) << r.out;

  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  post("/_fake/corrupt?target=purpur-jar");
  auto bad = import("purpur", "1.21.4");
  expect_refused(bad, before, text);
  EXPECT_NE(bad.err.find("md5"), std::string::npos) << bad.err;
  expect_valid_and_signed();
}

TEST_F(MinecraftImport, FabricIsTrustedOnFirstUse) {
  auto r = import("fabric", "1.21.4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("trust on first use"), std::string::npos) << r.err;
  json e = entry("fabric", "1.21.4");
  EXPECT_EQ(
      e["artifact"],
      "games/minecraft/fabric/1.21.4/fabric-server-mc.1.21.4-loader.0.16.9-launcher.1.1.0.jar");
  EXPECT_EQ(e["java"], "21");
  EXPECT_EQ(variant("fabric")["mods_dir"], "mods");
  expect_valid_and_signed();

  auto again = import("fabric", "1.21.4");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing changed"), std::string::npos) << again.out;

  // Later bytes that differ from the first download are refused.
  auto before = tree(store_);
  auto text = fs::read_file(store_ + "/catalog.json").value_or("");
  post("/_fake/corrupt?target=fabric-jar");
  expect_refused(import("fabric", "1.21.4"), before, text);
  expect_valid_and_signed();
}

TEST_F(MinecraftImport, BaseUrlsAndUserAgentComeFromTheEnvironment) {
  const std::string agent = "zlh-test/1 (https://example.invalid; ops@example.invalid)";
  for (const char* var : {"ZLH_MOJANG_URL", "ZLH_PAPER_URL"}) ::setenv(var, base_.c_str(), 1);
  ::setenv("ZLH_IMPORT_USER_AGENT", agent.c_str(), 1);
  auto r = zlhctl({"catalog", "import", "minecraft", "--store", store_, "--key",
                   work_ + "/keys/catalog.key", "--variant", "paper", "--version", "1.20.4"});
  for (const char* var : {"ZLH_MOJANG_URL", "ZLH_PAPER_URL", "ZLH_IMPORT_USER_AGENT"})
    ::unsetenv(var);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(entry("paper", "1.20.4")["java"], "17");
  expect_valid_and_signed();
  auto seen = http::request("GET", base_ + "/_fake/requests", {}, {}, 5s);
  ASSERT_TRUE(seen && seen->status == 200);
  json last = json::parse(seen->body, nullptr, false).back();
  EXPECT_EQ(last["path"], "/fill-data/paper-1.20.4-497.jar");
  EXPECT_EQ(last["user_agent"], agent);
}

// The transfer itself (libcurl): caps, statuses, redirects, deadlines.
TEST_F(MinecraftImport, DownloadsAreCappedAndTimed) {
  ctl::CurlGet http;
  std::string body;
  auto sink = [&](std::string_view c) -> Result<void> {
    body.append(c);
    return {};
  };
  auto manifest = base_ + "/mc/game/version_manifest_v2.json";
  ASSERT_TRUE(http.get(manifest, 1 << 20, 10s, sink));
  EXPECT_NE(body.find("1.20.5"), std::string::npos);
  auto capped = http.get(manifest, 100, 10s, sink);
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error().code, codes::kTooLarge);
  auto missing = http.get(base_ + "/v2/purpur/0.0.1", 1 << 20, 10s, sink);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, codes::kNotFound);
  body.clear();  // PaperMC's download answers 302; the jar is at the target
  ASSERT_TRUE(http.get(base_ + "/v2/projects/paper/versions/1.21.4/builds/12/downloads/"
                               "paper-1.21.4-12.jar",
                       1 << 20, 10s, sink));
  EXPECT_NE(body.find("paper-1.21.4-12.jar"), std::string::npos);
  auto start = std::chrono::steady_clock::now();
  auto stalled = http.get(base_ + "/_fake/stall?seconds=5", 1 << 20, 1s, sink);
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code, codes::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  auto refused = http.get("file:///etc/passwd", 1 << 20, 1s, sink);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, codes::kInvalid);
}

}  // namespace
}  // namespace zlh::testing
