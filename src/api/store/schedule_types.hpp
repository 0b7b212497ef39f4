// The store's records of schedules and their runs (docs/schedules.md).
// Plain values like types.hpp's; `tasks` travel as JSON text (an array),
// checked by the routes (schedules/schedule_request) and never interpreted
// by the store.
// Thread-safety: plain values, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/store/types.hpp"
#include "base/enum_names.hpp"

namespace zlh::api::store {

struct NewSchedule {
  int64_t server_id = 0;
  std::string name;
  std::string cron;              // "m h dom mon dow", already parsed by the caller
  std::string timezone = "UTC";  // a tz database name
  bool enabled = true;
  bool catch_up = true;
  bool only_when_running = false;
  std::string tasks = "[]";         // JSON array text
  std::optional<Time> next_run_at;  // none while disabled
};

struct Schedule {
  int64_t id = 0;
  int64_t server_id = 0;
  std::string name{};
  std::string cron{};
  std::string timezone{};
  bool enabled = true;
  bool catch_up = true;
  bool only_when_running = false;
  std::string tasks{};
  std::optional<Time> next_run_at{};
  Time created_at{};
  Time updated_at{};
};

// The fields a PATCH replaces; next_run_at is always written (the caller
// recomputes it from the merged schedule).
struct ScheduleUpdate {
  std::optional<std::string> name{};
  std::optional<std::string> cron{};
  std::optional<std::string> timezone{};
  std::optional<bool> enabled{};
  std::optional<bool> catch_up{};
  std::optional<bool> only_when_running{};
  std::optional<std::string> tasks{};
  std::optional<Time> next_run_at{};
};

// running → ok | failed; skipped is written as final when the run is made.
enum class RunState { kRunning, kOk, kFailed, kSkipped };
inline constexpr EnumNames<RunState, 4> kRunStateNames{{"running", "ok", "failed", "skipped"}};
static_assert(kRunStateNames.covers(RunState::kSkipped));

struct NewRun {
  int64_t schedule_id = 0;
  Time fire_time{};     // the cron fire it runs (or the request's time: run now)
  bool manual = false;  // POST …/run
  RunState state = RunState::kRunning;
  std::string tasks = "[]";  // JSON array text: per-task results
  std::string error{};
};

struct ScheduleRun {
  int64_t id = 0;
  int64_t schedule_id = 0;
  Time fire_time{};
  bool manual = false;
  RunState state = RunState::kRunning;
  std::string tasks{};
  std::string error{};
  Time started_at{};
  std::optional<Time> finished_at{};
};

inline constexpr int kMaxSchedulesPerServer = 32;
inline constexpr int kRunsKept = 20;  // per schedule; older runs are deleted

}  // namespace zlh::api::store
