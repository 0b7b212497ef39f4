#include "api/schedules/schedule_spec.hpp"

#include <date/tz.h>

#include "api/schedules/cron.hpp"
#include "proto/catalog.hpp"

namespace zlh::api::schedules {
namespace {

using nlohmann::json;

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// A string of 1..max bytes without control characters.
Result<std::string> text_field(const json& v, const std::string& field, size_t max) {
  if (!v.is_string()) return fail(Error::invalid(field, field + ": not a string"));
  std::string s = v.get<std::string>();
  if (s.empty()) return fail(Error::invalid(field, field + ": empty"));
  if (s.size() > max)
    return fail(Error::invalid(field, field + ": longer than " + std::to_string(max) + " bytes"));
  if (has_control(s))
    return fail(Error::invalid(field, field + ": control characters are not allowed"));
  return s;
}

Result<bool> bool_field(const json& v, const std::string& field) {
  if (!v.is_boolean()) return fail(Error::invalid(field, field + ": not true or false"));
  return v.get<bool>();
}

Result<std::optional<std::string>> task_payload(TaskAction a, const json& p, const std::string& f) {
  switch (a) {
    case TaskAction::kPower: {
      if (!p.is_string() || (p != "start" && p != "stop" && p != "restart"))
        return fail(Error::invalid(f, f + ": a power task's payload is start, stop or restart"));
      return p.get<std::string>();
    }
    case TaskAction::kCommand: {
      // The agent's rule for a console line (POST /console/command), so a
      // schedule never stores a command the agent would refuse.
      if (!p.is_string()) return fail(Error::invalid(f, f + ": not a string"));
      auto cmd = p.get<std::string>();
      if (auto r = catalog::check_console_line(cmd, f); !r) return fail(r.error());
      return std::optional<std::string>(std::move(cmd));
    }
    case TaskAction::kBackup: {
      if (p.is_null()) return std::optional<std::string>();
      auto s = text_field(p, f, 64);
      if (!s) return fail(s.error());
      return std::optional<std::string>(*s);
    }
  }
  return fail(Error::invalid(f, f + ": unknown action"));
}

Result<Task> parse_task(const json& t, const std::string& at) {
  if (!t.is_object()) return fail(Error::invalid(at, at + ": not an object"));
  for (const auto& [k, v] : t.items())
    if (k != "action" && k != "payload" && k != "offset_s")
      return fail(Error::invalid(at + "." + k, at + "." + k + ": unknown field"));
  Task task;
  const json action = t.value("action", json());
  auto a = action.is_string() ? kTaskActionNames.parse(action.get<std::string>()) : std::nullopt;
  if (!a)
    return fail(Error::invalid(at + ".action", at + ".action: one of power, command, backup"));
  task.action = *a;
  auto p = task_payload(task.action, t.value("payload", json()), at + ".payload");
  if (!p) return fail(p.error());
  task.payload = std::move(*p);
  const json off = t.value("offset_s", json(0));
  if (!off.is_number_integer() || off.get<int64_t>() < 0 || off.get<int64_t>() > kMaxOffsetS)
    return fail(Error::invalid(at + ".offset_s",
                               at + ".offset_s: an integer 0.." + std::to_string(kMaxOffsetS)));
  task.offset_s = int(off.get<int64_t>());
  return task;
}

// The merged fields every body is checked against.
struct Fields {
  std::string name, cron, timezone = "UTC";
  bool enabled = true, catch_up = true, only_when_running = false;
  std::vector<Task> tasks;
};

// Applies the body's fields over `f`; `create` requires name, cron, tasks.
Result<void> apply_body(const json& body, Fields& f, bool create) {
  if (!body.is_object()) return fail(Error::invalid("body", "the body is not a JSON object"));
  for (const auto& [k, v] : body.items()) {
    if (k == "name" || k == "cron" || k == "timezone") {
      auto s = text_field(v, k, k == "name" ? 64 : 256);
      if (!s) return fail(s.error());
      (k == "name" ? f.name : k == "cron" ? f.cron : f.timezone) = *s;
    } else if (k == "enabled" || k == "catch_up" || k == "only_when_running") {
      auto b = bool_field(v, k);
      if (!b) return fail(b.error());
      (k == "enabled" ? f.enabled : k == "catch_up" ? f.catch_up : f.only_when_running) = *b;
    } else if (k == "tasks") {
      auto t = parse_tasks(v);
      if (!t) return fail(t.error());
      f.tasks = std::move(*t);
    } else {
      return fail(Error::invalid(k, k + ": unknown field"));
    }
  }
  if (create)
    for (const char* required : {"name", "cron", "tasks"})
      if (!body.contains(required))
        return fail(Error::invalid(required, std::string(required) + ": required"));
  return {};
}

// The next run of checked fields (none when disabled); cron and timezone errors.
Result<std::optional<store::Time>> checked_next(const Fields& f, store::Time now) {
  auto nr = next_run(f.cron, f.timezone, now);
  if (!nr) return fail(nr.error());
  if (!f.enabled) return std::optional<store::Time>();
  return std::optional<store::Time>(*nr);
}

json time_or_null(const std::optional<store::Time>& t) {
  if (!t) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

}  // namespace

Result<std::vector<Task>> parse_tasks(const json& tasks) {
  if (!tasks.is_array()) return fail(Error::invalid("tasks", "tasks: not an array"));
  if (tasks.empty() || tasks.size() > size_t(kMaxTasks))
    return fail(Error::invalid("tasks", "tasks: 1.." + std::to_string(kMaxTasks) + " tasks"));
  std::vector<Task> out;
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto t = parse_task(tasks[i], "tasks[" + std::to_string(i) + "]");
    if (!t) return fail(t.error());
    out.push_back(std::move(*t));
  }
  return out;
}

json tasks_json(const std::vector<Task>& tasks) {
  json out = json::array();
  for (const auto& t : tasks)
    out.push_back({{"action", kTaskActionNames.name(t.action)},
                   {"payload", t.payload ? json(*t.payload) : json(nullptr)},
                   {"offset_s", t.offset_s}});
  return out;
}

Result<store::Time> next_run(const std::string& cron, const std::string& timezone,
                             store::Time after) {
  auto spec = parse_cron(cron);
  if (!spec) return fail(spec.error());
  auto zone = find_zone(timezone);
  if (!zone) return fail(zone.error());
  auto t = next_fire(*spec, std::chrono::floor<std::chrono::seconds>(after), *zone);
  if (!t) return fail(t.error());
  return store::Time(*t);
}

Result<store::NewSchedule> parse_new_schedule(const json& body, int64_t server_id,
                                              store::Time now) {
  Fields f;
  if (auto r = apply_body(body, f, true); !r) return fail(r.error());
  auto next = checked_next(f, now);
  if (!next) return fail(next.error());
  return store::NewSchedule{server_id,
                            f.name,
                            f.cron,
                            f.timezone,
                            f.enabled,
                            f.catch_up,
                            f.only_when_running,
                            tasks_json(f.tasks).dump(),
                            *next};
}

Result<store::ScheduleUpdate> parse_schedule_patch(const json& body, const store::Schedule& cur,
                                                   store::Time now) {
  auto stored = parse_tasks(json::parse(cur.tasks, nullptr, false));
  Fields f{cur.name,
           cur.cron,
           cur.timezone,
           cur.enabled,
           cur.catch_up,
           cur.only_when_running,
           stored ? *stored : std::vector<Task>{}};
  if (auto r = apply_body(body, f, false); !r) return fail(r.error());
  if (f.tasks.empty())
    return fail(Error::invalid("tasks", "tasks: 1.." + std::to_string(kMaxTasks) + " tasks"));
  auto next = checked_next(f, now);
  if (!next) return fail(next.error());
  store::ScheduleUpdate u;
  u.name = f.name;
  u.cron = f.cron;
  u.timezone = f.timezone;
  u.enabled = f.enabled;
  u.catch_up = f.catch_up;
  u.only_when_running = f.only_when_running;
  u.tasks = tasks_json(f.tasks).dump();
  u.next_run_at = *next;
  return u;
}

json run_json(const store::ScheduleRun& r) {
  json tasks = json::parse(r.tasks, nullptr, false);
  return {{"id", r.id},
          {"fire_time", time_or_null(r.fire_time)},
          {"manual", r.manual},
          {"started_at", time_or_null(r.started_at)},
          {"finished_at", time_or_null(r.finished_at)},
          {"state", store::kRunStateNames.name(r.state)},
          {"error", r.error.empty() ? json(nullptr) : json(r.error)},
          {"tasks", tasks.is_array() ? tasks : json::array()}};
}

json schedule_json(const store::Schedule& s, const std::vector<store::ScheduleRun>& runs) {
  json tasks = json::parse(s.tasks, nullptr, false);
  json last = json::array();
  for (const auto& r : runs) last.push_back(run_json(r));
  return {{"id", s.id},
          {"server_id", s.server_id},
          {"name", s.name},
          {"cron", s.cron},
          {"timezone", s.timezone},
          {"enabled", s.enabled},
          {"catch_up", s.catch_up},
          {"only_when_running", s.only_when_running},
          {"tasks", tasks.is_array() ? tasks : json::array()},
          {"next_run_at", time_or_null(s.next_run_at)},
          {"created_at", time_or_null(s.created_at)},
          {"updated_at", time_or_null(s.updated_at)},
          {"last_runs", last}};
}

}  // namespace zlh::api::schedules
