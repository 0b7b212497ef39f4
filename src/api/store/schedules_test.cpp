#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using testing::StoreTest;
using namespace std::chrono_literals;

class ScheduleStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    owner = make_user("ann");
    NewServer n;
    n.owner_id = owner;
    n.name = "srv";
    n.hostname_prefix = "dev-";
    auto c = store->create_server(n, std::vector<std::string>{"create"});
    ASSERT_TRUE(c) << c.error().to_string();
    server = c->server.id;
  }

  NewSchedule schedule(const std::string& name = "nightly") {
    NewSchedule s;
    s.server_id = server;
    s.name = name;
    s.cron = "0 4 * * *";
    s.timezone = "Europe/Berlin";
    s.tasks = R"([{"action":"power","payload":"restart","offset_s":0}])";
    s.next_run_at = clock.now() + 1h;
    return s;
  }

  int64_t owner = 0, server = 0;
};

TEST_P(ScheduleStoreTest, CreateReadListUpdateDelete) {
  auto a = store->create_schedule(schedule("a"));
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->server_id, server);
  EXPECT_EQ(a->name, "a");
  EXPECT_EQ(a->timezone, "Europe/Berlin");
  EXPECT_TRUE(a->enabled && a->catch_up && !a->only_when_running);
  EXPECT_EQ(a->next_run_at, clock.now() + 1h);
  EXPECT_EQ(a->created_at, clock.now());
  auto b = store->create_schedule(schedule("b"));
  ASSERT_TRUE(b);

  auto list = store->list_schedules(server);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");

  clock.advance(5s);
  auto u = store->update_schedule(
      server, a->id, {.name = "renamed", .enabled = false, .next_run_at = std::nullopt});
  ASSERT_TRUE(u) << u.error().to_string();
  EXPECT_EQ(u->name, "renamed");
  EXPECT_FALSE(u->enabled);
  EXPECT_FALSE(u->next_run_at);
  EXPECT_EQ(u->cron, "0 4 * * *");  // absent fields keep their value
  EXPECT_EQ(u->updated_at, clock.now());

  ASSERT_TRUE(store->delete_schedule(server, a->id));
  EXPECT_EQ(store->get_schedule(server, a->id).error().code, codes::kNotFound);
  EXPECT_EQ(store->delete_schedule(server, a->id).error().code, codes::kNotFound);
  EXPECT_EQ(store->list_schedules(server)->size(), 1u);
}

TEST_P(ScheduleStoreTest, ScopedByServer) {
  auto a = store->create_schedule(schedule());
  ASSERT_TRUE(a);
  NewServer n;
  n.owner_id = owner;
  auto other = store->create_server(n, std::vector<std::string>{"create"});
  ASSERT_TRUE(other);
  const int64_t o = other->server.id;
  EXPECT_EQ(store->get_schedule(o, a->id).error().code, codes::kNotFound);
  EXPECT_EQ(store->update_schedule(o, a->id, {.name = "x"}).error().code, codes::kNotFound);
  EXPECT_EQ(store->delete_schedule(o, a->id).error().code, codes::kNotFound);
  EXPECT_TRUE(store->get_schedule(server, a->id));
}

TEST_P(ScheduleStoreTest, RefusesBadInput) {
  auto s = schedule();
  s.tasks = R"({"action":"power"})";
  EXPECT_EQ(store->create_schedule(s).error().field, "tasks");
  s = schedule();
  s.name = "";
  EXPECT_EQ(store->create_schedule(s).error().field, "name");
  s = schedule();
  s.server_id = 999;
  EXPECT_EQ(store->create_schedule(s).error().code, codes::kNotFound);
  for (int i = 0; i < kMaxSchedulesPerServer; ++i) ASSERT_TRUE(store->create_schedule(schedule()));
  EXPECT_EQ(store->create_schedule(schedule()).error().code, codes::kQuota);
}

TEST_P(ScheduleStoreTest, ActiveSchedulesSoonestFirstOnLiveServers) {
  auto late = schedule("late");
  late.next_run_at = clock.now() + 2h;
  auto off = schedule("off");
  off.enabled = false;
  off.next_run_at.reset();
  ASSERT_TRUE(store->create_schedule(late));
  ASSERT_TRUE(store->create_schedule(off));
  ASSERT_TRUE(store->create_schedule(schedule("soon")));
  auto active = store->list_active_schedules();
  ASSERT_TRUE(active);
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].name, "soon");
  EXPECT_EQ((*active)[1].name, "late");
}

