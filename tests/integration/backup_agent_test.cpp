// Backups through the real agent and the Minecraft stand-in (issue 23,
// docs/backups.md): GET /backups/archive of a running server pauses its
// saves around the archive (the stand-in logs the commands it receives in
// commands.log), PUT /backups/restore is refused while it runs and
// replaces the files atomically once it is stopped, and a bad archive
// leaves the old files. The store is the game_store fixture, whose
// entries carry the backup block.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fs.hpp"
#include "harness.hpp"
#include "stream_client.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kVmid = 5023;
constexpr int kGamePort = 25623;

std::string game_store() {
  const char* d = std::getenv("ZLH_GAME_STORE");
  std::string dir = d ? d : "build/game-store";
  char buf[PATH_MAX];
  return realpath(dir.c_str(), buf) ? std::string(buf) : dir;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class BackupAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = game_store() + "/store";
    keys_ = game_store() + "/keys";
    ASSERT_TRUE(exists(store_ + "/catalog.json.sig"))
        << "run the game_store fixture first (ctest -R game)";
    dir_ = make_temp_dir("backup-agent");
    root_ = dir_ + "/root";
    server_ = root_ + "/opt/zlh/server";
    ASSERT_TRUE(fs::make_dirs(root_));
    agent_ = std::make_unique<AgentProcess>(
        root_,
        std::vector<std::string>{"--vmid", std::to_string(kVmid), "--api-key", keys_ + "/api.pub",
                                 "--dev-user", "-", "--artifacts", "file://" + store_,
                                 "--catalog-key", keys_ + "/catalog.pub"});
    ASSERT_TRUE(agent_->wait_healthy());
  }
  void TearDown() override {
    agent_.reset();
    kill_services(root_);
    remove_unless_failed(dir_);
  }
  http::ClientResponse call(const std::string& m, const std::string& p,
                            const std::string& body = "") {
    auto r = http::request(m, agent_->url(p), bearer_from(keys_, kVmid, m, p), body, 3min);
    EXPECT_TRUE(r) << m << " " << p << ": " << r.error().message;
    return r ? *r : http::ClientResponse{};
  }
  std::string workload_state() {
    auto st = json::parse(call("GET", "/status").body, nullptr, false);
    if (st.is_discarded()) return "";
    for (auto& s : st["services"])
      if (s["name"] == "workload") return s["state"];
    return "";
  }
  void provision(json props = json::object()) {
    props["server-ip"] = "127.0.0.1";
    json p = {{"vmid", kVmid},       {"container_type", "game"},
              {"game", "minecraft"}, {"variant", "vanilla"},
              {"version", "1.21.4"}, {"world", "world"},
              {"memory_mb", 512},    {"ports", {{"game", kGamePort}}},
              {"eula", true},        {"properties", props}};
    auto r = call("POST", "/config", p.dump());
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_TRUE(eventually([&] { return workload_state() == "running"; }, 180s))
        << call("GET", "/status").body;
  }
  // Unpacks a tar.zst with the reference tools into a fresh directory.
  std::string unpack(const std::string& bytes, const std::string& name) {
    const std::string file = dir_ + "/" + name + ".tar.zst";
    const std::string out = dir_ + "/" + name;
    EXPECT_TRUE(fs::write_file_atomic(file, bytes, 0600));
    EXPECT_TRUE(fs::make_dirs(out));
    EXPECT_EQ(std::system(("tar --zstd -xf " + file + " -C " + out).c_str()), 0);
    return out;
  }
  std::vector<std::string> commands() { return lines(slurp(server_ + "/commands.log")); }

  std::string store_, keys_, dir_, root_, server_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(BackupAgentTest, ArchivePausesSavesRestoreSwapsAndBadArchivesChangeNothing) {
  provision();
  ASSERT_FALSE(exists(server_ + "/world/level.dat"));  // the stand-in saves only when told

  // 1. The archive of the running server, taken between save-off/save-all
  //    and save-on: its own copy of commands.log ends before save-on.
  auto a = call("GET", "/backups/archive");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.headers.get("Content-Type"), "application/zstd");
  EXPECT_EQ(a.headers.get("X-Zlh-Archive"), "tar.zst");
  EXPECT_EQ(a.headers.get("X-Zlh-Consistency"), "paused");
  const std::string backup = a.body;
  const std::string got = unpack(backup, "first");
  EXPECT_EQ(lines(slurp(got + "/commands.log")),
            (std::vector<std::string>{"save-off", "save-all flush"}));
  EXPECT_EQ(slurp(got + "/world/level.dat").substr(0, 8), "saves=1\n");  // written by save-all
  EXPECT_TRUE(exists(got + "/server.properties"));
  EXPECT_FALSE(exists(got + "/server"));  // entries relative to the root
  ASSERT_TRUE(eventually([&] { return commands().size() == 3; }, 10s));
  EXPECT_EQ(commands(), (std::vector<std::string>{"save-off", "save-all flush", "save-on"}));
  EXPECT_EQ(workload_state(), "running");

  // 2. Console commands; no restore while it runs.
  auto c = call("POST", "/console/command", R"({"command":"say backup done"})");
  EXPECT_EQ(c.status, 204) << c.body;
  EXPECT_TRUE(eventually([&] { return commands().size() == 4; }, 10s));
  EXPECT_EQ(commands().back(), "say backup done");
  EXPECT_EQ(call("POST", "/console/command", R"({"command":"say a\nstop"})").status, 400);
  auto busy = call("PUT", "/backups/restore", backup);
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_NE(busy.body.find("E_CONFLICT"), std::string::npos);
  EXPECT_EQ(workload_state(), "running");

  // 3. Stop (the stand-in saves again: saves=2), add a file, restore.
  ASSERT_EQ(call("POST", "/stop").status, 200);
  EXPECT_EQ(slurp(server_ + "/world/level.dat").substr(0, 8), "saves=2\n");
  ASSERT_TRUE(fs::write_file_atomic(server_ + "/world/later.txt", "later", 0644));
  EXPECT_EQ(call("POST", "/console/command", R"({"command":"list"})").status, 409);
  auto r = call("PUT", "/backups/restore", backup);
  ASSERT_EQ(r.status, 200) << r.body;
  auto rj = json::parse(r.body);
  EXPECT_EQ(rj["restored"], true);
  EXPECT_GT(rj["entries"].get<int>(), 3);
  EXPECT_GT(rj["bytes"].get<int>(), 0);
  EXPECT_EQ(slurp(server_ + "/world/level.dat").substr(0, 8), "saves=1\n");
  EXPECT_FALSE(exists(server_ + "/world/later.txt"));
  EXPECT_EQ(commands(), (std::vector<std::string>{"save-off", "save-all flush"}));

  // 4. Archives that fail midway (cut short, or corrupt) change nothing.
  ASSERT_TRUE(fs::write_file_atomic(server_ + "/marker.txt", "still here", 0644));
  for (const std::string& bad :
       {backup.substr(0, backup.size() / 2), backup.substr(0, 100) + std::string(4096, 'x')}) {
    auto f = call("PUT", "/backups/restore", bad);
    EXPECT_EQ(f.status, 422) << f.body;
    EXPECT_NE(f.body.find("E_BAD_ARCHIVE"), std::string::npos) << f.body;
    EXPECT_EQ(slurp(server_ + "/marker.txt"), "still here");
    EXPECT_EQ(slurp(server_ + "/world/level.dat").substr(0, 8), "saves=1\n");
  }
  // No staging or replaced tree is left beside the root.
  std::vector<std::string> beside;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/opt/zlh"))
    if (e.path().filename().string().starts_with(".server")) beside.push_back(e.path());
  EXPECT_TRUE(beside.empty()) << beside[0];

  // 5. The restored server starts; an archive of a stopped one is not paused.
  ASSERT_EQ(call("POST", "/start").status, 200);
  EXPECT_TRUE(eventually([&] { return workload_state() == "running"; }, 60s));
  ASSERT_EQ(call("POST", "/stop").status, 200);
  auto s = call("GET", "/backups/archive");
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.headers.get("X-Zlh-Consistency"), "not-paused");
  EXPECT_EQ(slurp(unpack(s.body, "stopped") + "/marker.txt"), "still here");
}

