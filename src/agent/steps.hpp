// The agent's real StepRunner: executes provisioning steps against --root.
//
// layout   creates the directories of docs/design.md §3.2
// user     creates the dev user, home and workspace (docs/design.md §5)
// runtime  installs the payload's runtime through the RuntimeManager
// profile  writes etc/profile.d/zlh.sh from the active runtimes
// addon    code-server: installed, started as a service, waited for healthy
// game     game server files, Java, eula.txt, server.properties (game/installer.hpp)
// workload dev: the services were started by their steps;
//          game: the server started and waited for ready (game/server.hpp)
#pragma once

#include <string>

#include "agent/addons/addons.hpp"
#include "agent/devenv/service.hpp"
#include "agent/game/installer.hpp"
#include "agent/game/server.hpp"
#include "agent/provisioner.hpp"
#include "agent/runtimes/manager.hpp"

namespace zlh::agent {

class RealStepRunner : public StepRunner {
 public:
  RealStepRunner(std::string root, runtimes::RuntimeManager& runtimes,
                 devenv::DevEnvironment& devenv, addons::AddonManager& addons,
                 game::GameInstaller& game_installer, game::GameServer& game_server)
      : root_(std::move(root)),
        runtimes_(runtimes),
        devenv_(devenv),
        addons_(addons),
        game_installer_(game_installer),
        game_server_(game_server) {}
  Result<void> run(const StepSpec& step, const payload::Payload& p, const std::atomic<bool>& stop,
                   const StepProgress& progress) override;

 private:
  std::string root_;
  runtimes::RuntimeManager& runtimes_;
  devenv::DevEnvironment& devenv_;
  addons::AddonManager& addons_;
  game::GameInstaller& game_installer_;
  game::GameServer& game_server_;
};

}  // namespace zlh::agent
