// Schedules and their runs (0010_schedules.sql, docs/schedules.md).
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

constexpr const char* kScheduleSelect =
    "SELECT id, server_id, name, cron, timezone, enabled, catch_up, only_when_running, tasks,"
    " next_run_at, created_at, updated_at FROM schedules ";
constexpr const char* kRunSelect =
    "SELECT id, schedule_id, fire_time, manual, state, tasks, error, started_at, finished_at"
    " FROM schedule_runs ";

bool is_json_array(std::string_view text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false).is_array();
}

Schedule read_schedule(Stmt& q) {
  Schedule s;
  s.id = q.col(0).int64();
  s.server_id = q.col(1).int64();
  s.name = q.col(2).text();
  s.cron = q.col(3).text();
  s.timezone = q.col(4).text();
  s.enabled = q.col(5).int32() != 0;
  s.catch_up = q.col(6).int32() != 0;
  s.only_when_running = q.col(7).int32() != 0;
  s.tasks = q.col(8).text();
  s.next_run_at = opt_time(q.col(9));
  s.created_at = from_ms(q.col(10).int64());
  s.updated_at = from_ms(q.col(11).int64());
  return s;
}

ScheduleRun read_run(Stmt& q) {
  ScheduleRun r;
  r.id = q.col(0).int64();
  r.schedule_id = q.col(1).int64();
  r.fire_time = from_ms(q.col(2).int64());
  r.manual = q.col(3).int32() != 0;
  auto st = kRunStateNames.parse(q.col(4).text());
  if (!st) throw std::runtime_error("bad run state \"" + q.col(4).text() + "\"");
  r.state = *st;
  r.tasks = q.col(5).text();
  r.error = q.col(6).text();
  r.started_at = from_ms(q.col(7).int64());
  r.finished_at = opt_time(q.col(8));
  return r;
}

template <typename Bind>
std::vector<Schedule> query_schedules(Db& db, std::string_view tail, Bind bind) {
  Stmt q = db.prepare(std::string(kScheduleSelect) + std::string(tail));
  bind(q);
  std::vector<Schedule> out;
  while (q.step()) out.push_back(read_schedule(q));
  return out;
}

template <typename Bind>
std::vector<ScheduleRun> query_runs(Db& db, std::string_view tail, Bind bind) {
  Stmt q = db.prepare(std::string(kRunSelect) + std::string(tail));
  bind(q);
  std::vector<ScheduleRun> out;
  while (q.step()) out.push_back(read_run(q));
  return out;
}

Result<Schedule> one_schedule(Db& db, int64_t server_id, int64_t id) {
  auto rows = query_schedules(db, "WHERE id = ? AND server_id = ?", [&](Stmt& q) {
    q.bind(1, id);
    q.bind(2, server_id);
  });
  if (rows.empty()) return fail(codes::kNotFound, "schedule not found");
  return std::move(rows.front());
}

Result<ScheduleRun> one_run(Db& db, int64_t id) {
  auto rows = query_runs(db, "WHERE id = ?", [&](Stmt& q) { q.bind(1, id); });
  if (rows.empty()) return fail(codes::kNotFound, "schedule run not found");
  return std::move(rows.front());
}

void bind_time_or_null(Stmt& q, int idx, const std::optional<Time>& t) {
  if (t)
    q.bind(idx, to_ms(*t));
  else
    q.bind_null(idx);
}

Result<void> check_fields(const std::string* name, const std::string* cron, const std::string* tz,
                          const std::string* tasks) {
  if (name && name->empty()) return std::unexpected(Error::invalid("name", "empty name"));
  if (cron && cron->empty()) return std::unexpected(Error::invalid("cron", "empty cron"));
  if (tz && tz->empty()) return std::unexpected(Error::invalid("timezone", "empty timezone"));
  if (tasks && !is_json_array(*tasks))
    return std::unexpected(Error::invalid("tasks", "tasks is not a JSON array"));
  return {};
}

const std::string* ptr(const std::optional<std::string>& v) { return v ? &*v : nullptr; }

}  // namespace

