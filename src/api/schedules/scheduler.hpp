// The scheduler (docs/schedules.md): one thread in zlh-api that sleeps until
// the soonest next_run_at of the enabled schedules (a condition variable,
// woken by changed() and stop()), then fires what is due.
//
// A fire: the run row is inserted first — the store's UNIQUE(schedule_id,
// fire_time) decides, so a fire claimed once (by this process before a
// crash, or by another) never runs again — then next_run_at moves on
// (compare-and-set, so a PATCH in between wins). Each run executes on a
// thread of its own, its tasks in order, each task starting offset_s
// seconds after the previous one ended (the first: after the fire), so a
// run waiting on an offset never delays another schedule. The first task
// failure ends the run: the task and the run record the error (code and
// message), the later tasks are "skipped"; nothing is swallowed.
//
// Durability: at start(), runs left "running" by a crash are marked failed
// "interrupted by a restart". A schedule whose fire passed while zlh-api was
// down (or is late by more than `late_after`) runs once — its latest missed
// fire — when catch_up is set; otherwise that fire is recorded as skipped
// and the schedule moves to its next fire. only_when_running: a fire while
// the server's agent_state is not "running" is recorded as skipped.
//
// Replicas (issue 25): every replica runs a scheduler and a fire runs once,
// on the replica whose claim won. With SchedulerOptions::alone set, runs
// left running are marked only while this replica is alone (another
// replica's runs are its own business), at start and at each loop turn (a
// dead replica's runs are marked once the others see it gone), never the
// runs this scheduler executes nor one started in the last 10 s.
//
// Threads and ownership: borrows the store; the task function is called on
// run threads, concurrently. start(), stop() and changed() may be called
// from any thread; stop() ends the loop, interrupts offset waits (the rest
// of such a run fails with "zlh-api stopped") and joins every run thread.
// Tests drive it without start(): fire_due() with a fake clock and sleeper.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "api/schedules/schedule_spec.hpp"
#include "api/store/store.hpp"
#include "base/error.hpp"

namespace zlh::api {
class AgentClient;
}

namespace zlh::api::schedules {

// Runs one task against the server (as last read from the store). On
// success, an object merged into the task's result (e.g. {"job": 12}).
using TaskFn = std::function<Result<nlohmann::json>(const store::Server&, const Task&,
                                                    const store::Schedule&)>;

struct SchedulerOptions {
  // The time; tests pass a fake.
  std::function<store::Time()> now = [] { return store::Clock::now(); };
  // Waits until `until` by `now`; false when stopped first. Empty: a
  // condition-variable wait on the system clock, cut short by stop().
  std::function<bool(store::Time until)> sleep_until;
  // A due fire older than this is a missed one (catch_up decides).
  std::chrono::milliseconds late_after{std::chrono::seconds(90)};
  // Longest sleep of the loop without a fire (it re-reads the store then).
  std::chrono::milliseconds max_idle{std::chrono::seconds(60)};
  // Whether no other replica is live (see "Replicas" above); empty: one
  // process, runs left running are marked at start only.
  std::function<bool()> alone;
};

class Scheduler {
 public:
  Scheduler(store::Store& store, TaskFn run_task, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Marks interrupted runs, then runs the loop thread. Once.
  void start();
  // Ends the loop and every run (see above); repeatable.
  void stop();
  // Schedules changed (created, patched, deleted): the loop looks again.
  void changed();

  // POST …/run: a manual run of `s` now (fire_time = now), on its own
  // thread; the run as first recorded. E_CONFLICT (a run at that very
  // millisecond exists), E_UNAVAILABLE (stopping), the store's errors.
  Result<store::ScheduleRun> run_now(const store::Schedule& s);

  // ---- the steps of the loop, public for tests ----
  // Marks runs left running (not by this scheduler) as failed
  // "interrupted by a restart"; how many. With options.alone, only while
  // alone() (else 0).
  int mark_interrupted();
  // Fires every schedule due at now(); how many runs it recorded.
  int fire_due();
  // Waits for every run thread to end.
  void wait_idle();

 private:
  struct RunThread;
  void loop();
  bool fire(const store::Schedule& s, store::Time now);
  Result<store::ScheduleRun> claim(const store::Schedule& s, store::Time fire_time, bool manual,
                                   bool catch_up_fire);
  void execute(store::ScheduleRun run, store::Schedule s);
  bool sleep_until(store::Time until);
  void reap();

  store::Store& store_;
  TaskFn run_task_;
  SchedulerOptions opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool changed_ = false;
  std::thread loop_;
  std::list<std::unique_ptr<RunThread>> runs_;  // guarded by mu_
};

// The real tasks: power and command through the container's agent (POST
// /{start,stop,restart}, POST /console/command), backup through
// `start_backup` (issue 23's BackupService::start_backup with kind
// scheduled; empty: E_UNAVAILABLE "backups are not configured"). Both are
// borrowed and must outlive the scheduler; start_backup is read at each
// backup task, so main may set it any time before Scheduler::start().
using StartBackupFn = std::function<Result<int64_t>(const store::Server&, std::string name)>;
TaskFn agent_tasks(const AgentClient& agents, const StartBackupFn& start_backup);

}  // namespace zlh::api::schedules
