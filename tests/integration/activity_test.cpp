// A server's activity log end to end (docs/activity.md): the real zlh-api on
// loopback with servers whose agent is a fake written here (an HTTP and
// WebSocket server on the servers' loopback address, port 18888, that takes
// power, console, file and status calls and echoes console input). The
// server rows are written into the API's store while it is stopped, like
// schedule_test.cpp, so no container is needed: what is under test is what
// the API records, not what an agent does.
#include <gtest/gtest.h>

#include <thread>

#include "api/store/store.hpp"
#include "harness.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Echoes console input back as output, like a terminal would.
class EchoConsole : public http::WsHandler {
 public:
  void on_open(std::shared_ptr<http::WsConn> conn) override { conn_ = conn; }
  void on_message(std::string data, bool binary) override {
    if (auto c = conn_.lock(); c && binary) c->send_binary(std::move(data));
  }

 private:
  std::weak_ptr<http::WsConn> conn_;
};

class FakeAgent {
 public:
  FakeAgent() : addr_(unique_loopback()) {
    http::Router r;
    http::RouteOptions pub;
    pub.is_public = true;
    auto ok = [](int status) {
      return [status](http::Request&) { return http::Response::json(status, json::object()); };
    };
    r.add_sync(
        "GET", "/status",
        [](http::Request&) {
          return http::Response::json(200, {{"state", "running"}});
        },
        pub);
    r.add_sync(
        "POST", "/console/command",
        [](http::Request&) {
          http::Response none;
          none.status = 204;
          return none;
        },
        pub);
    for (std::string action : {"start", "stop", "restart", "kill"})
      r.add_sync("POST", "/" + action, ok(200), pub);
    r.add_sync("PUT", "/files/write", ok(200), pub);
    r.add_sync("POST", "/files/mkdir", ok(201), pub);
    r.add_sync(
        "POST", "/files/rename",
        [](http::Request&) {
          return http::Response::json(
              409, {{"error", {{"code", "E_CONFLICT"}, {"message", "target exists"}}}});
        },
        pub);
    r.add_ws(
        "/console",
        [](http::Request&) -> Result<std::shared_ptr<http::WsHandler>> {
          return std::make_shared<EchoConsole>();
        },
        pub);
    http::ServerOptions o;
    o.listen = addr_ + ":18888";
    o.component = "fake-agent";
    server_ = std::make_unique<http::Server>(std::move(r), o);
    auto l = server_->listen();
    EXPECT_TRUE(l) << (l ? "" : l.error().message);
    thread_ = std::thread([this] { server_->run(1, false); });
  }
  ~FakeAgent() {
    server_->stop();
    thread_.join();
  }
  const std::string& addr() const { return addr_; }

 private:
  std::string addr_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

class ActivityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("activity");
    make_tool_store(dir_, dir_ + "/store", dir_ + "/keys");
    ASSERT_FALSE(HasFatalFailure());
    api_ = std::make_unique<ApiProcess>(dir_, dir_ + "/store", dir_ + "/keys");
    ASSERT_TRUE(api_->start()) << api_->log();
    client_ = std::make_unique<ApiClient>(api_->base());
    token_ = client_->register_user("ann");
    other_ = client_->register_user("bob");
    ASSERT_FALSE(token_.empty());
    api_->stop(SIGTERM);
    game_ = seed_server(api::store::ServerType::kGame, "game");
    dev_ = seed_server(api::store::ServerType::kDev, "dev");
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(api_->start()) << api_->log();
  }
  void TearDown() override {
    api_.reset();
    remove_unless_failed(dir_);
  }

  // A ready, running server of ann's whose agent is the fake.
  int64_t seed_server(api::store::ServerType type, const std::string& name) {
    auto store = api::store::Store::open(api_->data() + "/zlh.db");
    EXPECT_TRUE(store) << store.error().message;
    if (!store) return 0;
    auto user = (*store)->find_user_by_login("ann");
    EXPECT_TRUE(user);
    api::store::NewServer ns;
    ns.owner_id = user->id;
    ns.type = type;
    ns.name = name;
    ns.hostname_prefix = name + "-";
    auto c = (*store)->create_server(ns, std::vector<std::string>{"seeded by the test"});
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return 0;
    EXPECT_TRUE((*store)->update_job_state(c->job.id, api::store::JobState::kRunning));
    EXPECT_TRUE((*store)->update_job_state(c->job.id, api::store::JobState::kDone));
    EXPECT_TRUE((*store)->update_server(
        c->server.id,
        {.state = api::store::ServerState::kReady, .ip = agent_.addr(), .agent_state = "running"}));
    return c->server.id;
  }

  std::string srv(int64_t id, const std::string& p) {
    return "/api/servers/" + std::to_string(id) + p;
  }
  http::ClientResponse call(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    http::Headers h;
    if (!body.empty()) h.set("Content-Type", "application/json");
    return client_->call(method, path, token_, body, h);
  }
  // Types `keys` into the server's console WebSocket, one frame per key,
  // and waits for the echo of the last one.
  void type_into_console(int64_t id, const std::string& keys) {
    http::Headers h;
    h.set("Authorization", "Bearer " + token_);
    int status = 0;
    auto ws = http::WsClient::connect("ws://" + api_->addr() + ":8080" + srv(id, "/console"), h,
                                      10s, &status);
    ASSERT_TRUE(ws) << status << " " << ws.error().message << "\n" << api_->log();
    for (char k : keys) ASSERT_TRUE((*ws)->send(std::string(1, k), true));
    std::string echoed;
    ASSERT_TRUE(eventually(
        [&] {
          auto m = (*ws)->read(100ms);
          if (m) echoed += m->data;
          return echoed == keys;
        },
        10s))
        << echoed;
    (*ws)->close();
  }
  void wait_count(int64_t id, size_t n) {
    EXPECT_TRUE(eventually([&] { return activity(id)["activity"].size() >= n; }, 10s))
        << activity(id);
  }
  // The whole activity log of `id` as ann sees it, newest first.
  json activity(int64_t id, const std::string& query = "") {
    auto r = call("GET", srv(id, "/activity" + query));
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j : json::object();
  }

  FakeAgent agent_;
  std::string dir_, token_, other_;
  std::unique_ptr<ApiProcess> api_;
  std::unique_ptr<ApiClient> client_;
  int64_t game_ = 0, dev_ = 0;
};

