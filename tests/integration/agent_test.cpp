// zlh-agent as a real process on loopback: health, authentication, payload
// validation, provisioning state, crash/restart, logs.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "harness.hpp"
#include "proto/jws.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kVmid = 6001;

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("agent");
    keys_ = dir_ + "/keys";
    auto kg = run_command({bin_dir() + "/zlhctl", "keygen", "--out", keys_});
    ASSERT_EQ(kg.exit_code, 0) << kg.err;
    root_ = dir_ + "/root";
    ASSERT_TRUE(fs::make_dirs(root_));
  }

  void TearDown() override { remove_unless_failed(dir_); }

  std::unique_ptr<AgentProcess> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--vmid",           std::to_string(kVmid), "--api-key",
                                  keys_ + "/api.pub", "--dev-user",          "-"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto a = std::make_unique<AgentProcess>(root_, args);
    EXPECT_TRUE(a->wait_healthy())
        << "agent did not become healthy; log: " << *fs::read_file(a->log_path());
    return a;
  }

  // A token minted by the real zlhctl, for one request (M5).
  std::string token(const std::string& method = "GET", const std::string& target = "/status",
                    int vmid = kVmid, std::string key = "") {
    auto r = run_command({bin_dir() + "/zlhctl", "token", "--key",
                          key.empty() ? keys_ + "/api.key" : key, "--vmid", std::to_string(vmid),
                          "--method", method, "--target", target});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  crypto::Ed25519SecretKey api_key() { return *crypto::load_secret_key(keys_ + "/api.key"); }

  http::Headers bearer(const std::string& t) {
    http::Headers h;
    h.add("Authorization", "Bearer " + t);
    return h;
  }
  // With a token minted for this request unless `tok` is given.
  http::ClientResponse get(AgentProcess& a, const std::string& path, std::string tok = "") {
    if (tok.empty()) tok = token("GET", path);
    auto r = http::request("GET", a.url(path), bearer(tok));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : http::ClientResponse{};
  }
  http::ClientResponse post_config(AgentProcess& a, const std::string& body, std::string tok = "") {
    if (tok.empty()) tok = token("POST", "/config");
    http::Headers h = bearer(tok);
    h.add("Content-Type", "application/json");
    auto r = http::request("POST", a.url("/config"), h, body);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : http::ClientResponse{};
  }
  json status(AgentProcess& a) { return json::parse(get(a, "/status").body); }

  std::string payload_path() { return root_ + "/opt/zlh-agent/config/payload.json"; }
  std::string state_path() { return root_ + "/opt/zlh-agent/state/provision.json"; }

  json dev_payload() {
    return {{"vmid", kVmid},        {"container_type", "dev"},     {"runtime", "node"},
            {"version", "20.18.0"}, {"enable_code_server", false}, {"memory_mb", 2048}};
  }

  std::string dir_, keys_, root_;
};

