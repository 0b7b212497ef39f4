// The agent's real StepRunner: executes provisioning steps against --root.
//
// layout   creates the directories of DESIGN.md §3.2
// user     creates the dev user, home and workspace (DESIGN §5)
// runtime  installs the payload's runtime through the RuntimeManager
// profile  writes etc/profile.d/zlh.sh from the active runtimes
// addon    code-server: installed, started as a service, waited for healthy
// workload dev: the services were started by their steps
// Steps whose subsystem is not built yet (addons, game install, game
// workload) fail with E_UNAVAILABLE naming the missing part, so the state
// machine reports an honest `error` instead of pretending to be running.
#pragma once

#include <string>

#include "agent/addons/addons.hpp"
#include "agent/devenv/service.hpp"
#include "agent/provisioner.hpp"
#include "agent/runtimes/manager.hpp"

namespace zlh::agent {

class RealStepRunner : public StepRunner {
 public:
  RealStepRunner(std::string root, runtimes::RuntimeManager& runtimes, devenv::DevEnvironment& devenv,
                 addons::AddonManager& addons)
      : root_(std::move(root)), runtimes_(runtimes), devenv_(devenv), addons_(addons) {}
  Result<void> run(const StepSpec& step, const Payload& p, const std::atomic<bool>& stop,
                   const StepProgress& progress) override;

 private:
  std::string root_;
  runtimes::RuntimeManager& runtimes_;
  devenv::DevEnvironment& devenv_;
  addons::AddonManager& addons_;
};

}  // namespace zlh::agent
