#include "api/schedules/scheduler.hpp"

#include <set>

#include "api/schedules/cron.hpp"
#include "base/log.hpp"

namespace zlh::api::schedules {

using nlohmann::json;
using store::RunState;
using store::Time;

namespace {

constexpr const char* kLog = "schedules";

int64_t ms(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string task_label(size_t i, const Task& t) {
  std::string s =
      "task " + std::to_string(i + 1) + " (" + std::string(kTaskActionNames.name(t.action));
  if (t.action == TaskAction::kPower && t.payload) s += " " + *t.payload;
  return s + ")";
}

// The latest fire of `s` that is not after `now`, from `first` (a fire).
Time latest_fire(const store::Schedule& s, Time first, Time now) {
  Time latest = first;
  for (int i = 0; i < 100000; ++i) {  // a year of minutes; then the latest found is enough
    auto n = next_run(s.cron, s.timezone, latest);
    if (!n || *n > now) break;
    latest = *n;
  }
  return latest;
}

}  // namespace

struct Scheduler::RunThread {
  int64_t run_id = 0;
  std::thread thread;
  std::atomic<bool> done{false};
};

Scheduler::Scheduler(store::Store& store, TaskFn run_task, SchedulerOptions options)
    : store_(store), run_task_(std::move(run_task)), opts_(std::move(options)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  if (loop_.joinable()) return;
  mark_interrupted();
  loop_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  wait_idle();
}

void Scheduler::changed() {
  {
    std::lock_guard lock(mu_);
    changed_ = true;
  }
  cv_.notify_all();
}

void Scheduler::wait_idle() {
  std::list<std::unique_ptr<RunThread>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(runs_);
  }
  for (auto& r : all)
    if (r->thread.joinable()) r->thread.join();
}

void Scheduler::reap() {
  std::list<std::unique_ptr<RunThread>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = runs_.begin(); it != runs_.end();) {
      auto next = std::next(it);
      if ((*it)->done) finished.splice(finished.end(), runs_, it);
      it = next;
    }
  }
  for (auto& r : finished) r->thread.join();
}

int Scheduler::mark_interrupted() {
  if (opts_.alone && !opts_.alone()) return 0;
  std::set<int64_t> mine;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : runs_)
      if (!r->done) mine.insert(r->run_id);
  }
  auto running = store_.list_running_runs();
  if (!running) {
    log::error(kLog, "cannot list interrupted runs", {{"error", running.error().to_string()}});
    return 0;
  }
  int n = 0;
  for (const auto& r : *running) {
    if (mine.count(r.id)) continue;
    // Replicas: a run just claimed by run_now() may not be in runs_ yet;
    // a dead replica's run is older than this.
    if (opts_.alone && r.started_at > opts_.now() - std::chrono::seconds(10)) continue;
    json tasks = json::parse(r.tasks, nullptr, false);
    if (!tasks.is_array()) tasks = json::array();
    for (auto& t : tasks)
      if (t.value("state", "") == "running" || t.value("state", "") == "pending") {
        t["state"] = "failed";
        t["error"] = "interrupted by a restart";
      }
    auto u = store_.update_run(r.id, RunState::kFailed, tasks.dump(), "interrupted by a restart");
    if (!u) {
      log::error(kLog, "cannot mark an interrupted run",
                 {{"run_id", r.id}, {"error", u.error().to_string()}});
      continue;
    }
    log::warn(kLog, "run interrupted by a restart",
              {{"run_id", r.id}, {"schedule_id", r.schedule_id}});
    ++n;
  }
  return n;
}

void Scheduler::loop() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    reap();
    if (opts_.alone) mark_interrupted();  // a dead replica's runs
    fire_due();
    const Time now = opts_.now();
    Time wake = now + opts_.max_idle;
    if (auto active = store_.list_active_schedules(); active && !active->empty())
      wake = std::min(wake, *active->front().next_run_at);
    // Still due after fire_due: the store refused to move it on (logged);
    // try again in a second rather than spin.
    if (wake <= now) wake = now + std::chrono::seconds(1);
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, wake, [this] { return stopping_ || changed_; });
    changed_ = false;
  }
}

