#include "api/schedules/scheduler.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "api/jobs/agent_client.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::schedules {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using store::RunState;
using store::Time;

struct Call {
  std::string action, payload;
  Time at;
};

// A store with one ready, running server, a fake clock, and tasks that
// record what they were asked (a command "fail" fails).
class SchedulerTest : public store::testing::SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    NewServer();
    opts.now = clock.fn();
    opts.sleep_until = [this](Time t) {
      if (clock.now() < t) clock.set(t);
      return true;
    };
    scheduler = std::make_unique<Scheduler>(*store, tasks(), opts);
  }
  void TearDown() override { scheduler.reset(); }

  void NewServer() {
    store::NewServer n;
    n.owner_id = make_user("ann");
    n.name = "srv";
    auto c = store->create_server(n, std::vector<std::string>{"create"});
    ASSERT_TRUE(c);
    server = c->server.id;
    ASSERT_TRUE(store->update_server(
        server, {.state = store::ServerState::kReady, .ip = "10.1.2.3", .agent_state = "running"}));
  }

  TaskFn tasks() {
    return [this](const store::Server& s, const Task& t, const store::Schedule&) -> Result<json> {
      std::lock_guard lock(mu);
      calls.push_back(
          {std::string(kTaskActionNames.name(t.action)), t.payload.value_or(""), clock.now()});
      if (t.payload == "fail") return fail(codes::kConflict, "the workload is not running");
      return json{{"seen_ip", s.ip}};
    };
  }

  store::Schedule make(const std::string& tasks_json, bool catch_up = true,
                       bool only_when_running = false) {
    auto ns = parse_new_schedule(json{{"name", "s"},
                                      {"cron", "* * * * *"},
                                      {"catch_up", catch_up},
                                      {"only_when_running", only_when_running},
                                      {"tasks", json::parse(tasks_json)}},
                                 server, clock.now());
    EXPECT_TRUE(ns) << ns.error().message;
    auto s = store->create_schedule(*ns);
    EXPECT_TRUE(s);
    return *s;
  }

  store::ScheduleRun last_run(int64_t schedule_id) {
    auto runs = store->list_runs(schedule_id, 100);
    EXPECT_TRUE(runs && !runs->empty());
    return runs->front();
  }

  SchedulerOptions opts;
  std::unique_ptr<Scheduler> scheduler;
  int64_t server = 0;
  std::mutex mu;
  std::vector<Call> calls;
};

TEST_F(SchedulerTest, RunsTasksInOrderWithTheirOffsets) {
  auto s = make(R"([{"action":"command","payload":"say hi","offset_s":0},
                    {"action":"power","payload":"restart","offset_s":2},
                    {"action":"command","payload":"say back","offset_s":30}])");
  const Time fire = *s.next_run_at;
  EXPECT_EQ(scheduler->fire_due(), 0);  // not yet due
  clock.set(fire + 1s);
  EXPECT_EQ(scheduler->fire_due(), 1);
  scheduler->wait_idle();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].payload, "say hi");
  EXPECT_EQ(calls[1].action, "power");
  EXPECT_EQ(calls[1].at - calls[0].at, 2s);
  EXPECT_EQ(calls[2].at - calls[1].at, 30s);
  auto run = last_run(s.id);
  EXPECT_EQ(run.state, RunState::kOk);
  EXPECT_EQ(run.fire_time, fire);
  EXPECT_FALSE(run.manual);
  auto results = json::parse(run.tasks);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r["state"], "ok") << r;
  EXPECT_EQ(results[1]["seen_ip"], "10.1.2.3");
  EXPECT_EQ(store->get_schedule(server, s.id)->next_run_at, fire + 1min);
  EXPECT_EQ(scheduler->fire_due(), 0);  // the same fire never twice
}

TEST_F(SchedulerTest, AFailingTaskIsRecordedAndEndsTheRun) {
  auto s = make(R"([{"action":"command","payload":"fail"},
                    {"action":"power","payload":"restart","offset_s":5}])");
  clock.set(*s.next_run_at);
  EXPECT_EQ(scheduler->fire_due(), 1);
  scheduler->wait_idle();
  ASSERT_EQ(calls.size(), 1u);
  auto run = last_run(s.id);
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.error, "task 1 (command): E_CONFLICT: the workload is not running");
  auto results = json::parse(run.tasks);
  EXPECT_EQ(results[0]["state"], "failed");
  EXPECT_EQ(results[0]["error"], "E_CONFLICT: the workload is not running");
  EXPECT_EQ(results[1]["state"], "skipped");
  EXPECT_EQ(results[1]["error"], "an earlier task failed");
  // The server's activity shows the fire, without an actor.
  auto act = store->list_activity(server, std::nullopt, 10);
  ASSERT_TRUE(act.has_value());
  ASSERT_EQ(act->size(), 1u);
  EXPECT_EQ((*act)[0].action, "schedule.fired");
  EXPECT_FALSE((*act)[0].user_id.has_value());
  auto d = json::parse((*act)[0].detail);
  EXPECT_EQ(d["state"], "failed");
  EXPECT_EQ(d["run_id"], run.id);
}

