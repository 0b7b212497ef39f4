#include "api/schedules/schedule_spec.hpp"

#include <gtest/gtest.h>

namespace zlh::api::schedules {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const store::Time kNow = store::Time(1795514400000ms);  // 2026-11-24T10:00:00Z

json valid() {
  return json{{"name", "nightly restart"},
              {"cron", "0 4 * * *"},
              {"timezone", "Europe/Berlin"},
              {"tasks",
               {{{"action", "command"}, {"payload", "say restart in 5 minutes"}, {"offset_s", 0}},
                {{"action", "power"}, {"payload", "restart"}, {"offset_s", 300}},
                {{"action", "backup"}, {"payload", nullptr}}}}};
}

// The field named by the error of `body`.
std::string bad_field(const json& body) {
  auto r = parse_new_schedule(body, 1, kNow);
  if (r) return "accepted";
  EXPECT_EQ(r.error().code, codes::kInvalid);
  return r.error().field;
}

json with(json body, const std::string& key, json value) {
  body[key] = std::move(value);
  return body;
}

json with_task(json body, size_t i, const std::string& key, json value) {
  body["tasks"][i][key] = std::move(value);
  return body;
}

TEST(ScheduleSpec, AValidBodyWithDefaults) {
  auto r = parse_new_schedule(valid(), 7, kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->server_id, 7);
  EXPECT_TRUE(r->enabled && r->catch_up && !r->only_when_running);
  // 04:00 in Berlin (CET, +1) on the next day: 03:00 UTC on 2026-11-25.
  EXPECT_EQ(r->next_run_at, kNow + 17h);
  auto tasks = json::parse(r->tasks);
  EXPECT_EQ(tasks[1], (json{{"action", "power"}, {"payload", "restart"}, {"offset_s", 300}}));
  EXPECT_EQ(tasks[2]["offset_s"], 0);
  auto utc = parse_new_schedule(with(valid(), "timezone", "UTC"), 7, kNow);
  ASSERT_TRUE(utc);
  EXPECT_EQ(utc->timezone, "UTC");
  json no_tz = valid();
  no_tz.erase("timezone");
  EXPECT_EQ(parse_new_schedule(no_tz, 7, kNow)->timezone, "UTC");
  auto off = parse_new_schedule(with(valid(), "enabled", false), 7, kNow);
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->next_run_at);
}

TEST(ScheduleSpec, EveryRuleNamesItsField) {
  EXPECT_EQ(bad_field(json::array()), "body");
  EXPECT_EQ(bad_field(with(valid(), "name", "")), "name");
  EXPECT_EQ(bad_field(with(valid(), "name", std::string(65, 'n'))), "name");
  EXPECT_EQ(bad_field(with(valid(), "name", "a\nb")), "name");
  EXPECT_EQ(bad_field(with(valid(), "cron", "61 * * * *")), "cron");
  EXPECT_EQ(bad_field(with(valid(), "cron", "0 0 30 2 *")), "cron");  // never fires
  EXPECT_EQ(bad_field(with(valid(), "timezone", "Europe/Nowhere")), "timezone");
  EXPECT_EQ(bad_field(with(valid(), "enabled", "yes")), "enabled");
  EXPECT_EQ(bad_field(with(valid(), "colour", "red")), "colour");
  EXPECT_EQ(bad_field(with(valid(), "tasks", json::array())), "tasks");
  EXPECT_EQ(bad_field(with(valid(), "tasks", json::object())), "tasks");
  json many = valid();
  for (int i = 0; i < 20; ++i) many["tasks"].push_back(valid()["tasks"][0]);
  EXPECT_EQ(bad_field(many), "tasks");
  EXPECT_EQ(bad_field(with_task(valid(), 0, "action", "reboot")), "tasks[0].action");
  EXPECT_EQ(bad_field(with_task(valid(), 1, "payload", "kill")), "tasks[1].payload");
  EXPECT_EQ(bad_field(with_task(valid(), 0, "payload", "")), "tasks[0].payload");
  EXPECT_EQ(bad_field(with_task(valid(), 0, "payload", std::string(257, 'x'))), "tasks[0].payload");
  EXPECT_EQ(bad_field(with_task(valid(), 0, "payload", "say\x01")), "tasks[0].payload");
  EXPECT_EQ(bad_field(with_task(valid(), 0, "payload", nullptr)), "tasks[0].payload");
  EXPECT_EQ(bad_field(with_task(valid(), 2, "payload", 5)), "tasks[2].payload");
  EXPECT_EQ(bad_field(with_task(valid(), 1, "offset_s", -1)), "tasks[1].offset_s");
  EXPECT_EQ(bad_field(with_task(valid(), 1, "offset_s", 86401)), "tasks[1].offset_s");
  EXPECT_EQ(bad_field(with_task(valid(), 1, "offset_s", 1.5)), "tasks[1].offset_s");
  EXPECT_EQ(bad_field(with_task(valid(), 1, "when", 1)), "tasks[1].when");
  EXPECT_EQ(bad_field(with(valid(), "tasks", json::array({"restart"}))), "tasks[0]");
  json missing = valid();
  missing.erase("cron");
  EXPECT_EQ(bad_field(missing), "cron");
  // 256 bytes is allowed.
  EXPECT_EQ(bad_field(with_task(valid(), 0, "payload", std::string(256, 'x'))), "accepted");
}

TEST(ScheduleSpec, PatchMergesAndRecomputesTheNextRun) {
  auto ns = parse_new_schedule(valid(), 7, kNow);
  ASSERT_TRUE(ns);
  store::Schedule cur{.id = 3,
                      .server_id = 7,
                      .name = ns->name,
                      .cron = ns->cron,
                      .timezone = ns->timezone,
                      .tasks = ns->tasks,
                      .next_run_at = ns->next_run_at};
  auto u = parse_schedule_patch(json{{"cron", "30 10 * * *"}, {"timezone", "UTC"}}, cur, kNow);
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->name, "nightly restart");
  EXPECT_EQ(u->next_run_at, kNow + 30min);
  EXPECT_EQ(json::parse(*u->tasks).size(), 3u);
  auto off = parse_schedule_patch(json{{"enabled", false}}, cur, kNow);
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->next_run_at);
  auto bad = parse_schedule_patch(json{{"timezone", "Nowhere"}}, cur, kNow);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "timezone");
}

TEST(ScheduleSpec, WireForms) {
  store::ScheduleRun r{.id = 9,
                       .schedule_id = 3,
                       .fire_time = kNow,
                       .state = store::RunState::kFailed,
                       .tasks = R"([{"action":"power","state":"failed","error":"x"}])",
                       .error = "task 1 (power restart): x",
                       .started_at = kNow + 1s};
  json j = run_json(r);
  EXPECT_EQ(j["fire_time"], 1795514400000);
  EXPECT_EQ(j["started_at"], 1795514401000);
  EXPECT_TRUE(j["finished_at"].is_null());
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["error"], "task 1 (power restart): x");
  EXPECT_EQ(j["tasks"][0]["error"], "x");
  store::Schedule s{.id = 3, .name = "n", .tasks = "[]"};
  json sj = schedule_json(s, {r});
  EXPECT_TRUE(sj["next_run_at"].is_null());
  EXPECT_EQ(sj["last_runs"].size(), 1u);
  for (const char* k : {"id", "name", "cron", "timezone", "enabled", "catch_up",
                        "only_when_running", "tasks", "next_run_at", "last_runs"})
    EXPECT_TRUE(sj.contains(k)) << k;
}

}  // namespace
}  // namespace zlh::api::schedules