int Scheduler::fire_due() {
  auto active = store_.list_active_schedules();
  if (!active) {
    log::error(kLog, "cannot list schedules", {{"error", active.error().to_string()}});
    return 0;
  }
  const Time now = opts_.now();
  int fired = 0;
  for (const auto& s : *active) {
    if (*s.next_run_at > now) break;  // soonest first
    if (fire(s, now)) ++fired;
  }
  return fired;
}

// Fires the due schedule `s` at `now`: claims its run, then moves it on.
bool Scheduler::fire(const store::Schedule& s, Time now) {
  const Time due = *s.next_run_at;
  const Time latest = latest_fire(s, due, now);
  const bool missed = latest != due || now - latest > opts_.late_after;
  bool recorded = false;
  if (!missed || s.catch_up) {
    if (missed)
      log::info(kLog, "catching up a missed fire",
                {{"schedule_id", s.id}, {"server_id", s.server_id}, {"fire_time", ms(latest)}});
    recorded = claim(s, latest, false, missed).has_value();
  } else {
    auto r = store_.create_run({.schedule_id = s.id,
                                .fire_time = latest,
                                .state = RunState::kSkipped,
                                .error = "missed while zlh-api was not running (catch_up is off)"});
    recorded = r.has_value();
    log::info(kLog, "missed fire skipped",
              {{"schedule_id", s.id}, {"server_id", s.server_id}, {"fire_time", ms(latest)}});
  }
  auto next = next_run(s.cron, s.timezone, std::max(now, latest));
  if (!next)
    log::error(kLog, "schedule has no next fire; it stops",
               {{"schedule_id", s.id}, {"error", next.error().to_string()}});
  auto moved = store_.advance_schedule(s.id, due, next ? std::optional<Time>(*next) : std::nullopt);
  if (!moved)
    log::error(kLog, "cannot move a schedule on",
               {{"schedule_id", s.id}, {"error", moved.error().to_string()}});
  return recorded;
}

// Records the run of `fire_time` (skipped when the workload must run and
// does not) and starts it. E_CONFLICT: that fire has its run already.
Result<store::ScheduleRun> Scheduler::claim(const store::Schedule& s, Time fire_time, bool manual,
                                            bool catch_up_fire) {
  auto server = store_.get_server(s.server_id);
  if (!server) return fail(server.error());
  auto tasks = parse_tasks(json::parse(s.tasks, nullptr, false));
  json results = json::array();
  if (tasks)
    for (const auto& t : *tasks)
      results.push_back(
          {{"action", kTaskActionNames.name(t.action)}, {"state", "pending"}, {"error", nullptr}});
  store::NewRun nr{.schedule_id = s.id, .fire_time = fire_time, .manual = manual};
  nr.tasks = results.dump();
  if (!tasks) {
    nr.state = RunState::kFailed;
    nr.error = "the stored tasks are invalid: " + tasks.error().message;
  } else if (s.only_when_running && server->agent_state != "running") {
    nr.state = RunState::kSkipped;
    nr.error = "the server is not running (agent state \"" + server->agent_state + "\")";
  }
  auto run = store_.create_run(nr);
  if (!run) {
    if (run.error().is(codes::kConflict))
      log::info(kLog, "fire already claimed",
                {{"schedule_id", s.id}, {"fire_time", ms(fire_time)}});
    else
      log::error(kLog, "cannot record a run",
                 {{"schedule_id", s.id}, {"error", run.error().to_string()}});
    return run;
  }
  log::info(kLog, nr.state == RunState::kRunning ? "run started" : "run not started",
            {{"run_id", run->id},
             {"schedule_id", s.id},
             {"server_id", s.server_id},
             {"fire_time", ms(fire_time)},
             {"manual", manual},
             {"catch_up", catch_up_fire},
             {"state", store::kRunStateNames.name(nr.state)},
             {"error", nr.error}});
  if (nr.state != RunState::kRunning) return run;
  auto rt = std::make_unique<RunThread>();
  rt->run_id = run->id;
  RunThread* raw = rt.get();
  std::lock_guard lock(mu_);
  if (stopping_) {
    (void)store_.update_run(run->id, RunState::kFailed, nr.tasks, "zlh-api stopped");
    return fail(codes::kUnavailable, "zlh-api is stopping");
  }
  raw->thread = std::thread([this, raw, r = *run, s] {
    execute(r, s);
    raw->done = true;
  });
  runs_.push_back(std::move(rt));
  return run;
}