// The client goes away in the middle of the archive: the saves are resumed
// all the same, and the server keeps running.
TEST_F(BackupAgentTest, ClientGoneMidArchiveStillResumes) {
  provision();
  std::string big(48 << 20, '\0');  // incompressible: the stream outlasts the socket buffers
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < big.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(&big[i], &x, 8);
  }
  ASSERT_TRUE(fs::write_file_atomic(server_ + "/world-big.bin", big, 0644));
  {
    auto req =
        http::StreamingRequest::open("GET", agent_->url("/backups/archive"),
                                     bearer_from(keys_, kVmid, "GET", "/backups/archive"), {});
    ASSERT_TRUE(req) << req.error().to_string();
    auto head = (*req)->read_head(30s);
    ASSERT_TRUE(head) << head.error().to_string();
    ASSERT_EQ(head->status, 200);
    char buf[65536];
    ASSERT_TRUE((*req)->read(buf, sizeof buf));
    EXPECT_EQ(commands(), (std::vector<std::string>{"save-off", "save-all flush"}));
  }  // gone, the archive unfinished
  EXPECT_TRUE(eventually([&] { return commands().size() == 3; }, 20s)) << commands().size();
  EXPECT_EQ(commands().back(), "save-on");
  EXPECT_EQ(workload_state(), "running");
}

// A save that does not finish within the block's timeout_s: E_TIMEOUT
// before any archive byte, and the saves are resumed.
TEST_F(BackupAgentTest, SaveTimeoutIsETimeoutAndStillResumes) {
  provision({{"zlh-standin-save-delay-ms", 4000}});
  // The record is what the agent reads at backup time: a 1 s timeout.
  const std::string record = root_ + "/opt/zlh-agent/state/game.json";
  auto rec = json::parse(slurp(record));
  ASSERT_TRUE(rec["backup"].is_object()) << rec.dump();
  rec["backup"]["timeout_s"] = 1;
  ASSERT_TRUE(fs::write_file_atomic(record, rec.dump(), 0600));
  auto a = call("GET", "/backups/archive");
  EXPECT_EQ(a.status, 504) << a.body;
  EXPECT_NE(a.body.find("E_TIMEOUT"), std::string::npos) << a.body;
  EXPECT_TRUE(eventually([&] { return commands().size() == 3; }, 20s));
  EXPECT_EQ(commands(), (std::vector<std::string>{"save-off", "save-all flush", "save-on"}));
  EXPECT_EQ(workload_state(), "running");
}

}  // namespace
}  // namespace zlh::testing
