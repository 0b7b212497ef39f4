// A schedule as the API reads and writes it (docs/schedules.md): the body
// of POST/PATCH /api/servers/{id}/schedules checked completely before
// anything is stored, the tasks, and the wire form of schedules and runs.
//
//   {"name", "cron": "m h dom mon dow", "timezone": "UTC", "enabled": true,
//    "catch_up": true, "only_when_running": false,
//    "tasks": [{"action": "command"|"power"|"backup", "payload": …, "offset_s": 0}]}
//
// Rules (each failure is E_INVALID naming the field, e.g. "tasks[1].payload"):
// name 1..64 bytes without control characters; cron parses (cron.hpp) and
// fires at least once in 28 years; timezone is in the tz database; 1..20
// tasks; power payload start|stop|restart; command payload 1..256 bytes
// without control characters; backup payload null or a name (1..64 bytes,
// no control characters); offset_s an integer 0..86400; no other fields.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/store/store.hpp"
#include "base/enum_names.hpp"
#include "base/error.hpp"

namespace zlh::api::schedules {

enum class TaskAction { kPower, kCommand, kBackup };
inline constexpr EnumNames<TaskAction, 3> kTaskActionNames{{"power", "command", "backup"}};
static_assert(kTaskActionNames.covers(TaskAction::kBackup));

struct Task {
  TaskAction action = TaskAction::kCommand;
  std::optional<std::string> payload;  // none only for a backup without a name
  int offset_s = 0;                    // after the previous task ended (the first: the fire)
};

inline constexpr int kMaxTasks = 20;
inline constexpr int kMaxOffsetS = 86400;

// The tasks array of a body (or of a stored schedule).
Result<std::vector<Task>> parse_tasks(const nlohmann::json& tasks);
nlohmann::json tasks_json(const std::vector<Task>& tasks);

// A POST body as a new schedule of `server_id`, its next run computed from
// `now` (none when disabled).
Result<store::NewSchedule> parse_new_schedule(const nlohmann::json& body, int64_t server_id,
                                              store::Time now);
// A PATCH body merged over `current`: the update to store, next run
// recomputed from `now`.
Result<store::ScheduleUpdate> parse_schedule_patch(const nlohmann::json& body,
                                                   const store::Schedule& current, store::Time now);

// The next fire of `cron` in `timezone` strictly after `after`.
Result<store::Time> next_run(const std::string& cron, const std::string& timezone,
                             store::Time after);

// Wire forms: times are unix milliseconds (null when absent).
nlohmann::json run_json(const store::ScheduleRun& r);
nlohmann::json schedule_json(const store::Schedule& s, const std::vector<store::ScheduleRun>& runs);

}  // namespace zlh::api::schedules
