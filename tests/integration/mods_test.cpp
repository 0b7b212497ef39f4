// Mods through the real agent (docs/design.md §9): a paper server (stand-in jar
// from tests/fixtures/minecraft, store from the game_store fixture) gets
// plugins installed from the artifact server (sha256 verified) and by
// upload, disabled, enabled and deleted; `restart_required` follows the
// running server; vanilla has no mods.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <climits>
#include <nlohmann/json.hpp>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kVmid = 5002;

std::string game_store() {
  const char* d = std::getenv("ZLH_GAME_STORE");
  std::string dir = d ? d : "build/game-store";
  char buf[PATH_MAX];
  return realpath(dir.c_str(), buf) ? std::string(buf) : dir;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// A small but real jar-shaped file (zip magic), different per `seed`.
std::string fake_jar(const std::string& seed) { return "PK\x03\x04 zlh test mod " + seed + "\n"; }

class ModsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = game_store() + "/store";
    keys_ = game_store() + "/keys";
    ASSERT_TRUE(exists(store_ + "/catalog.json.sig"))
        << "run the game_store fixture first (ctest -R game)";
    dir_ = make_temp_dir("mods");
    root_ = dir_ + "/root";
    server_ = root_ + "/opt/zlh/server";
    ASSERT_TRUE(fs::make_dirs(root_));
    agent_ = std::make_unique<AgentProcess>(
        root_,
        std::vector<std::string>{"--vmid", std::to_string(kVmid), "--api-key", keys_ + "/api.pub",
                                 "--dev-user", "-", "--artifacts", "file://" + store_,
                                 "--catalog-key", keys_ + "/catalog.pub"});
    ASSERT_TRUE(agent_->wait_healthy());
    host_ = agent_->url("").substr(7);
    host_ = host_.substr(0, host_.find(':'));
    // Mod artifacts on the artifact server: not in the catalog, named by
    // the request and verified by their sha256. A directory of its own so
    // parallel runs do not meet.
    mod_dir_rel_ = "mods-test/" + crypto::random_hex(6);
    ASSERT_TRUE(fs::make_dirs(store_ + "/" + mod_dir_rel_));
    ASSERT_TRUE(fs::write_file_atomic(store_ + "/" + mod_dir_rel_ + "/worldedit.jar",
                                      fake_jar("worldedit")));
  }
  void TearDown() override {
    agent_.reset();
    kill_services(root_);
    run_command({"/bin/rm", "-rf", store_ + "/" + mod_dir_rel_});
    remove_unless_failed(dir_);
  }
  http::ClientResponse call(const std::string& m, const std::string& p,
                            const std::string& body = "", http::Headers extra = {}) {
    http::Headers h = bearer_from(keys_, kVmid, m, p);
    for (auto& [k, v] : extra.items()) h.add(k, v);
    auto r = http::request(m, agent_->url(p), h, body, 3min);
    EXPECT_TRUE(r) << m << " " << p << ": " << (r ? "" : r.error().message);
    return r ? *r : http::ClientResponse{};
  }
  json status() { return json::parse(call("GET", "/status").body, nullptr, false); }
  void provision(const std::string& variant) {
    json p = {{"vmid", kVmid},       {"container_type", "game"},
              {"game", "minecraft"}, {"variant", variant},
              {"version", "1.21.4"}, {"world", "world"},
              {"memory_mb", 512},    {"ports", {{"game", 25565}}},
              {"eula", true},        {"properties", {{"server-ip", host_}}}};
    auto r = call("POST", "/config", p.dump());
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_TRUE(eventually([&] { return status()["state"] == "running"; }, 180s))
        << status().dump();
  }
  // GET /mods: the array, plus the two X-ZLH-* headers folded in for the checks.
  json mods() {
    auto r = call("GET", "/mods");
    EXPECT_EQ(r.status, 200) << r.body;
    auto arr = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(arr.is_array()) << r.body;
    return {{"mods", arr},
            {"mods_dir", std::string(r.headers.get("X-ZLH-Mods-Dir").value_or(""))},
            {"restart_required",
             r.headers.get("X-ZLH-Restart-Required") == std::optional<std::string_view>("true")}};
  }
  std::string multipart(const std::string& name, const std::string& data) {
    return "--B0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
           "\"\r\nContent-Type: application/java-archive\r\n\r\n" + data + "\r\n--B0und--\r\n";
  }
  http::Headers mp() {
    http::Headers h;
    h.add("Content-Type", "multipart/form-data; boundary=B0und");
    return h;
  }

  std::string dir_, keys_, store_, root_, server_, host_, mod_dir_rel_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ModsTest, InstallDisableEnableDeleteWithRestartRequired) {
  provision("paper");
  auto m = mods();
  EXPECT_EQ(m["mods_dir"], "plugins");
  EXPECT_EQ(m["mods"].size(), 0u) << m.dump();

  // From the artifact server, verified.
  std::string jar = fake_jar("worldedit");
  std::string sha = crypto::sha256_hex(jar);
  std::string artifact = mod_dir_rel_ + "/worldedit.jar";
  auto bad = call("POST", "/mods/install",
                  json{{"artifact", artifact}, {"sha256", std::string(64, 'a')}}.dump());
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(json::parse(bad.body)["error"]["code"], "E_HASH_MISMATCH");
  EXPECT_FALSE(exists(server_ + "/plugins/worldedit.jar"));
  auto traversal =
      call("POST", "/mods/install", json{{"artifact", "../keys/api.key"}, {"sha256", sha}}.dump());
  EXPECT_EQ(traversal.status, 400) << traversal.body;

  auto in = call("POST", "/mods/install", json{{"artifact", artifact}, {"sha256", sha}}.dump());
  ASSERT_EQ(in.status, 200) << in.body;
  auto ij = json::parse(in.body);
  EXPECT_EQ(ij["id"], "worldedit");
  EXPECT_EQ(ij["restart_required"], true);  // the server is running
  EXPECT_EQ(fs::read_file(server_ + "/plugins/worldedit.jar", 1 << 20).value_or(""), jar);

  // By upload: .jar only.
  std::string up = fake_jar("essentials");
  auto u = call("POST", "/mods/install", multipart("essentials.jar", up), mp());
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(json::parse(u.body)["restart_required"], true);
  auto notjar = call("POST", "/mods/install", multipart("evil.sh", "#!/bin/sh\n"), mp());
  EXPECT_EQ(notjar.status, 400) << notjar.body;
  EXPECT_FALSE(exists(server_ + "/plugins/evil.sh"));
  auto escape = call("POST", "/mods/install", multipart("../../escape.jar", up), mp());
  EXPECT_EQ(escape.status, 400) << escape.body;
  EXPECT_FALSE(exists(root_ + "/opt/zlh/escape.jar"));

  m = mods();
  ASSERT_EQ(m["mods"].size(), 2u) << m.dump();
  EXPECT_EQ(m["restart_required"], true);
  EXPECT_EQ(m["mods"][0]["id"], "essentials");
  EXPECT_EQ(m["mods"][0]["enabled"], true);
  EXPECT_EQ(m["mods"][0]["sha256"], crypto::sha256_hex(up));
  EXPECT_EQ(m["mods"][0]["size"], up.size());
  EXPECT_EQ(m["mods"][1]["id"], "worldedit");
  EXPECT_EQ(m["mods"][1]["file"], "plugins/worldedit.jar");
  EXPECT_EQ(m["mods"][1]["sha256"], sha);

  // Disable moves it to plugins-disabled; enable moves it back.
  auto d = call("POST", "/mods/worldedit/disable");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_FALSE(exists(server_ + "/plugins/worldedit.jar"));
  EXPECT_TRUE(exists(server_ + "/plugins-disabled/worldedit.jar"));
  m = mods();
  EXPECT_EQ(m["mods"][1]["enabled"], false);
  EXPECT_EQ(m["mods"][1]["file"], "plugins-disabled/worldedit.jar");
  EXPECT_EQ(call("POST", "/mods/worldedit/enable").status, 200);
  EXPECT_TRUE(exists(server_ + "/plugins/worldedit.jar"));
  EXPECT_FALSE(exists(server_ + "/plugins-disabled/worldedit.jar"));

  // Restart: the server loads the plugins, and nothing is pending any more.
  auto rs = call("POST", "/restart");
  ASSERT_EQ(rs.status, 200) << rs.body;
  ASSERT_TRUE(eventually([&] { return mods()["restart_required"] == false; }, 60s))
      << mods().dump();

  // Delete.
  auto del = call("DELETE", "/mods/essentials");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_FALSE(exists(server_ + "/plugins/essentials.jar"));
  EXPECT_EQ(call("DELETE", "/mods/essentials").status, 404);
  EXPECT_EQ(call("POST", "/mods/nope/enable").status, 404);
  // Ids never leave the mods directories.
  auto t = call("DELETE", "/mods/..%2F..%2Fserver.properties");
  EXPECT_EQ(t.status, 400) << t.body;
  EXPECT_EQ(json::parse(t.body)["error"]["code"], "E_BADPATH");
  EXPECT_TRUE(exists(server_ + "/server.properties"));
  EXPECT_EQ(mods()["mods"].size(), 1u);
}

TEST_F(ModsTest, VanillaHasNoMods) {
  provision("vanilla");
  auto r = call("GET", "/mods");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "E_INVALID");
  auto i = call("POST", "/mods/install", multipart("x.jar", fake_jar("x")), mp());
  EXPECT_EQ(i.status, 400) << i.body;
  EXPECT_FALSE(exists(server_ + "/mods/x.jar"));
}

}  // namespace
}  // namespace zlh::testing
