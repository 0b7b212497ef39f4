// Crash-recovery policy of the supervisor (docs/design.md §6), as pure logic.
//
// The supervisor reports what happened to one service (started, crashed,
// stopped on request, started by the operator) and CrashPolicy answers
// whether and when to restart it. No threads, no sleeping, no real clock:
// time comes from a Clock (STYLE §6), randomness from a seeded RNG.
//
// Rules:
//  - Backoff: the first crash waits `initial_backoff` (1 s); each further
//    consecutive crash doubles the previous base delay, capped at
//    `max_backoff` (60 s): 1, 2, 4, 8, 16, 32, 60, 60, ... s.
//  - Jitter: each returned delay is base × (1 + u), u uniform in
//    [-jitter, +jitter] (±20 %), so a capped 60 s becomes 48..72 s. The
//    sequence depends only on the seed (same seed → same delays).
//  - Stability: if the service ran ≥ `stable_after` (5 min, measured from the
//    last on_start()) before crashing, the backoff is reset to the initial
//    value before that crash is handled. A crash without a known start never
//    counts as stable.
//  - Give up: a crash that makes more than `max_crashes` (5) crashes within
//    `crash_window` (10 min, ending at that crash; a crash exactly
//    `crash_window` old is outside) returns restart=false and the policy is
//    "given up" (service state `crashed`). It stays given up, and every
//    further on_crash() also answers restart=false, until on_manual_start().
//  - on_manual_start() clears the give-up, the crash window and the backoff;
//    crash_count(), last_crash_at() and last_exit() stay as history.
//  - on_clean_stop(): a requested stop is not a crash and changes no counter.
//
// Persistence: to_json() stores the state with wall-clock times (unix ms),
// from_json() restores it against the new process's clock, so an agent
// restart keeps the window, the backoff and the give-up. The wall clock is
// used only for that conversion; all decisions use the steady clock.
//
// Ownership: CrashPolicy keeps a pointer to the Clock, which must outlive it.
// Thread-safety: not thread-safe. The supervisor serializes all calls for a
// service (one policy per service); const methods may run concurrently with
// each other only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "base/error.hpp"

namespace zlh::agent::supervisor {

// Seam for time. now() is monotonic (decisions), wall() is calendar time
// (reported and persisted values). Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() const = 0;
  virtual std::chrono::system_clock::time_point wall() const = 0;
};

// The real clocks.
class SystemClock : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override;
  std::chrono::system_clock::time_point wall() const override;
};

// Test clock: both times move only through advance(). Not thread-safe.
class FakeClock : public Clock {
 public:
  // Defaults: an arbitrary steady origin and 2025-01-01T00:00:00Z.
  explicit FakeClock(std::chrono::steady_clock::time_point steady_start =
                         std::chrono::steady_clock::time_point{std::chrono::hours(1)},
                     std::chrono::system_clock::time_point wall_start =
                         std::chrono::system_clock::time_point{std::chrono::seconds(1735689600)})
      : steady_(steady_start), wall_(wall_start) {}
  std::chrono::steady_clock::time_point now() const override { return steady_; }
  std::chrono::system_clock::time_point wall() const override { return wall_; }
  void advance(std::chrono::milliseconds d) {
    steady_ += d;
    wall_ += d;
  }

 private:
  std::chrono::steady_clock::time_point steady_;
  std::chrono::system_clock::time_point wall_;
};

struct CrashPolicyConfig {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  double jitter = 0.2;  // ± fraction applied to each delay, clamped to [0, 1]
  std::chrono::milliseconds stable_after{5 * 60 * 1000};   // running this long resets the backoff
  int max_crashes = 5;                                     // more than this many ...
  std::chrono::milliseconds crash_window{10 * 60 * 1000};  // ... within this window → give up
};

class CrashPolicy {
 public:
  // `seed` drives the jitter RNG (deterministic in tests). `clock` must
  // outlive the policy.
  CrashPolicy(CrashPolicyConfig cfg, const Clock& clock, uint64_t seed);

  // The service process was (re)started now; starts the stability timer.
  // Repeatable: the last call counts.
  void on_start();

  // restart=false → give up (state crashed), delay is then zero. When
  // restart=true, wait `delay` before starting again.
  struct Decision {
    bool restart;
    std::chrono::milliseconds delay;
  };
  // An unexpected exit now: records it (count, time, exit) and decides.
  // `signal` is the terminating signal, 0 when the process exited by itself
  // with `exit_code`; `reason` names a known cause ("out of memory": the
  // kernel's OOM killer), empty otherwise. Each call is one crash: do not
  // repeat for one exit.
  Decision on_crash(int exit_code, int signal, std::string reason = {});

  // Operator start: clears the give-up, the crash window and the backoff.
  // Call on_start() as well once the process is actually running.
  void on_manual_start();

  // A requested stop: not a crash; only ends the stability timer.
  void on_clean_stop();

  // Total crashes recorded, including before a manual start (for /status).
  int crash_count() const;
  // Wall time of the most recent crash; nullopt if none.
  std::optional<std::chrono::system_clock::time_point> last_crash_at() const;
  // Exit of the most recent crash: exactly one of code/signal is set.
  struct Exit {
    std::optional<int> code;
    std::optional<int> signal;
    std::string reason;  // "out of memory" or empty
  };
  std::optional<Exit> last_exit() const;
  bool gave_up() const;
  // Base delay (without jitter) of the most recent restart decision; zero
  // when nothing crashed since construction or the last reset.
  std::chrono::milliseconds current_backoff() const;

  // Persistable state: crash times within the window, counters, backoff,
  // give-up, last crash/exit and the start time, all times as unix ms.
  nlohmann::json to_json() const;
  // Restores to_json() output. Times in the future (wall clock set back) are
  // taken as now. E_INVALID when `j` is not such a document.
  static Result<CrashPolicy> from_json(const nlohmann::json& j, CrashPolicyConfig cfg,
                                       const Clock& clock, uint64_t seed);

 private:
  std::chrono::milliseconds jittered(std::chrono::milliseconds base);
  std::chrono::steady_clock::time_point to_steady(std::chrono::system_clock::time_point w) const;
  std::chrono::system_clock::time_point to_wall(std::chrono::steady_clock::time_point t) const;

  CrashPolicyConfig cfg_;
  const Clock* clock_;
  std::mt19937_64 rng_;
  std::optional<std::chrono::steady_clock::time_point> started_;
  std::deque<std::chrono::steady_clock::time_point> window_;  // oldest first
  std::chrono::milliseconds backoff_{0};
  bool gave_up_ = false;
  int crash_count_ = 0;
  std::optional<std::chrono::system_clock::time_point> last_crash_at_;
  std::optional<Exit> last_exit_;
};

}  // namespace zlh::agent::supervisor
