// Minecraft game servers through the real agent (docs/design.md §9): the
// stand-in server and installer built from tests/fixtures/minecraft, a
// catalog "java" runtime packed from the host JDK (twice: as its own
// version and as 21.0.99-test), installed, configured, supervised,
// stopped gracefully and reattached. The store is the game_store fixture
// (game_store.sh).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <nlohmann/json.hpp>

#include "base/fs.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kVmid = 5001;
constexpr int kGamePort = 25565;

std::string game_store() {
  const char* d = std::getenv("ZLH_GAME_STORE");
  std::string dir = d ? d : "build/game-store";
  char buf[PATH_MAX];  // absolute: it becomes a file:// URL
  return realpath(dir.c_str(), buf) ? std::string(buf) : dir;
}

bool tcp_accepts(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

int64_t mtime_ns(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

class GameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = game_store() + "/store";
    keys_ = game_store() + "/keys";
    ASSERT_TRUE(exists(store_ + "/catalog.json.sig"))
        << "run the game_store fixture first (ctest -R game)";
    dir_ = make_temp_dir("game");
    root_ = dir_ + "/root";
    server_ = root_ + "/opt/zlh/server";
    ASSERT_TRUE(fs::make_dirs(root_));
    start_agent();
    host_ = agent_->url("").substr(7);
    host_ = host_.substr(0, host_.find(':'));
  }
  void TearDown() override {
    // The game server belongs to the container; end it with the test.
    agent_.reset();
    kill_services(root_);
    remove_unless_failed(dir_);
  }
  void start_agent(const std::string& dev_user = "-") {
    agent_ = std::make_unique<AgentProcess>(
        root_,
        std::vector<std::string>{"--vmid", std::to_string(kVmid), "--api-key", keys_ + "/api.pub",
                                 "--dev-user", dev_user, "--artifacts", "file://" + store_,
                                 "--catalog-key", keys_ + "/catalog.pub"});
    ASSERT_TRUE(agent_->wait_healthy());
  }
  http::Headers auth(const std::string& m, const std::string& t) {
    return bearer_from(keys_, kVmid, m, t);
  }
  http::ClientResponse call(const std::string& m, const std::string& p,
                            const std::string& body = "") {
    auto r = http::request(m, agent_->url(p), auth(m, p), body, 3min);
    EXPECT_TRUE(r) << m << " " << p << ": " << r.error().message;
    return r ? *r : http::ClientResponse{};
  }
  json status() {
    auto b = json::parse(call("GET", "/status").body, nullptr, false);
    return b.is_discarded() ? json::object() : b;
  }
  json service(const std::string& name = "workload") {
    json st = status();
    for (auto& s : st["services"])
      if (s["name"] == name) return s;
    return nullptr;
  }
  json payload(const std::string& variant, const std::string& version, json props = json::object(),
               int memory_mb = 512, const std::string& world = "world") {
    props["server-ip"] = host_;  // the container's own address, like the local driver gives it
    return {{"vmid", kVmid},          {"container_type", "game"},
            {"game", "minecraft"},    {"variant", variant},
            {"version", version},     {"world", world},
            {"memory_mb", memory_mb}, {"ports", {{"game", kGamePort}}},
            {"eula", true},           {"properties", props}};
  }
  // POST /config, then wait for running or error.
  json provision(const json& p) {
    auto r = call("POST", "/config", p.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_TRUE(eventually(
        [&] {
          auto s = status();
          return s["state"] == "running" || s["state"] == "error";
        },
        180s))
        << status().dump();
    return status();
  }
  std::string ws_url() { return "ws" + agent_->url("/console").substr(4); }
  // Reads console output until `needle` shows (deadline).
  static bool read_until(http::WsClient& c, const std::string& needle, std::string* out = nullptr,
                         std::chrono::milliseconds timeout = 20s) {
    std::string acc;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && acc.find(needle) == std::string::npos) {
      auto m = c.read(200ms);
      if (!m) {
        if (m.error().is(codes::kTimeout)) continue;
        break;
      }
      if (m->binary) acc += m->data;
    }
    if (out) *out = acc;
    return acc.find(needle) != std::string::npos;
  }
  // The whole console so far (scrollback) up to `needle`.
  std::string console_until(const std::string& needle) {
    auto c = http::WsClient::connect(ws_url(), auth("GET", "/console"));
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    if (!c) return "";
    std::string out;
    EXPECT_TRUE(read_until(**c, needle, &out)) << "no \"" << needle << "\" in:\n" << out;
    (*c)->close();
    return out;
  }
  std::string host17() {
    auto cat = json::parse(*fs::read_file(store_ + "/catalog.json"));
    for (auto& v : cat["runtimes"][0]["versions"])
      if (v["version"].get<std::string>().starts_with("17.")) return v["version"];
    return "";
  }

  std::string dir_, keys_, store_, root_, server_, host_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(GameTest, PaperJarReachesRunningOnTheJavaItsEntryNames) {
  // A plugin the user uploaded before the server ever ran.
  ASSERT_TRUE(fs::make_dirs(server_ + "/plugins"));
  ASSERT_TRUE(fs::write_file_atomic(server_ + "/plugins/hello.jar", "PK"));
  auto st = provision(payload("paper", "1.21.4", json::object(), 1024));
  ASSERT_EQ(st["state"], "running") << st.dump();
  EXPECT_EQ(st["provisioning_complete"], true);
  EXPECT_EQ(st["container_type"], "game");
  EXPECT_EQ(st["variant"], "paper");
  EXPECT_TRUE(st["error"].is_null());
  auto svc = service();
  ASSERT_TRUE(svc.is_object()) << st.dump();
  EXPECT_EQ(svc["state"], "running");
  EXPECT_EQ(svc["port"], kGamePort);
  EXPECT_TRUE(tcp_accepts(host_, kGamePort));

  // paper's entry says java "21": the 21.0.99-test runtime, by its versioned path.
  std::string out = console_until("Done (");
  EXPECT_NE(out.find("java.home=" + root_ + "/opt/zlh/runtimes/java/21.0.99-test"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("JVM arguments: -Xms768M -Xmx768M"), std::string::npos)
      << out;  // 1024 MB container
  EXPECT_NE(out.find("Working directory: " + server_), std::string::npos) << out;
  EXPECT_NE(out.find("Plugin file: plugins/hello.jar"), std::string::npos) << out;
  EXPECT_NE(out.find("Starting Minecraft server on " + host_ + ":" + std::to_string(kGamePort)),
            std::string::npos);

  // The verified jar, the EULA the payload accepted, the record.
  EXPECT_EQ(*fs::read_file(server_ + "/server.jar"),
            *fs::read_file(store_ + "/games/minecraft/paper/1.21.4/standin-server.jar"));
  EXPECT_NE(fs::read_file(server_ + "/eula.txt")->find("\neula=true\n"), std::string::npos);
  auto rec = json::parse(*fs::read_file(root_ + "/opt/zlh-agent/state/game.json"));
  EXPECT_EQ(rec["java"]["version"], "21.0.99-test");
  EXPECT_EQ(rec["launch"]["kind"], "jar");
  auto rts = json::parse(call("GET", "/runtimes").body)["runtimes"];
  ASSERT_EQ(rts.size(), 1u) << rts.dump();
  EXPECT_EQ(rts[0]["id"], "java");
  EXPECT_EQ(rts[0]["current"], "21.0.99-test");
}

TEST_F(GameTest, RunningIsReportedOnlyOnceTheReadyLineShows) {
  // The stand-in takes 3 s between starting and its "Done (" line.
  auto r = call("POST", "/config",
                payload("vanilla", "1.21.4", {{"zlh-standin-startup-delay-ms", 3000}}).dump());
  ASSERT_EQ(r.status, 202) << r.body;
  bool starting_while_up = false;
  ASSERT_TRUE(eventually(
      [&] {
        auto s = status();
        for (auto& svc : s["services"])
          if (svc["name"] == "workload" && svc["state"] == "running" && s["state"] == "starting")
            starting_while_up = true;
        return s["state"] == "running" || s["state"] == "error";
      },
      180s));
  // The moment the agent says running, the server has printed its ready
  // line (its log file is written before its console).
  auto log = fs::read_file(server_ + "/logs/latest.log");
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("Done ("), std::string::npos) << *log;
  EXPECT_EQ(status()["state"], "running");
  EXPECT_TRUE(starting_while_up) << "never saw state starting while the server process ran";
}

TEST_F(GameTest, AServerThatExitsBeforeItIsReadyIsAnErrorWithItsLastOutput) {
  // Something else holds the game port: the server cannot bind and exits 1.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(kGamePort));
  ::inet_pton(AF_INET, host_.c_str(), &sa.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto st = provision(payload("vanilla", "1.21.4"));
  ASSERT_EQ(st["state"], "error") << st.dump();
  std::string err = st["error"];
  EXPECT_NE(err.find("exited before it was ready (exit code 1)"), std::string::npos) << err;
  EXPECT_NE(err.find("FAILED TO BIND TO PORT"), std::string::npos) << err;
  // Not left crash-looping: stopped until someone starts it.
  EXPECT_TRUE(eventually([&] { return service()["state"] == "stopped"; }, 10s)) << status().dump();
  EXPECT_EQ(service()["restarts"], 0);
  ::close(fd);
  ASSERT_EQ(call("POST", "/start").status, 200);
  EXPECT_TRUE(eventually([&] { return tcp_accepts(host_, kGamePort); }, 60s));
}

TEST_F(GameTest, JavaComesFromTheCatalogEntryNotTheMinecraftVersion) {
  // vanilla 1.21.4 says java "17" (a version heuristic would pick 21).
  auto st = provision(payload("vanilla", "1.21.4"));
  ASSERT_EQ(st["state"], "running") << st.dump();
  std::string v17 = host17();
  ASSERT_FALSE(v17.empty());
  std::string out = console_until("Done (");
  EXPECT_NE(out.find("java.home=" + root_ + "/opt/zlh/runtimes/java/" + v17 + " "),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("21.0.99-test"), std::string::npos) << out;
  EXPECT_NE(out.find("JVM arguments: -Xms256M -Xmx256M"), std::string::npos)
      << out;  // 512 MB container

  // purpur's entry wants java "11", which the catalog does not have: an
  // error naming it, the running vanilla server left alone by the failed step.
  int pid = service()["pid"];
  st = provision(payload("purpur", "1.21.4"));
  ASSERT_EQ(st["state"], "error") << st.dump();
  std::string err = st["error"];
  EXPECT_NE(err.find("java 11"), std::string::npos) << err;
  EXPECT_NE(err.find("\"11\""), std::string::npos) << err;
  EXPECT_EQ(service()["pid"], pid);
  EXPECT_FALSE(exists(root_ + "/opt/zlh/runtimes/java/11"));
}

TEST_F(GameTest, ForgeInstallerRunsOnceAndTheServerStartsFromItsArgumentFiles) {
  auto st = provision(payload("forge", "1.20.1-47.3.0"));
  ASSERT_EQ(st["state"], "running") << st.dump();
  std::string unix_args = server_ + "/libraries/net/zlh/standin/1.0.0/unix_args.txt";
  ASSERT_TRUE(exists(unix_args));
  EXPECT_TRUE(exists(server_ + "/user_jvm_args.txt"));
  EXPECT_FALSE(exists(server_ + "/installer.jar"));  // used once, then removed
  EXPECT_TRUE(exists(server_ + "/mods"));            // the variant's mods_dir
  auto rec = json::parse(*fs::read_file(root_ + "/opt/zlh-agent/state/game.json"));
  EXPECT_EQ(rec["launch"]["kind"], "argfiles");
  EXPECT_EQ(rec["launch"]["unix_args"], "libraries/net/zlh/standin/1.0.0/unix_args.txt");
  std::string out = console_until("Done (");
  EXPECT_NE(out.find("Class path: libraries/net/zlh/standin/1.0.0/standin-server.jar"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("User JVM arguments file applied: yes"), std::string::npos) << out;
  EXPECT_NE(out.find("-Xmx256M -Dzlh.standin.userargs=yes"), std::string::npos)
      << out;  // ours, then the user's file

  // A new payload (more memory): the installer does not run again, the
  // server restarts with the new heap.
  int64_t installed_at = mtime_ns(unix_args);
  int pid = service()["pid"];
  st = provision(payload("forge", "1.20.1-47.3.0", json::object(), 1024));
  ASSERT_EQ(st["state"], "running") << st.dump();
  EXPECT_EQ(mtime_ns(unix_args), installed_at);
  EXPECT_NE(service()["pid"], pid);
  EXPECT_NE(console_until("Done (").find("-Xms768M -Xmx768M"), std::string::npos);
}

TEST_F(GameTest, AFailingInstallerLeavesNoMarkerAndReportsItsOutput) {
  // neoforge's "installer" here is the server jar: without eula.txt it
  // prints the EULA message and exits 1.
  auto st = provision(payload("neoforge", "21.1.77-broken"));
  ASSERT_EQ(st["state"], "error") << st.dump();
  std::string err = st["error"];
  EXPECT_NE(err.find("installer failed (exit code 1)"), std::string::npos) << err;
  EXPECT_NE(err.find("You need to agree to the EULA"), std::string::npos) << err;
  EXPECT_FALSE(exists(root_ + "/opt/zlh-agent/state/game.json"));
  EXPECT_TRUE(service().is_null()) << status().dump();
  // A later good payload installs over it.
  st = provision(payload("vanilla", "1.21.4"));
  EXPECT_EQ(st["state"], "running") << st.dump();
}

TEST_F(GameTest, EulaNotAcceptedIsRefusedAndNothingIsWrittenOrStarted) {
  auto p = payload("vanilla", "1.21.4");
  p["eula"] = false;
  auto r = call("POST", "/config", p.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "E_EULA_REQUIRED");
  p.erase("eula");
  r = call("POST", "/config", p.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "E_EULA_REQUIRED");

  auto st = status();
  EXPECT_EQ(st["state"], "idle");
  EXPECT_TRUE(st["services"].empty()) << st.dump();
  EXPECT_FALSE(exists(root_ + "/opt/zlh-agent/config/payload.json"));
  EXPECT_FALSE(exists(server_));
  EXPECT_FALSE(exists(root_ + "/opt/zlh/runtimes/java"));
  EXPECT_FALSE(exists(root_ + "/run/zlh/workload.sock"));
}

TEST_F(GameTest, ServerPropertiesKeepUserEditsTakeThePayloadAndForceThePort) {
  ASSERT_TRUE(fs::make_dirs(server_));
  ASSERT_TRUE(fs::write_file_atomic(server_ + "/server.properties",
                                    "#Minecraft server properties\n"
                                    "motd=Edited by the user\n"
                                    "max-players=7\n"
                                    "server-port=1\n"
                                    "level-name=old\n"
                                    "spawn-protection=4\n"));
  auto st = provision(payload("vanilla", "1.21.4",
                              {{"max-players", 12}, {"difficulty", "hard"}, {"pvp", false}}, 512,
                              "survival1"));
  ASSERT_EQ(st["state"], "running") << st.dump();
  std::string text = *fs::read_file(server_ + "/server.properties");
  EXPECT_NE(text.find("#Minecraft server properties\n"), std::string::npos) << text;
  EXPECT_NE(text.find("motd=Edited by the user\n"), std::string::npos)
      << text;  // not in the payload: kept
  EXPECT_NE(text.find("spawn-protection=4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("max-players=12\n"), std::string::npos) << text;  // the payload's value
  EXPECT_EQ(text.find("max-players=7"), std::string::npos) << text;
  EXPECT_NE(text.find("difficulty=hard\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pvp=false\n"), std::string::npos) << text;
  EXPECT_NE(text.find("server-port=" + std::to_string(kGamePort) + "\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("level-name=survival1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("server-ip=" + host_ + "\n"), std::string::npos) << text;
  // The server read them.
  std::string out = console_until("Done (");
  EXPECT_NE(out.find("Preparing level \"survival1\""), std::string::npos) << out;
  auto c = http::WsClient::connect(ws_url(), auth("GET", "/console"));
  ASSERT_TRUE(c);
  ASSERT_TRUE((*c)->send("list\n", true));
  EXPECT_TRUE(read_until(**c, "There are 0 of a max of 12 players online"));
}

TEST_F(GameTest, GracefulStopSavesTheWorldAndKillDoesNot) {
  auto st = provision(payload("vanilla", "1.21.4"));
  ASSERT_EQ(st["state"], "running") << st.dump();
  std::string level = server_ + "/world/level.dat";
  EXPECT_FALSE(exists(level));

  auto stop = call("POST", "/stop");
  ASSERT_EQ(stop.status, 200) << stop.body;
  auto sj = json::parse(stop.body);
  EXPECT_EQ(sj["last_stop"]["graceful"], true) << stop.body;
  EXPECT_LT(sj["last_stop"]["duration_ms"].get<int64_t>(), 30000);
  EXPECT_EQ(*fs::read_file(level), "saves=1\nversion=1.21.4\n");  // the `stop` command saved it
  st = status();
  EXPECT_EQ(st["last_stop"]["graceful"], true);
  EXPECT_EQ(service()["state"], "stopped");
  EXPECT_FALSE(tcp_accepts(host_, kGamePort));

  ASSERT_EQ(call("POST", "/start").status, 200);
  ASSERT_TRUE(eventually([&] { return tcp_accepts(host_, kGamePort); }, 60s));
  auto kill = call("POST", "/kill");
  ASSERT_EQ(kill.status, 200) << kill.body;
  ASSERT_TRUE(eventually([&] { return !tcp_accepts(host_, kGamePort); }, 10s));
  EXPECT_EQ(*fs::read_file(level), "saves=1\nversion=1.21.4\n");  // SIGKILL: nothing saved
}

TEST_F(GameTest, ConsoleFansOutToEveryClient) {
  auto st = provision(payload("vanilla", "1.21.4"));
  ASSERT_EQ(st["state"], "running") << st.dump();
  auto a = http::WsClient::connect(ws_url(), auth("GET", "/console"));
  auto b = http::WsClient::connect(ws_url(), auth("GET", "/console"));
  ASSERT_TRUE(a && b);
  // Both start with the scrollback.
  ASSERT_TRUE(read_until(**a, "For help, type \"help\""));
  ASSERT_TRUE(read_until(**b, "For help, type \"help\""));
  ASSERT_TRUE((*a)->send("say hi\n", true));
  EXPECT_TRUE(read_until(**a, "[Server] hi"));
  EXPECT_TRUE(read_until(**b, "[Server] hi"));
  ASSERT_TRUE((*b)->send("frobnicate\n", true));
  EXPECT_TRUE(read_until(**a, "Unknown or incomplete command"));
  EXPECT_TRUE(read_until(**b, "Unknown or incomplete command"));
}

TEST_F(GameTest, AgentKill9LeavesTheServerRunningAndTheNewAgentReattaches) {
  auto st = provision(payload("vanilla", "1.21.4"));
  ASSERT_EQ(st["state"], "running") << st.dump();
  int pid = service()["pid"];
  ASSERT_GT(pid, 1);
  agent_->kill9();
  ASSERT_EQ(::kill(pid, 0), 0);
  EXPECT_TRUE(tcp_accepts(host_, kGamePort));
  agent_->restart();
  ASSERT_TRUE(agent_->wait_healthy());
  auto t0 = std::chrono::steady_clock::now();
  // Waited for with a deadline; the time is recorded, not asserted.
  ASSERT_TRUE(eventually([&] { return service()["state"] == "running"; }, 20s));
  RecordProperty("reattach_ms",
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count()));
  EXPECT_EQ(service()["pid"], pid);
  EXPECT_EQ(status()["state"], "running");
  auto c = http::WsClient::connect(ws_url(), auth("GET", "/console"));
  ASSERT_TRUE(c);
  ASSERT_TRUE(read_until(**c, "Done ("));  // the scrollback from before the restart
  ASSERT_TRUE((*c)->send("say back again\n", true));
  EXPECT_TRUE(read_until(**c, "[Server] back again"));
  // And the graceful stop still works through the new agent.
  auto stop = call("POST", "/stop");
  ASSERT_EQ(stop.status, 200) << stop.body;
  EXPECT_EQ(json::parse(stop.body)["last_stop"]["graceful"], true);
  EXPECT_TRUE(exists(server_ + "/world/level.dat"));
}

TEST_F(GameTest, AsRootTheServerAndItsInstallerRunAsTheServiceUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the agent creates the dev account)";
  agent_.reset();
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // the service user must reach the container root
  // A planted symlink in place of server.properties must be neither read
  // nor written through by the (root) agent.
  std::string secret = dir_ + "/secret";
  ASSERT_TRUE(fs::write_file_atomic(secret, "TOPSECRET=1\n", 0600));
  ASSERT_TRUE(fs::make_dirs(server_));
  ASSERT_EQ(::symlink(secret.c_str(), (server_ + "/server.properties").c_str()), 0);
  start_agent("dev");
  auto st = provision(payload("forge", "1.20.1-47.3.0"));
  ASSERT_EQ(st["state"], "running") << st.dump();

  struct stat home {};
  ASSERT_EQ(::stat((root_ + "/home/dev").c_str(), &home), 0);
  ASSERT_NE(home.st_uid, 0u);
  auto owner = [](const std::string& p) {
    struct stat s {};
    return ::lstat(p.c_str(), &s) == 0 ? int64_t(s.st_uid) : int64_t(-1);
  };
  // The installer ran as the user (it wrote these), the agent chowned its own files.
  for (const char* f : {"", "/libraries/net/zlh/standin/1.0.0/unix_args.txt", "/user_jvm_args.txt",
                        "/eula.txt", "/server.properties", "/mods", "/logs/latest.log"})
    EXPECT_EQ(owner(server_ + f), int64_t(home.st_uid)) << f;
  int pid = service()["pid"];
  auto proc = fs::read_file("/proc/" + std::to_string(pid) + "/status");
  ASSERT_TRUE(proc);
  EXPECT_NE(proc->find("\nUid:\t" + std::to_string(home.st_uid) + "\t"), std::string::npos)
      << *proc;

  std::string text = *fs::read_file(server_ + "/server.properties");
  struct stat props {};
  ASSERT_EQ(::lstat((server_ + "/server.properties").c_str(), &props), 0);
  EXPECT_TRUE(S_ISREG(props.st_mode));
  EXPECT_EQ(text.find("TOPSECRET"), std::string::npos) << text;
  EXPECT_EQ(*fs::read_file(secret), "TOPSECRET=1\n");
  EXPECT_NE(text.find("server-port=" + std::to_string(kGamePort)), std::string::npos) << text;
}

}  // namespace
}  // namespace zlh::testing
