// Schedules end to end (docs/schedules.md): the real zlh-api on loopback
// with a server whose agent is a fake written here — an HTTP server on the
// server's loopback address, port 18888, that records every call with the
// time it came. The server row is written into the API's store while the
// API is stopped (the test links the store), so no container is needed.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "api/store/store.hpp"
#include "harness.hpp"
#include "http/server.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;

// The fake agent: POST /console/command (204; a command "fail-me" is
// refused 409 E_CONFLICT like the agent does for a stopped workload), POST
// /{start,stop,restart} (200), GET /status {"state":"running"}.
class FakeAgent {
 public:
  struct Call {
    std::string path, command;
    SysTime at;
  };

  FakeAgent() : addr_(unique_loopback()) {
    http::Router r;
    http::RouteOptions pub;
    pub.is_public = true;
    r.add_sync(
        "GET", "/status",
        [](http::Request&) {
          return http::Response::json(200, {{"state", "running"}});
        },
        pub);
    r.add_sync(
        "POST", "/console/command",
        [this](http::Request& req) {
          auto j = json::parse(req.body, nullptr, false);
          std::string cmd = j.is_object() ? j.value("command", "") : "";
          record("/console/command", cmd);
          if (cmd == "fail-me")
            return http::Response::json(
                409,
                {{"error", {{"code", "E_CONFLICT"}, {"message", "the workload is not running"}}}});
          http::Response none;
          none.status = 204;
          return none;
        },
        pub);
    for (std::string action : {"start", "stop", "restart"})
      r.add_sync(
          "POST", "/" + action,
          [this, action](http::Request&) {
            record("/" + action, "");
            return http::Response::json(200, {{"action", action}});
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
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  void record(std::string path, std::string command) {
    std::lock_guard lock(mu_);
    calls_.push_back({std::move(path), std::move(command), std::chrono::system_clock::now()});
  }

  std::string addr_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Call> calls_;
};

SysTime from_ms(int64_t ms) { return SysTime(std::chrono::milliseconds(ms)); }

class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("schedule");
    make_tool_store(dir_, dir_ + "/store", dir_ + "/keys");
    ASSERT_FALSE(HasFatalFailure());
    api_ = std::make_unique<ApiProcess>(dir_, dir_ + "/store", dir_ + "/keys");
    ASSERT_TRUE(api_->start()) << api_->log();
    client_ = std::make_unique<ApiClient>(api_->base());
    token_ = client_->register_user("sched");
    ASSERT_FALSE(token_.empty());
    api_->stop(SIGTERM);
    seed_server();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(api_->start()) << api_->log();
  }
  void TearDown() override {
    api_.reset();
    remove_unless_failed(dir_);
  }

  // A ready, running server of the user whose agent is the fake.
  void seed_server() {
    auto store = api::store::Store::open(api_->data() + "/zlh.db");
    ASSERT_TRUE(store) << store.error().message;
    auto user = (*store)->find_user_by_login("sched");
    ASSERT_TRUE(user);
    api::store::NewServer ns;
    ns.owner_id = user->id;
    ns.name = "scheduled";
    ns.hostname_prefix = "dev-";
    auto c = (*store)->create_server(ns, std::vector<std::string>{"seeded by the test"});
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE((*store)->update_job_state(c->job.id, api::store::JobState::kRunning));
    ASSERT_TRUE((*store)->update_job_state(c->job.id, api::store::JobState::kDone));
    ASSERT_TRUE((*store)->update_server(
        c->server.id,
        {.state = api::store::ServerState::kReady, .ip = agent_.addr(), .agent_state = "running"}));
    server_ = c->server.id;
  }

  json create(const json& body) {
    auto r = client_->call("POST", path(), token_, body.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  // The schedule `id` as GET …/schedules shows it (null when absent).
  json schedule(int64_t id) {
    auto r = client_->call("GET", path(), token_);
    auto j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object()) return nullptr;
    for (const auto& s : j["schedules"])
      if (s["id"] == id) return s;
    return nullptr;
  }

  // Waits for the schedule's newest run to end; that run (null on timeout).
  json wait_run_end(int64_t id, std::chrono::seconds timeout) {
    json run;
    eventually(
        [&] {
          json s = schedule(id);
          if (s.is_null() || s["last_runs"].empty()) return false;
          run = s["last_runs"][0];
          return run["state"] != "running";
        },
        timeout);
    return run;
  }

  std::string path() const { return "/api/servers/" + std::to_string(server_) + "/schedules"; }

  FakeAgent agent_;
  std::string dir_, token_;
  std::unique_ptr<ApiProcess> api_;
  std::unique_ptr<ApiClient> client_;
  int64_t server_ = 0;
};

TEST_F(ScheduleTest, EveryMinuteRunsTasksInOrderWithOffsetsAndShowsFailures) {
  json a = create({{"name", "restart"},
                   {"cron", "* * * * *"},
                   {"tasks",
                    {{{"action", "command"}, {"payload", "say restarting"}, {"offset_s", 0}},
                     {{"action", "power"}, {"payload", "restart"}, {"offset_s", 2}}}}});
  json b = create({{"name", "broken"},
                   {"cron", "* * * * *"},
                   {"tasks",
                    {{{"action", "command"}, {"payload", "fail-me"}},
                     {{"action", "power"}, {"payload", "stop"}}}}});
  ASSERT_TRUE(a["next_run_at"].is_number());
  const int64_t fire = a["next_run_at"];

  json run_a = wait_run_end(a["id"], 75s);
  ASSERT_EQ(run_a["state"], "ok") << run_a;
  EXPECT_EQ(run_a["fire_time"], fire);
  ASSERT_EQ(run_a["tasks"].size(), 2u);
  EXPECT_EQ(run_a["tasks"][0]["state"], "ok");
  EXPECT_EQ(run_a["tasks"][1]["state"], "ok");

  auto calls = agent_.calls();
  std::vector<FakeAgent::Call> mine;
  for (const auto& c : calls)
    if (c.command == "say restarting" || c.path == "/restart") mine.push_back(c);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].path, "/console/command");
  EXPECT_EQ(mine[1].path, "/restart");
  EXPECT_GE(mine[1].at - mine[0].at, 2s);  // the offset, after the first task ended
  EXPECT_GE(mine[0].at, from_ms(fire));    // not before its fire

