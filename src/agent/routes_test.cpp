// The agent's route table served in process with a fake step runner.
#include "agent/routes.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "http/client.hpp"
#include "http/server.hpp"
#include "proto/jws.hpp"

namespace zlh::agent {
namespace {

class NopRunner : public StepRunner {
 public:
  Result<void> run(const StepSpec&, const payload::Payload&, const std::atomic<bool>&,
                   const StepProgress&) override {
    return {};
  }
};

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-routes-XXXXXX";
    root_ = mkdtemp(tmpl);
    prov_ = std::make_unique<Provisioner>(root_, 6001, runner_);
    prov_->load();
    prov_->start();
    guard_ = std::make_unique<TokenGuard>(kp_.pub, 6001, unix_now);
    catalog_ = std::make_unique<runtimes::CatalogClient>(fetcher_, "", std::nullopt);
    cache_ = std::make_unique<runtimes::ArtifactCache>(root_ + "/opt/zlh/cache", fetcher_);
    runtimes_ = std::make_unique<runtimes::RuntimeManager>(root_, *catalog_, *cache_);
    devenv_ = std::make_unique<devenv::DevEnvironment>(root_, "-");
    supervisor_ = std::make_unique<supervisor::Supervisor>(root_, "/nonexistent/zlh-shim", clock_);
    console_ = std::make_unique<console::ConsoleManager>(*supervisor_, *devenv_, tasks_);
    addon_installer_ = std::make_unique<runtimes::RuntimeManager>(root_, *catalog_, *cache_,
                                                                  runtimes::PackageKind::kAddon);
    addons_ = std::make_unique<addons::AddonManager>(root_, *addon_installer_, *catalog_,
                                                     *supervisor_, *devenv_, "127.0.0.1", 6001);
    ctx_ = std::make_unique<AgentContext>(*prov_, *guard_, metrics_, 6001,
                                          std::chrono::steady_clock::now(), *runtimes_, tasks_,
                                          *supervisor_, *console_, *addons_);
    backups_ = std::make_unique<backups::BackupDeps>(
        backups::workload_backup_deps(*prov_, *devenv_, root_, *supervisor_, tasks_));
    ctx_->backups = backups_.get();
    http::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.metrics = &metrics_;
    server_ = std::make_unique<http::Server>(make_router(*ctx_), o);
    ASSERT_TRUE(server_->listen());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = std::thread([this] { server_->run(1, false); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
    tasks_.stop();
    prov_->stop();
  }
  // A token for one request (M5).
  http::Headers auth(const std::string& method, const std::string& target) {
    http::Headers h;
    h.add("Authorization",
          "Bearer " + *jws::mint_agent_token(kp_.sec, 6001, 60, unix_now(), method, target));
    return h;
  }

  crypto::Ed25519KeyPair kp_ = crypto::ed25519_generate();
  std::string root_, base_;
  NopRunner runner_;
  metrics::Registry metrics_;
  std::unique_ptr<Provisioner> prov_;
  std::unique_ptr<TokenGuard> guard_;
  runtimes::CurlFetcher fetcher_;
  std::unique_ptr<runtimes::CatalogClient> catalog_;
  std::unique_ptr<runtimes::ArtifactCache> cache_;
  std::unique_ptr<runtimes::RuntimeManager> runtimes_;
  TaskRunner tasks_;
  supervisor::SystemClock clock_;
  std::unique_ptr<devenv::DevEnvironment> devenv_;
  std::unique_ptr<supervisor::Supervisor> supervisor_;
  std::unique_ptr<console::ConsoleManager> console_;
  std::unique_ptr<runtimes::RuntimeManager> addon_installer_;
  std::unique_ptr<addons::AddonManager> addons_;
  std::unique_ptr<backups::BackupDeps> backups_;
  std::unique_ptr<AgentContext> ctx_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

TEST_F(RoutesTest, OnlyHealthIsPublic) {
  EXPECT_EQ(http::request("GET", base_ + "/health")->status, 200);
  for (auto [m, p] : std::vector<std::pair<std::string, std::string>>{{"GET", "/status"},
                                                                      {"POST", "/config"},
                                                                      {"GET", "/metrics"},
                                                                      {"GET", "/nothing-here"},
                                                                      {"POST", "/health"}}) {
    auto r = http::request(m, base_ + p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << m << " " << p;
  }
}

TEST_F(RoutesTest, RuntimeRoutesValidateAndAnswerFromTheManager) {
  auto l = http::request("GET", base_ + "/runtimes", auth("GET", "/runtimes"));
  ASSERT_EQ(l->status, 200);
  EXPECT_EQ(nlohmann::json::parse(l->body)["runtimes"], nlohmann::json::array());
  auto bad = http::request("POST", base_ + "/runtimes/install", auth("POST", "/runtimes/install"),
                           R"({"runtime":"../x","version":"1"})");
  EXPECT_EQ(bad->status, 400);
  auto unknown =
      http::request("POST", base_ + "/runtimes/install", auth("POST", "/runtimes/install"),
                    R"({"runtime":"node","version":"1","x":1})");
  EXPECT_EQ(unknown->status, 400);
  EXPECT_EQ(nlohmann::json::parse(unknown->body)["error"]["field"], "x");
  // No artifact server configured: an honest 503, not a hang.
  auto none = http::request("POST", base_ + "/runtimes/install", auth("POST", "/runtimes/install"),
                            R"({"runtime":"node","version":"20.1.0"})");
  EXPECT_EQ(none->status, 503);
  EXPECT_EQ(http::request("POST", base_ + "/runtimes/node/use", auth("POST", "/runtimes/node/use"),
                          R"({"version":"1.0"})")
                ->status,
            404);
  EXPECT_EQ(http::request("POST", base_ + "/runtimes/node/rollback",
                          auth("POST", "/runtimes/node/rollback"))
                ->status,
            404);
  EXPECT_EQ(
      http::request("DELETE", base_ + "/runtimes/node/1.0", auth("DELETE", "/runtimes/node/1.0"))
          ->status,
      404);
}

TEST_F(RoutesTest, PowerWithoutWorkloadIsConflictAndConsoleNeedsAPayload) {
  for (const char* p : {"/start", "/stop", "/restart", "/kill"}) {
    auto r = http::request("POST", base_ + p, auth("POST", p));
    EXPECT_EQ(r->status, 409) << p << " " << r->body;
  }
  int status = 0;
  auto ws =
      http::WsClient::connect("ws://127.0.0.1:" + std::to_string(server_->port()) + "/console",
                              auth("GET", "/console"), std::chrono::seconds(5), &status);
  EXPECT_FALSE(ws);
  EXPECT_EQ(status, 409);
  auto unauth =
      http::WsClient::connect("ws://127.0.0.1:" + std::to_string(server_->port()) + "/console", {},
                              std::chrono::seconds(5), &status);
  EXPECT_FALSE(unauth);
  EXPECT_EQ(status, 401);
}

TEST_F(RoutesTest, BackupRoutesNeedTheTokenAWorkloadAndAGameConsole) {
  for (auto [m, p] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/backups/archive"},
                                                        {"PUT", "/backups/restore"},
                                                        {"POST", "/console/command"}}) {
    EXPECT_EQ(http::request(m, base_ + p)->status, 401) << m << " " << p;
    auto r = http::request(m, base_ + p, auth(m, p), R"({"command":"list"})");
    EXPECT_EQ(r->status, 409) << m << " " << p << " " << r->body;  // no workload yet
  }
  for (const std::string& bad : std::vector<std::string>{
           R"({"command":""})", R"({"command":"say a\nstop"})", R"({"command":"say a\u001b[2J"})",
           nlohmann::json{{"command", std::string(257, 'a')}}.dump(),
           R"({"command":"list","x":1})"}) {
    auto r =
        http::request("POST", base_ + "/console/command", auth("POST", "/console/command"), bad);
    EXPECT_EQ(r->status, 400) << bad << " " << r->body;
  }
  nlohmann::json payload = {
      {"vmid", 6001}, {"container_type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}};
  ASSERT_EQ(
      http::request("POST", base_ + "/config", auth("POST", "/config"), payload.dump())->status,
      202);
  auto dev = http::request("POST", base_ + "/console/command", auth("POST", "/console/command"),
                           R"({"command":"list"})");
  EXPECT_EQ(dev->status, 400) << dev->body;  // a dev container has no game console
  EXPECT_EQ(nlohmann::json::parse(dev->body)["error"]["field"], "command");
}

TEST_F(RoutesTest, StatusConfigMetrics) {
  auto s = http::request("GET", base_ + "/status", auth("GET", "/status"));
  ASSERT_EQ(s->status, 200);
  auto j = nlohmann::json::parse(s->body);
  EXPECT_EQ(j["state"], "idle");
  nlohmann::json payload = {
      {"vmid", 6001}, {"container_type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}};
  auto c = http::request("POST", base_ + "/config", auth("POST", "/config"), payload.dump());
  EXPECT_EQ(c->status, 202);
  auto again = http::request("POST", base_ + "/config", auth("POST", "/config"), payload.dump());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(nlohmann::json::parse(again->body)["changed"], false);
  auto bad = http::request("POST", base_ + "/config", auth("POST", "/config"),
                           R"({"container_type":"dev"})");
  EXPECT_EQ(bad->status, 400);
  auto m = http::request("GET", base_ + "/metrics", auth("GET", "/metrics"));
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("zlh_http_requests_total{method=\"GET\",route=\"/status\",code=\"200\"}"),
            std::string::npos);
  auto big = http::request("POST", base_ + "/config", auth("POST", "/config"),
                           std::string(65 * 1024, ' '));
  EXPECT_EQ(big->status, 413);
}

}  // namespace
}  // namespace zlh::agent
