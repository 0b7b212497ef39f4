// The agent's real StepRunner: executes provisioning steps against --root.
//
// Implemented in this build: "layout" (creates the directories of DESIGN.md
// §3.2). Steps whose subsystem is not built yet (runtime install, dev
// environment, addons, game install, workload start) fail with
// E_UNAVAILABLE naming the missing part, so the state machine reports an
// honest `error` instead of pretending to be running.
#pragma once

#include <string>

#include "agent/provisioner.hpp"

namespace zlh::agent {

class RealStepRunner : public StepRunner {
 public:
  explicit RealStepRunner(std::string root) : root_(std::move(root)) {}
  Result<void> run(const StepSpec& step, const Payload& p, const std::atomic<bool>& stop) override;

 private:
  std::string root_;
};

}  // namespace zlh::agent
