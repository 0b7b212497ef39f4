// The provisioning state machine (docs/design.md §3.4).
//
// An accepted payload is written atomically to
// <root>/opt/zlh-agent/config/payload.json, then provisioning runs its plan
// (a list of steps, each idempotent) on a worker thread. After every step the
// state is written atomically to <root>/opt/zlh-agent/state/provision.json, so
// an agent killed at any moment (kill -9 included) resumes at the step it was
// in when it starts again. States:
//   idle → installing → verifying → starting → running, and error (reason in
//   `error`). stopping/stopped/crashed belong to the supervisor (later).
//
// submit(): same payload again = kUnchanged (no-op); a different payload while
// a provisioning phase runs = E_CONFLICT; otherwise the new payload replaces
// the old and provisioning restarts from the first step. Nothing is written
// when submit() fails.
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/enum_names.hpp"
#include "base/error.hpp"
#include "proto/agent_state.hpp"
#include "proto/payload.hpp"

namespace zlh::agent {

// The agent's overall state (proto/agent_state.hpp, shared with zlh-api).
using State = AgentState;
inline constexpr const auto& kStateNames = kAgentStateNames;
inline std::optional<State> state_from_string(std::string_view s) { return parse_agent_state(s); }
bool is_provisioning(State s);  // installing, verifying or starting

// What a provisioning step does (steps.hpp runs each). Planned by plan_for,
// never read from outside, so there is no parser.
enum class StepKind { kLayout, kUser, kRuntime, kProfile, kAddon, kGame, kWorkload };
inline constexpr EnumNames<StepKind, 7> kStepKindNames{
    {"layout", "user", "runtime", "profile", "addon", "game", "workload"}};
static_assert(kStepKindNames.covers(StepKind::kWorkload));
inline std::string_view to_string(StepKind k) { return kStepKindNames.name(k); }

struct StepSpec {
  StepKind kind;
  std::string name;  // shown as install_step, e.g. "install runtime node 20.18.0"
  State phase;       // the state reported while the step runs
};

// The ordered steps that provision `p`.
std::vector<StepSpec> plan_for(const payload::Payload& p);

// What a running step may report: a finer step text and 0..1 within the step.
using StepProgress = std::function<void(const std::string& detail, double fraction)>;

// Executes one step. Implementations must be idempotent (a step may run again
// after a crash) and should return promptly once `stop` becomes true.
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual Result<void> run(const StepSpec& step, const payload::Payload& p,
                           const std::atomic<bool>& stop, const StepProgress& progress) = 0;
};

class Provisioner {
 public:
  Provisioner(std::string root, std::optional<int64_t> vmid, StepRunner& runner);
  ~Provisioner();

  // Reads payload and state from disk and decides where to resume. Call once
  // before start(). A corrupt or invalid stored payload puts the agent in
  // `error` (it does not prevent start-up).
  void load();
  void start();  // starts the worker; resumes a provisioning phase
  void stop();   // asks the worker to stop after its current step; joins. Repeatable.

  enum class Accept { kAccepted, kUnchanged };
  Result<Accept> submit(const payload::Payload& p);

  nlohmann::json status() const;                    // the /status body minus agent-wide fields
  std::optional<payload::Payload> payload() const;  // the accepted payload, if any
  State state() const;

  std::string payload_path() const;
  std::string state_path() const;

 private:
  void worker();
  Result<void> persist_locked();

  std::string root_;
  std::optional<int64_t> vmid_;
  StepRunner& runner_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<payload::Payload> payload_;
  std::string payload_sha256_;
  State state_ = State::kIdle;
  size_t step_ = 0;  // index of the next step to run
  std::string install_step_;
  double progress_ = 0;
  std::string error_;
  bool provisioning_complete_ = false;
  uint64_t generation_ = 0;  // bumps on every accepted payload
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zlh::agent