TEST_F(AgentTest, HealthNeedsNoToken) {
  auto a = start();
  auto r = http::request("GET", a->url("/health"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j["version"].is_string());
}

TEST_F(AgentTest, UnauthorizedWithoutAValidToken) {
  auto a = start();
  auto now_s = now();
  auto key = api_key();
  json claims = {{"iss", "zlh-api"},
                 {"aud", "zlh-agent"},
                 {"vmid", kVmid},
                 {"iat", now_s},
                 {"exp", now_s + 120}};

  // Another key: a second keygen dir.
  auto other = dir_ + "/other";
  ASSERT_EQ(run_command({bin_dir() + "/zlhctl", "keygen", "--out", other}).exit_code, 0);

  // Expired: correctly signed, but exp is in the past.
  json expired = claims;
  expired["iat"] = now_s - 400;
  expired["exp"] = now_s - 100;

  // alg "none": unsigned.
  std::string none = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                     crypto::base64url_encode(claims.dump()) + ".";

  // Changed payload: a valid token whose claims are swapped after signing.
  std::string valid = token();
  json widened = claims;
  widened["vmid"] = 6002;
  widened["exp"] = now_s + 100000;
  std::string changed = valid.substr(0, valid.find('.')) + "." +
                        crypto::base64url_encode(widened.dump()) + valid.substr(valid.rfind('.'));
  // alg swapped to HS256 over the same signature.
  std::string hs =
      crypto::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + valid.substr(valid.find('.'));

  std::vector<std::pair<std::string, std::string>> cases = {
      {"no token", ""},
      {"another key", token("GET", "/status", kVmid, other + "/api.key")},
      {"expired", jws::sign_eddsa(expired, key)},
      {"alg none", none},
      {"alg HS256", hs},
      {"changed payload", changed},
      {"another vmid", token("GET", "/status", 6002)},
      {"garbage", "not-a-token"},
  };
  for (const auto& [name, tok] : cases) {
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/status"}, {"POST", "/config"}, {"GET", "/metrics"}}) {
      http::Headers h;
      if (!tok.empty()) h.add("Authorization", "Bearer " + tok);
      auto r = http::request(method, a->url(path), h, method == "POST" ? dev_payload().dump() : "");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401) << name << " " << method << " " << path;
      EXPECT_EQ(json::parse(r->body)["error"]["code"], "E_UNAUTHORIZED") << name;
    }
  }
  // Nothing was accepted by any of them.
  EXPECT_FALSE(exists(payload_path()));
  // And the valid token works.
  EXPECT_EQ(get(*a, "/status", valid).status, 200);
  // M5: sniffed on the bridge, it is good for nothing more: not again (a
  // replay), not on another route, not with another query or method.
  EXPECT_EQ(get(*a, "/status", valid).status, 401);
  EXPECT_EQ(get(*a, "/metrics", token("GET", "/status")).status, 401);
  EXPECT_EQ(get(*a, "/status?x=1", token("GET", "/status")).status, 401);
  EXPECT_EQ(post_config(*a, dev_payload().dump(), token("GET", "/config")).status, 401);
  EXPECT_FALSE(exists(payload_path()));
  // Tokens never reach the log.
  auto log = *fs::read_file(a->log_path());
  EXPECT_EQ(log.find(valid.substr(valid.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(log.find(valid.substr(0, valid.rfind('.'))), std::string::npos);
}

TEST_F(AgentTest, BadPayloadsAre400NamingTheFieldAndWriteNothing) {
  auto a = start();
  struct Case {
    std::string name;
    json body;
    std::string field;
  };
  auto without = [&](const char* k) {
    json j = dev_payload();
    j.erase(k);
    return j;
  };
  auto with = [&](const char* k, json v) {
    json j = dev_payload();
    j[k] = v;
    return j;
  };
  std::vector<Case> cases = {
      {"unknown container_type", with("container_type", "vm"), "container_type"},
      {"missing runtime", without("runtime"), "runtime"},
      {"missing version", without("version"), "version"},
      {"memory as string", with("memory_mb", "2048"), "memory_mb"},
      {"code-server as string", with("enable_code_server", "yes"), "enable_code_server"},
      {"runtime as number", with("runtime", 20), "runtime"},
      {"negative memory", with("memory_mb", -512), "memory_mb"},
      {"absurd memory", with("memory_mb", int64_t(1) << 40), "memory_mb"},
      {"unknown field", with("owner_id", 7), "owner_id"},
      {"traversal in runtime", with("runtime", "../../bin"), "runtime"},
      {"another vmid", with("vmid", 6002), "vmid"},
  };
  for (const auto& c : cases) {
    auto r = post_config(*a, c.body.dump());
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << c.name;
    EXPECT_EQ(j["error"]["code"], "E_INVALID") << c.name;
    EXPECT_EQ(j["error"]["field"], c.field) << c.name;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(c.field), std::string::npos) << c.name;
  }
  for (std::string raw : {"{not json", "[]", "\"dev\"", ""}) {
    auto r = post_config(*a, raw);
    EXPECT_EQ(r.status, 400) << raw;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "E_INVALID") << raw;
  }
  // A game without the EULA is refused too, with its own code.
  json game = {{"vmid", kVmid},      {"container_type", "game"}, {"game", "minecraft"},
               {"variant", "paper"}, {"version", "1.21.4"},      {"memory_mb", 4096},
               {"eula", false}};
  auto g = post_config(*a, game.dump());
  EXPECT_EQ(g.status, 422);
  EXPECT_EQ(json::parse(g.body)["error"]["code"], "E_EULA_REQUIRED");

  EXPECT_FALSE(exists(payload_path()));
  EXPECT_FALSE(exists(state_path()));
  EXPECT_FALSE(exists(root_ + "/opt/zlh"));
  EXPECT_EQ(status(*a)["state"], "idle");
}