Result<Schedule> Store::create_schedule(const NewSchedule& s) {
  if (auto c = check_fields(&s.name, &s.cron, &s.timezone, &s.tasks); !c) return fail(c.error());
  return impl_->write("create schedule", [&](Db& db) -> Result<Schedule> {
    if (!row_exists(db,
                    "SELECT 1 FROM servers WHERE id = ? AND deleted_at IS NULL"
                    " AND state <> 'deleting'",
                    s.server_id))
      return fail(codes::kNotFound, "server not found");
    Stmt n = db.prepare("SELECT count(*) FROM schedules WHERE server_id = ?");
    n.bind(1, s.server_id);
    n.step();
    if (n.col(0).int32() >= kMaxSchedulesPerServer)
      return fail(codes::kQuota,
                  "a server has at most " + std::to_string(kMaxSchedulesPerServer) + " schedules");
    Stmt ins = db.prepare(
        "INSERT INTO schedules(server_id, name, cron, timezone, enabled, catch_up,"
        " only_when_running, tasks, next_run_at, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) RETURNING id");
    ins.bind(1, s.server_id);
    ins.bind(2, s.name);
    ins.bind(3, s.cron);
    ins.bind(4, s.timezone);
    ins.bind(5, int(s.enabled));
    ins.bind(6, int(s.catch_up));
    ins.bind(7, int(s.only_when_running));
    ins.bind(8, s.tasks);
    bind_time_or_null(ins, 9, s.next_run_at);
    ins.bind(10, impl_->now_ms());
    return one_schedule(db, s.server_id, returning_id(ins));
  });
}

Result<std::vector<Schedule>> Store::list_schedules(int64_t server_id) {
  return impl_->read("list schedules", [&](Db& db) -> Result<std::vector<Schedule>> {
    return query_schedules(db, "WHERE server_id = ? ORDER BY id",
                           [&](Stmt& q) { q.bind(1, server_id); });
  });
}

Result<Schedule> Store::get_schedule(int64_t server_id, int64_t schedule_id) {
  return impl_->read("get schedule",
                     [&](Db& db) { return one_schedule(db, server_id, schedule_id); });
}

Result<Schedule> Store::update_schedule(int64_t server_id, int64_t schedule_id,
                                        const ScheduleUpdate& u) {
  if (auto c = check_fields(ptr(u.name), ptr(u.cron), ptr(u.timezone), ptr(u.tasks)); !c)
    return fail(c.error());
  using Value = std::variant<int64_t, std::string>;
  std::vector<std::pair<const char*, Value>> set;
  if (u.name) set.emplace_back("name", *u.name);
  if (u.cron) set.emplace_back("cron", *u.cron);
  if (u.timezone) set.emplace_back("timezone", *u.timezone);
  if (u.enabled) set.emplace_back("enabled", int64_t{*u.enabled});
  if (u.catch_up) set.emplace_back("catch_up", int64_t{*u.catch_up});
  if (u.only_when_running) set.emplace_back("only_when_running", int64_t{*u.only_when_running});
  if (u.tasks) set.emplace_back("tasks", *u.tasks);
  std::string sql = "UPDATE schedules SET ";
  for (const auto& [col, v] : set) sql += std::string(col) + " = ?, ";
  sql += "next_run_at = ?, updated_at = ? WHERE id = ? AND server_id = ?";
  return impl_->write("update schedule", [&](Db& db) -> Result<Schedule> {
    Stmt q = db.prepare(sql);
    int i = 1;
    for (const auto& [col, v] : set) std::visit([&](const auto& x) { q.bind(i++, x); }, v);
    bind_time_or_null(q, i++, u.next_run_at);
    q.bind(i++, impl_->now_ms());
    q.bind(i++, schedule_id);
    q.bind(i, server_id);
    if (q.exec() == 0) return fail(codes::kNotFound, "schedule not found");
    return one_schedule(db, server_id, schedule_id);
  });
}

Result<void> Store::delete_schedule(int64_t server_id, int64_t schedule_id) {
  return impl_->write("delete schedule", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare("DELETE FROM schedules WHERE id = ? AND server_id = ?");
    q.bind(1, schedule_id);
    q.bind(2, server_id);
    if (q.exec() == 0) return fail(codes::kNotFound, "schedule not found");
    return {};
  });
}