TEST_P(ScheduleStoreTest, AdvanceIsCompareAndSet) {
  auto a = store->create_schedule(schedule());
  ASSERT_TRUE(a);
  const Time t = *a->next_run_at;
  auto moved = store->advance_schedule(a->id, t, t + 24h);
  ASSERT_TRUE(moved);
  EXPECT_TRUE(*moved);
  // A second advance from the old value loses: a PATCH changed it meanwhile.
  auto again = store->advance_schedule(a->id, t, t + 48h);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(store->get_schedule(server, a->id)->next_run_at, t + 24h);
  EXPECT_EQ(store->advance_schedule(12345, t, t).error().code, codes::kNotFound);
}

TEST_P(ScheduleStoreTest, EachFireIsClaimedOnce) {
  auto a = store->create_schedule(schedule());
  ASSERT_TRUE(a);
  const Time fire = clock.now();
  auto run = store->create_run({.schedule_id = a->id, .fire_time = fire, .tasks = "[]"});
  ASSERT_TRUE(run) << run.error().to_string();
  EXPECT_EQ(run->state, RunState::kRunning);
  EXPECT_FALSE(run->finished_at);
  auto twice = store->create_run({.schedule_id = a->id, .fire_time = fire, .tasks = "[]"});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, codes::kConflict);
  // Another fire of the same schedule is a new run.
  EXPECT_TRUE(store->create_run({.schedule_id = a->id, .fire_time = fire + 1min, .tasks = "[]"}));
  EXPECT_EQ(store->create_run({.schedule_id = 999, .fire_time = fire}).error().code,
            codes::kNotFound);
}

TEST_P(ScheduleStoreTest, RunResultsAndInterruptedRuns) {
  auto a = store->create_schedule(schedule());
  ASSERT_TRUE(a);
  auto run = store->create_run({.schedule_id = a->id, .fire_time = clock.now()});
  ASSERT_TRUE(run);
  auto running = store->list_running_runs();
  ASSERT_TRUE(running);
  ASSERT_EQ(running->size(), 1u);
  clock.advance(3s);
  auto done = store->update_run(run->id, RunState::kFailed,
                                R"([{"action":"power","state":"failed","error":"E_UPSTREAM"}])",
                                "task 1 (power): E_UPSTREAM");
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_EQ(done->state, RunState::kFailed);
  EXPECT_EQ(done->error, "task 1 (power): E_UPSTREAM");
  EXPECT_EQ(done->finished_at, clock.now());
  EXPECT_TRUE(store->list_running_runs()->empty());
  EXPECT_EQ(store->update_run(run->id, RunState::kOk, "nope", "").error().field, "tasks");
  EXPECT_EQ(store->update_run(999, RunState::kOk, "[]", "").error().code, codes::kNotFound);

  auto skipped = store->create_run({.schedule_id = a->id,
                                    .fire_time = clock.now(),
                                    .state = RunState::kSkipped,
                                    .error = "the server is not running"});
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->finished_at, clock.now());
  auto runs = store->list_runs(a->id, 10);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, skipped->id);  // newest first
}

TEST_P(ScheduleStoreTest, OldRunsAreTrimmed) {
  auto a = store->create_schedule(schedule());
  ASSERT_TRUE(a);
  for (int i = 0; i < kRunsKept + 5; ++i)
    ASSERT_TRUE(store->create_run({.schedule_id = a->id,
                                   .fire_time = clock.now() + std::chrono::minutes(i),
                                   .state = RunState::kOk}));
  auto runs = store->list_runs(a->id, 100);
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->size(), size_t(kRunsKept));
  EXPECT_EQ(runs->front().fire_time, clock.now() + std::chrono::minutes(kRunsKept + 4));
}

TEST_P(ScheduleStoreTest, SchedulesDieWithTheServer) {
  auto a = store->create_schedule(schedule());
  ASSERT_TRUE(a);
  ASSERT_TRUE(store->create_run({.schedule_id = a->id, .fire_time = clock.now()}));
  ASSERT_TRUE(store->delete_server(server));
  EXPECT_TRUE(store->list_schedules(server)->empty());
  EXPECT_TRUE(store->list_running_runs()->empty());
  EXPECT_TRUE(store->list_active_schedules()->empty());
  EXPECT_EQ(store->create_schedule(schedule()).error().code, codes::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Engines, ScheduleStoreTest, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