TEST_F(ActivityTest, PowerFilesConsoleAndBackupsAppearWithWhoAndWhere) {
  for (const char* a : {"start", "restart", "kill"})
    EXPECT_EQ(call("POST", srv(game_, std::string("/") + a)).status, 200) << a;
  auto w = call("PUT", srv(game_, "/files/write?path=server.properties"), "motd=hi");
  EXPECT_EQ(w.status, 200) << w.body;
  wait_count(game_, 4);  // written off the I/O thread: let it land before the next
  auto mk = call("POST", srv(game_, "/files/mkdir"), R"({"path":"world/new"})");
  EXPECT_EQ(mk.status, 201) << mk.body;
  // A refused change is not activity.
  EXPECT_EQ(call("POST", srv(game_, "/files/rename"), R"({"from":"a","to":"b"})").status, 409);
  auto cmd = call("POST", srv(game_, "/command"), R"({"command":"say hello"})");
  EXPECT_EQ(cmd.status, 204) << cmd.body;
  EXPECT_EQ(call("POST", srv(game_, "/command"), R"({"command":""})").status, 400);
  EXPECT_EQ(call("POST", srv(dev_, "/command"), R"({"command":"ls"})").status, 409);
  type_into_console(game_, "op annx\x7f\r");
  wait_count(game_, 7);
  auto b = call("POST", srv(game_, "/backups"), R"({"name":"before"})");
  EXPECT_EQ(b.status, 202) << b.body;

  std::vector<std::string> want = {"server.start",    "server.restart", "server.kill",
                                   "files.write",     "files.mkdir",    "console.command",
                                   "console.command", "backup.create"};
  json log;
  ASSERT_TRUE(eventually(
      [&] {
        log = activity(game_);
        return log["activity"].size() >= want.size();
      },
      10s))
      << log;
  std::vector<std::string> got;
  for (const auto& e : log["activity"]) got.insert(got.begin(), e["action"].get<std::string>());
  EXPECT_EQ(got, want) << log;
  for (const auto& e : log["activity"]) {
    EXPECT_EQ(e["actor"]["username"], "ann") << e;
    EXPECT_EQ(e["remote_addr"].get<std::string>().rfind("127.", 0), 0u) << e;
    EXPECT_GT(e["at"].get<int64_t>(), 1700000000) << e;
  }
  const json& a = log["activity"];
  EXPECT_EQ(a[1]["detail"], json({{"command", "op ann"}, {"via", "console"}}));
  EXPECT_EQ(a[2]["detail"], json({{"command", "say hello"}, {"via", "api"}}));
  EXPECT_EQ(a[3]["detail"], json({{"path", "world/new"}}));
  EXPECT_EQ(a[4]["detail"], json({{"path", "server.properties"}}));

  // Paging: two at a time, newest first, until next_before is null.
  std::vector<int64_t> ids;
  std::string q = "?limit=2";
  for (int page = 0; page < 10; ++page) {
    json p = activity(game_, q);
    for (const auto& e : p["activity"]) ids.push_back(e["id"]);
    if (p["next_before"].is_null()) break;
    q = "?limit=2&before=" + std::to_string(p["next_before"].get<int64_t>());
  }
  ASSERT_EQ(ids.size(), want.size());
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));
  EXPECT_EQ(call("GET", srv(game_, "/activity?limit=201")).status, 400);
  EXPECT_EQ(call("GET", srv(game_, "/activity?before=x")).status, 400);
  // Not yours: 404, like a missing server.
  EXPECT_EQ(client_->call("GET", srv(game_, "/activity"), other_).status, 404);
}

TEST_F(ActivityTest, ADevShellsInputIsNeverRecorded) {
  type_into_console(dev_, "export TOKEN=secret\r");
  type_into_console(game_, "list\r");  // recorded: proves the relay wrote by then
  ASSERT_TRUE(eventually([&] { return activity(game_)["activity"].size() == 1; }, 10s));
  EXPECT_EQ(activity(dev_)["activity"], json::array());
}

}  // namespace
}  // namespace zlh::testing