Result<std::vector<Schedule>> Store::list_active_schedules() {
  return impl_->read("list active schedules", [&](Db& db) -> Result<std::vector<Schedule>> {
    return query_schedules(db,
                           "WHERE enabled = 1 AND next_run_at IS NOT NULL AND server_id IN"
                           " (SELECT id FROM servers WHERE deleted_at IS NULL"
                           " AND state <> 'deleting') ORDER BY next_run_at, id",
                           [](Stmt&) {});
  });
}

Result<bool> Store::advance_schedule(int64_t schedule_id, Time expected, std::optional<Time> next) {
  return impl_->write("advance schedule", [&](Db& db) -> Result<bool> {
    if (!row_exists(db, "SELECT 1 FROM schedules WHERE id = ?", schedule_id))
      return fail(codes::kNotFound, "schedule not found");
    Stmt q = db.prepare("UPDATE schedules SET next_run_at = ? WHERE id = ? AND next_run_at = ?");
    bind_time_or_null(q, 1, next);
    q.bind(2, schedule_id);
    q.bind(3, to_ms(expected));
    return q.exec() == 1;
  });
}

Result<ScheduleRun> Store::create_run(const NewRun& r) {
  if (!is_json_array(r.tasks))
    return std::unexpected(Error::invalid("tasks", "tasks is not a JSON array"));
  return impl_->write("create schedule run", [&](Db& db) -> Result<ScheduleRun> {
    if (!row_exists(db, "SELECT 1 FROM schedules WHERE id = ?", r.schedule_id))
      return fail(codes::kNotFound, "schedule not found");
    const int64_t now = impl_->now_ms();
    Stmt ins = db.prepare(
        "INSERT INTO schedule_runs(schedule_id, fire_time, manual, state, tasks,"
        " error, started_at, finished_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id");
    ins.bind(1, r.schedule_id);
    ins.bind(2, to_ms(r.fire_time));
    ins.bind(3, int(r.manual));
    ins.bind(4, std::string(kRunStateNames.name(r.state)));
    ins.bind(5, r.tasks);
    ins.bind(6, r.error);
    ins.bind(7, now);
    if (r.state == RunState::kRunning)
      ins.bind_null(8);
    else
      ins.bind(8, now);
    // A second claim of the fire: UNIQUE → E_CONFLICT.
    const int64_t id = returning_id(ins);
    exec_with(
        db,
        "DELETE FROM schedule_runs WHERE schedule_id = ?1 AND state <> 'running' AND id NOT IN"
        " (SELECT id FROM schedule_runs WHERE schedule_id = ?1 ORDER BY id DESC LIMIT ?2)",
        r.schedule_id, kRunsKept);
    return one_run(db, id);
  });
}

Result<ScheduleRun> Store::update_run(int64_t run_id, RunState state, const std::string& tasks,
                                      const std::string& error) {
  if (!is_json_array(tasks))
    return std::unexpected(Error::invalid("tasks", "tasks is not a JSON array"));
  return impl_->write("update schedule run", [&](Db& db) -> Result<ScheduleRun> {
    Stmt q = db.prepare(
        "UPDATE schedule_runs SET state = ?, tasks = ?, error = ?, finished_at = ?"
        " WHERE id = ?");
    q.bind(1, std::string(kRunStateNames.name(state)));
    q.bind(2, tasks);
    q.bind(3, error);
    if (state == RunState::kRunning)
      q.bind_null(4);
    else
      q.bind(4, impl_->now_ms());
    q.bind(5, run_id);
    if (q.exec() == 0) return fail(codes::kNotFound, "schedule run not found");
    return one_run(db, run_id);
  });
}

Result<std::vector<ScheduleRun>> Store::list_runs(int64_t schedule_id, int limit) {
  if (limit < 1 || limit > 100)
    return std::unexpected(Error::invalid("limit", "limit outside 1..100"));
  return impl_->read("list schedule runs", [&](Db& db) -> Result<std::vector<ScheduleRun>> {
    return query_runs(db, "WHERE schedule_id = ? ORDER BY id DESC LIMIT ?", [&](Stmt& q) {
      q.bind(1, schedule_id);
      q.bind(2, limit);
    });
  });
}

Result<std::vector<ScheduleRun>> Store::list_running_runs() {
  return impl_->read("list running schedule runs", [&](Db& db) -> Result<std::vector<ScheduleRun>> {
    return query_runs(db, "WHERE state = 'running' ORDER BY id", [](Stmt&) {});
  });
}

}  // namespace zlh::api::store