TEST_F(AgentTest, StatusHasEveryField) {
  auto a = start();
  auto s = status(*a);
  for (const char* k : {"state", "provisioning_complete", "install_step", "progress", "error",
                        "container_type", "runtime", "version", "crash_count", "last_crash_at",
                        "last_exit", "last_stop", "services", "uptime_s"})
    EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_EQ(s["state"], "idle");
  EXPECT_EQ(s["provisioning_complete"], false);
  EXPECT_TRUE(s["services"].is_array());
  EXPECT_EQ(s["vmid"], kVmid);
}

TEST_F(AgentTest, ValidPayloadIsAcceptedAndSurvivesKill9) {
  auto a = start();
  auto r = post_config(*a, dev_payload().dump());
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_TRUE(exists(payload_path()));
  EXPECT_EQ(json::parse(*fs::read_file(payload_path()))["runtime"], "node");
  // L2: the payload and its directory are root's alone.
  struct stat st {};
  ASSERT_EQ(::stat(payload_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((root_ + "/opt/zlh-agent/config").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // The state leaves idle and the machine runs until it cannot go on: this
  // agent has no artifact server configured, and it says so.
  ASSERT_TRUE(eventually([&] { return status(*a)["state"] == "error"; }));
  auto before = status(*a);
  EXPECT_EQ(before["container_type"], "dev");
  EXPECT_EQ(before["runtime"], "node");
  EXPECT_EQ(before["version"], "20.18.0");
  EXPECT_NE(before["install_step"].get<std::string>().find("runtime node 20.18.0"),
            std::string::npos);
  EXPECT_NE(before["error"].get<std::string>().find("no artifact server configured"),
            std::string::npos)
      << before["error"];
  EXPECT_TRUE(exists(root_ + "/opt/zlh/runtimes"));  // the layout step ran for real

  a->kill9();
  a->restart();
  ASSERT_TRUE(a->wait_healthy());
  auto after = status(*a);
  for (const char* k : {"state", "error", "install_step", "container_type", "runtime", "version",
                        "payload_sha256", "provisioning_complete"})
    EXPECT_EQ(after[k], before[k]) << k;

  // Same payload again: a no-op.
  auto again = post_config(*a, dev_payload().dump());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["changed"], false);
  EXPECT_EQ(status(*a)["state"], "error");
}

TEST_F(AgentTest, Kill9MidProvisioningResumesAtTheStoredStep) {
  // What a kill -9 inside step 2 (runtime) leaves behind: the payload and a
  // state file that says step 2 was running. Steps 0 (layout) and 1 (dev user)
  // did not run here, so if the agent resumed from the top their directories
  // would appear.
  json p = dev_payload();
  p["catalog_sha256"] = std::string(64, 'a');
  ASSERT_TRUE(fs::make_dirs(root_ + "/opt/zlh-agent/config"));
  ASSERT_TRUE(fs::make_dirs(root_ + "/opt/zlh-agent/state"));
  // The canonical form the agent itself writes.
  auto sent = start();
  ASSERT_EQ(post_config(*sent, p.dump()).status, 202);
  ASSERT_TRUE(eventually([&] { return status(*sent)["state"] == "error"; }));
  auto sha = status(*sent)["payload_sha256"].get<std::string>();
  sent->kill9();
  ASSERT_EQ(system(("rm -rf " + root_ + "/opt/zlh " + root_ + "/home").c_str()), 0);
  json st = {{"state", "installing"},
             {"payload_sha256", sha},
             {"step", 2},
             {"install_step", "install runtime node 20.18.0"},
             {"progress", 0.25},
             {"error", ""},
             {"provisioning_complete", false}};
  ASSERT_TRUE(fs::write_file_atomic(state_path(), st.dump()));

  auto a = start();
  ASSERT_TRUE(eventually([&] { return status(*a)["state"] == "error"; }));
  EXPECT_NE(status(*a)["install_step"].get<std::string>().find("runtime node 20.18.0"),
            std::string::npos);
  EXPECT_FALSE(exists(root_ + "/opt/zlh/runtimes"));  // step 0 was not re-run
  EXPECT_FALSE(exists(root_ + "/home/dev"));          // nor step 1 (dev user)
}

TEST_F(AgentTest, DifferentPayloadAfterErrorIsAccepted) {
  auto a = start();
  ASSERT_EQ(post_config(*a, dev_payload().dump()).status, 202);
  ASSERT_TRUE(eventually([&] { return status(*a)["state"] == "error"; }));
  json p2 = dev_payload();
  p2["version"] = "22.11.0";
  ASSERT_EQ(post_config(*a, p2.dump()).status, 202);
  ASSERT_TRUE(eventually([&] {
    auto s = status(*a);
    return s["state"] == "error" &&
           s["install_step"].get<std::string>().find("22.11.0") != std::string::npos;
  }));
  EXPECT_EQ(json::parse(*fs::read_file(payload_path()))["version"], "22.11.0");
}

TEST_F(AgentTest, SigtermExitsZero) {
  auto a = start();
  ASSERT_EQ(get(*a, "/status").status, 200);
  EXPECT_EQ(a->terminate(), 0);
  auto log = *fs::read_file(a->log_path());
  EXPECT_NE(log.find("\"agent stopped\""), std::string::npos);
}

TEST_F(AgentTest, ConfigFileUnderRoot) {
  std::string addr = unique_loopback();
  ASSERT_TRUE(fs::make_dirs(root_ + "/etc/zlh"));
  ASSERT_TRUE(fs::write_file_atomic(root_ + "/etc/zlh/agent.toml",
                                    "listen = \"" + addr + ":18888\"\nvmid = 6001\napi-key = \"" +
                                        keys_ + "/api.pub\"\ndev-user = \"-\"\n"));
  AgentProcess a(root_, {}, /*add_listen=*/false);
  // The agent listens, and checks tokens, as the file says.
  ASSERT_TRUE(eventually([&] {
    auto r = http::request("GET", "http://" + addr + ":18888/status",
                           bearer(token("GET", "/status")), {}, 2s);
    return r && r->status == 200;
  }));
}

TEST_F(AgentTest, MetricsInPrometheusFormat) {
  auto a = start();
  get(*a, "/status");
  auto m = get(*a, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("# TYPE zlh_http_requests_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("zlh_agent_state{state=\"idle\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("process_resident_memory_bytes "), std::string::npos);
}

// Runs last in this file (gtest keeps declaration order): every line any agent
// wrote in this run is a JSON object with time, level and msg.
TEST(AgentLogs, EveryLineIsSlogJson) {
  // Fresh agent with some traffic of every kind, including refused requests.
  auto dir = make_temp_dir("logs");
  ASSERT_EQ(run_command({bin_dir() + "/zlhctl", "keygen", "--out", dir + "/keys"}).exit_code, 0);
  AgentProcess a(dir + "/root",
                 {"--vmid", "6001", "--api-key", dir + "/keys/api.pub", "--dev-user", "-"});
  ASSERT_TRUE(a.wait_healthy());
  std::vector<std::string> sigs;  // of every token sent: none may reach the log
  auto h = [&](const std::string& method, const std::string& target) {
    auto b = bearer_from(dir + "/keys", 6001, method, target);
    std::string t(b.get("Authorization").value_or(""));
    sigs.push_back(t.substr(t.rfind('.') + 1));
    return b;
  };
  http::request("GET", a.url("/status"));
  http::request("GET", a.url("/status?token=secret"), h("GET", "/status?token=secret"));
  http::request("POST", a.url("/config"), h("POST", "/config"), "{bad");
  http::request(
      "POST", a.url("/config"), h("POST", "/config"),
      json{{"vmid", 6001}, {"container_type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}}
          .dump());
  eventually([&] {
    auto r = http::request("GET", a.url("/status"), h("GET", "/status"));
    return r && json::parse(r->body)["state"] == "error";
  });
  ASSERT_EQ(a.terminate(), 0);

  std::ifstream in(a.log_path());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j["time"].is_string()) << line;
    EXPECT_TRUE(j["level"].is_string()) << line;
    EXPECT_TRUE(j["msg"].is_string()) << line;
    EXPECT_EQ(line.find("secret"), std::string::npos) << "query string leaked: " << line;
    for (const auto& sig : sigs) EXPECT_EQ(line.find(sig), std::string::npos) << "token leaked";
  }
  EXPECT_GE(n, 8);
}

}  // namespace
}  // namespace zlh::testing