  json run_b = wait_run_end(b["id"], 20s);
  ASSERT_EQ(run_b["state"], "failed") << run_b;
  EXPECT_EQ(run_b["error"],
            "task 1 (command): E_CONFLICT: agent /console/command: the workload is not running");
  EXPECT_EQ(run_b["tasks"][0]["state"], "failed");
  EXPECT_EQ(run_b["tasks"][0]["error"],
            "E_CONFLICT: agent /console/command: the workload is not running");
  EXPECT_EQ(run_b["tasks"][1]["state"], "skipped");
  for (const auto& c : agent_.calls()) EXPECT_NE(c.path, "/stop");  // never ran
}

TEST_F(ScheduleTest, AMissedRunRunsOnceAfterARestart) {
  json c = create({{"name", "tick"},
                   {"cron", "* * * * *"},
                   {"tasks", {{{"action", "command"}, {"payload", "say tick"}}}}});
  int64_t missed = c["next_run_at"];
  // Too close to that fire to stop before it: miss the one after.
  if (from_ms(missed) - std::chrono::system_clock::now() < 8s) {
    ASSERT_EQ(wait_run_end(c["id"], 30s)["state"], "ok");
    missed += 60000;
  }
  api_->stop(SIGTERM);
  ASSERT_TRUE(
      eventually([&] { return std::chrono::system_clock::now() > from_ms(missed) + 2s; }, 70s));
  const auto before = agent_.calls().size();
  ASSERT_TRUE(api_->start()) << api_->log();

  json run;
  ASSERT_TRUE(eventually(
      [&] {
        json s = schedule(c["id"]);
        if (s.is_null()) return false;
        for (const auto& r : s["last_runs"])
          if (r["fire_time"] == missed && r["state"] != "running") run = r;
        return !run.is_null();
      },
      20s))
      << api_->log();
  EXPECT_EQ(run["state"], "ok") << run;
  json s = schedule(c["id"]);
  int runs_of_missed = 0;
  for (const auto& r : s["last_runs"]) runs_of_missed += r["fire_time"] == missed ? 1 : 0;
  EXPECT_EQ(runs_of_missed, 1);
  // The agent heard the missed fire's command exactly once before the next fire.
  auto calls = agent_.calls();
  int ticks = 0;
  for (size_t i = before; i < calls.size(); ++i)
    if (calls[i].command == "say tick" && calls[i].at < from_ms(missed) + 60s) ++ticks;
  EXPECT_EQ(ticks, 1);
  EXPECT_GT(s["next_run_at"].get<int64_t>(), missed);
}

TEST_F(ScheduleTest, NotYoursIsNotFound) {
  json a = create({{"name", "mine"},
                   {"cron", "0 4 * * *"},
                   {"timezone", "Europe/Berlin"},
                   {"tasks", {{{"action", "power"}, {"payload", "restart"}}}}});
  const std::string other = client_->register_user("other");
  const std::string one = path() + "/" + std::to_string(a["id"].get<int64_t>());
  EXPECT_EQ(client_->call("GET", path(), other).status, 404);
  EXPECT_EQ(client_->call("POST", path(), other, json{{"name", "x"}}.dump()).status, 404);
  EXPECT_EQ(client_->call("PATCH", one, other, json{{"enabled", false}}.dump()).status, 404);
  EXPECT_EQ(client_->call("POST", one + "/run", other).status, 404);
  EXPECT_EQ(client_->call("DELETE", one, other).status, 404);
  // Still there, unchanged; a bad body names its field; then deleted.
  EXPECT_EQ(schedule(a["id"])["enabled"], true);
  auto bad = client_->call("PATCH", one, token_, json{{"cron", "* * 31 2 *"}}.dump());
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("never fires"), std::string::npos) << bad.body;
  auto off = client_->call("PATCH", one, token_, json{{"enabled", false}}.dump());
  EXPECT_EQ(off.status, 200) << off.body;
  EXPECT_TRUE(json::parse(off.body)["next_run_at"].is_null());
  EXPECT_EQ(client_->call("DELETE", one, token_).status, 204);
  EXPECT_TRUE(schedule(a["id"]).is_null());
}

}  // namespace
}  // namespace zlh::testing
