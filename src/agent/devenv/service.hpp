// The agent's dev environment: the dev user and the one generated profile
// (docs/design.md §5), kept in step with the active runtimes.
//
// ensure_user() creates (or finds) the dev user once and caches it.
// regenerate() rebuilds etc/profile.d/zlh.sh and the environment every
// process the agent starts gets, from the given active runtimes.
// environment() returns that environment (empty PATH-only default before the
// first regenerate()).
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/devenv/profile.hpp"
#include "agent/devenv/user.hpp"
#include "agent/supervisor/supervisor.hpp"

namespace zlh::agent::devenv {

class DevEnvironment {
 public:
  DevEnvironment(std::string root, std::string user_name)
      : root_(std::move(root)), user_name_(std::move(user_name)) {}
  Result<DevUser> ensure_user();
  Result<void> regenerate(const std::vector<ActiveRuntime>& runtimes);
  Environment environment() const;
  std::optional<DevUser> user() const;
  // A service spec that runs as the dev user (unless that is the agent's own
  // user) in the workspace with the dev environment: the common part of
  // code-server and console shells. Creates the user when needed.
  Result<supervisor::ServiceSpec> dev_service(const std::string& name);

 private:
  std::string root_, user_name_;
  mutable std::mutex mu_;
  std::optional<DevUser> user_;
  std::optional<Environment> env_;
};

}  // namespace zlh::agent::devenv