TEST_F(SchedulerTest, OnlyWhenRunningSkipsAStoppedServer) {
  auto s = make(R"([{"action":"command","payload":"say hi"}])", true, true);
  ASSERT_TRUE(store->update_server(server, {.agent_state = "stopped"}));
  clock.set(*s.next_run_at);
  EXPECT_EQ(scheduler->fire_due(), 1);
  scheduler->wait_idle();
  EXPECT_TRUE(calls.empty());
  auto run = last_run(s.id);
  EXPECT_EQ(run.state, RunState::kSkipped);
  EXPECT_EQ(run.error, "the server is not running (agent state \"stopped\")");
  EXPECT_TRUE(run.finished_at);
  // Running again: the next fire runs.
  ASSERT_TRUE(store->update_server(server, {.agent_state = "running"}));
  clock.advance(1min);
  EXPECT_EQ(scheduler->fire_due(), 1);
  scheduler->wait_idle();
  EXPECT_EQ(calls.size(), 1u);
}

TEST_F(SchedulerTest, MissedFiresCatchUpOnceWithTheLatest) {
  auto s = make(R"([{"action":"command","payload":"say hi"}])");
  const Time first = *s.next_run_at;
  clock.set(first + 10min + 30s);  // down for ten fires
  EXPECT_EQ(scheduler->mark_interrupted(), 0);
  EXPECT_EQ(scheduler->fire_due(), 1);
  scheduler->wait_idle();
  EXPECT_EQ(scheduler->fire_due(), 0);
  scheduler->wait_idle();
  ASSERT_EQ(calls.size(), 1u);
  auto runs = store->list_runs(s.id, 100);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().fire_time, first + 10min);
  EXPECT_EQ(runs->front().state, RunState::kOk);
  EXPECT_EQ(store->get_schedule(server, s.id)->next_run_at, first + 11min);
}

TEST_F(SchedulerTest, MissedFireWithoutCatchUpIsSkipped) {
  auto s = make(R"([{"action":"command","payload":"say hi"}])", false);
  const Time first = *s.next_run_at;
  clock.set(first + 3min + 10s);
  EXPECT_EQ(scheduler->fire_due(), 1);
  scheduler->wait_idle();
  EXPECT_TRUE(calls.empty());
  auto run = last_run(s.id);
  EXPECT_EQ(run.state, RunState::kSkipped);
  EXPECT_EQ(run.fire_time, first + 3min);
  EXPECT_NE(run.error.find("catch_up is off"), std::string::npos);
  EXPECT_EQ(store->get_schedule(server, s.id)->next_run_at, first + 4min);
}

TEST_F(SchedulerTest, AFireClaimedBeforeRunsNoMore) {
  auto s = make(R"([{"action":"command","payload":"say hi"}])");
  const Time fire = *s.next_run_at;
  // Claimed by an earlier process that crashed before moving the schedule on.
  ASSERT_TRUE(store->create_run({.schedule_id = s.id, .fire_time = fire}));
  EXPECT_EQ(scheduler->mark_interrupted(), 1);
  clock.set(fire + 5s);
  EXPECT_EQ(scheduler->fire_due(), 0);
  scheduler->wait_idle();
  EXPECT_TRUE(calls.empty());
  auto run = last_run(s.id);
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.error, "interrupted by a restart");
  EXPECT_EQ(store->get_schedule(server, s.id)->next_run_at, fire + 1min);
}

TEST_F(SchedulerTest, InterruptedTasksAreMarked) {
  auto s = make(R"([{"action":"command","payload":"a"},{"action":"command","payload":"b"}])");
  ASSERT_TRUE(store->create_run({.schedule_id = s.id,
                                 .fire_time = clock.now(),
                                 .tasks = R"([{"action":"command","state":"ok","error":null},
                    {"action":"command","state":"running","error":null}])"}));
  EXPECT_EQ(scheduler->mark_interrupted(), 1);
  auto results = json::parse(last_run(s.id).tasks);
  EXPECT_EQ(results[0]["state"], "ok");
  EXPECT_EQ(results[1]["state"], "failed");
  EXPECT_EQ(results[1]["error"], "interrupted by a restart");
}

TEST_F(SchedulerTest, RunNowRunsAManualRun) {
  auto s = make(R"([{"action":"power","payload":"stop"}])");
  auto run = scheduler->run_now(s);
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_TRUE(run->manual);
  EXPECT_EQ(run->state, RunState::kRunning);
  scheduler->wait_idle();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].payload, "stop");
  EXPECT_EQ(last_run(s.id).state, RunState::kOk);
  // The schedule's own next fire is untouched.
  EXPECT_EQ(store->get_schedule(server, s.id)->next_run_at, s.next_run_at);
}