Result<store::ScheduleRun> Scheduler::run_now(const store::Schedule& s) {
  const Time now = std::chrono::floor<std::chrono::milliseconds>(opts_.now());
  return claim(s, now, true, false);
}

bool Scheduler::sleep_until(Time until) {
  if (opts_.sleep_until) return opts_.sleep_until(until);
  std::unique_lock lock(mu_);
  return !cv_.wait_until(lock, until, [this] { return stopping_; });
}

// Runs the tasks of `run` in order; every outcome is written to the run.
void Scheduler::execute(store::ScheduleRun run, store::Schedule s) {
  auto tasks = parse_tasks(json::parse(s.tasks, nullptr, false));
  json results = json::parse(run.tasks, nullptr, false);
  RunState state = RunState::kOk;
  std::string error;
  Time prev_end = opts_.now();
  for (size_t i = 0; tasks && i < tasks->size(); ++i) {
    const Task& t = (*tasks)[i];
    if (t.offset_s > 0 && !sleep_until(prev_end + std::chrono::seconds(t.offset_s))) {
      state = RunState::kFailed;
      error = task_label(i, t) + ": zlh-api stopped before it ran";
      for (size_t j = i; j < tasks->size(); ++j)
        results[j].update({{"state", "failed"}, {"error", "zlh-api stopped before it ran"}});
      break;
    }
    results[i]["state"] = "running";
    results[i]["started_at"] = ms(opts_.now());
    (void)store_.update_run(run.id, RunState::kRunning, results.dump(), "");
    auto server = store_.get_server(s.server_id);
    auto r = server ? run_task_(*server, t, s) : Result<json>(std::unexpected(server.error()));
    results[i]["finished_at"] = ms(opts_.now());
    prev_end = opts_.now();
    if (r) {
      results[i]["state"] = "ok";
      if (r->is_object()) results[i].update(*r);
      continue;
    }
    state = RunState::kFailed;
    error = task_label(i, t) + ": " + r.error().to_string();
    results[i].update({{"state", "failed"}, {"error", r.error().to_string()}});
    for (size_t j = i + 1; j < tasks->size(); ++j)
      results[j].update({{"state", "skipped"}, {"error", "an earlier task failed"}});
    log::warn(kLog, "task failed",
              {{"run_id", run.id},
               {"schedule_id", s.id},
               {"server_id", s.server_id},
               {"task", i + 1},
               {"error", r.error().to_string()}});
    break;
  }
  auto u = store_.update_run(run.id, state, results.dump(), error);
  if (!u)
    log::error(kLog, "cannot record a run's result",
               {{"run_id", run.id}, {"error", u.error().to_string()}});
  // A fire is the system acting on the server: its activity log shows it
  // (docs/activity.md) without an actor. A manual run was recorded by its
  // route (schedule.run, with who asked).
  if (!run.manual)
    (void)store_.append_audit(
        {std::nullopt, "schedule.fired",
         "server:" + std::to_string(s.server_id) + "/schedule:" + std::to_string(s.id),
         json{{"schedule_id", s.id},
              {"name", s.name},
              {"run_id", run.id},
              {"state", store::kRunStateNames.name(state)},
              {"error", error}}
             .dump(),
         ""});
  log::info(kLog, "run ended",
            {{"run_id", run.id},
             {"schedule_id", s.id},
             {"server_id", s.server_id},
             {"state", store::kRunStateNames.name(state)},
             {"error", error}});
}

}  // namespace zlh::api::schedules