TEST_F(SchedulerTest, StopInterruptsAnOffsetWait) {
  auto s = make(R"([{"action":"command","payload":"a"},
                    {"action":"command","payload":"b","offset_s":3600}])");
  SchedulerOptions real;  // the real clock and a real wait
  Scheduler sch(*store, tasks(), real);
  auto run = sch.run_now(s);
  ASSERT_TRUE(run);
  // Wait for the first task, then stop while the second waits.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (!calls.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  sch.stop();
  auto r = last_run(s.id);
  EXPECT_EQ(r.state, RunState::kFailed);
  EXPECT_EQ(r.error, "task 2 (command): zlh-api stopped before it ran");
  EXPECT_EQ(calls.size(), 1u);
}

TEST(AgentTasks, BackupWithoutAServiceIsUnavailable) {
  crypto::Ed25519SecretKey key{};
  AgentClient agents(key);
  StartBackupFn none;
  TaskFn fn = agent_tasks(agents, none);
  store::Server srv;
  store::Schedule sch;
  auto r = fn(srv, Task{TaskAction::kBackup, std::nullopt, 0}, sch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kUnavailable);
  EXPECT_EQ(r.error().message, "backups are not configured");
  // A server without a container: power fails before any call.
  auto p = fn(srv, Task{TaskAction::kPower, "restart", 0}, sch);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, codes::kConflict);
  // With a service: its job id is the task's result.
  StartBackupFn some = [](const store::Server&, std::string name) -> Result<int64_t> {
    return int64_t(name.size());  // "scheduled: nightly"
  };
  sch.name = "nightly";
  auto b = agent_tasks(agents, some)(srv, Task{TaskAction::kBackup, std::nullopt, 0}, sch);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["job"], 18);
}

// Replicas (issue 25): two schedulers, each on its own Store of one
// database file, fire the same schedule. Every fire runs exactly once,
// whichever scheduler claims it, even when both fire at the same moment.
TEST_F(SchedulerTest, TwoSchedulersOnOneDatabaseRunEachFireOnce) {
  auto other_store = store::Store::open(db_path(), {.clock = clock.fn()});
  ASSERT_TRUE(other_store) << other_store.error().to_string();
  Scheduler other(**other_store, tasks(), opts);
  auto s = make(R"([{"action":"command","payload":"say hi","offset_s":0}])");
  const Time first = *s.next_run_at;
  constexpr int kFires = 6;
  for (int i = 0; i < kFires; ++i) {
    clock.set(first + std::chrono::minutes(i) + 1s);
    std::thread t([&] { other.fire_due(); });
    scheduler->fire_due();
    t.join();
    other.fire_due();  // late: the fire is claimed and the schedule moved on
    scheduler->fire_due();
  }
  scheduler->wait_idle();
  other.wait_idle();
  auto runs = store->list_runs(s.id, 100);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), size_t(kFires));
  std::set<Time> fires;
  for (const auto& r : *runs) {
    EXPECT_EQ(r.state, RunState::kOk);
    fires.insert(r.fire_time);
  }
  EXPECT_EQ(fires.size(), size_t(kFires));
  EXPECT_EQ(calls.size(), size_t(kFires));
  EXPECT_EQ(store->get_schedule(server, s.id)->next_run_at, first + std::chrono::minutes(kFires));
}

// Replicas: runs left running are another replica's while it is live;
// once this replica is alone they are marked, never its own.
TEST_F(SchedulerTest, RunsLeftRunningAreMarkedOnlyWhenAlone) {
  auto s = make(R"([{"action":"command","payload":"say hi","offset_s":0}])");
  auto theirs = store->create_run({.schedule_id = s.id, .fire_time = clock.now()});
  ASSERT_TRUE(theirs);
  bool alone = false;
  SchedulerOptions o = opts;
  o.alone = [&] { return alone; };
  Scheduler replica(*store, tasks(), o);
  EXPECT_EQ(replica.mark_interrupted(), 0);
  EXPECT_EQ(last_run(s.id).state, RunState::kRunning);
  alone = true;
  EXPECT_EQ(replica.mark_interrupted(), 0);  // started just now: maybe a claim in flight
  clock.advance(1min);
  EXPECT_EQ(replica.mark_interrupted(), 1);
  EXPECT_EQ(last_run(s.id).state, RunState::kFailed);
}

}  // namespace
}  // namespace zlh::api::schedules
