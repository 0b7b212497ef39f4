// The game server as a supervised service: the provisioning step
// "workload" of a game container (docs/design.md §6, §9).
//
// start(): reads what the "game" step installed (record.hpp), builds the
// service spec — name "workload", the catalog's Java by its versioned path
// (opt/zlh/runtimes/java/<version>/bin/java, not `current`), heap from
// memory_mb (launch.hpp), cwd the server dir, the dev environment with that
// Java first on PATH and JAVA_HOME set, the container's service user (the
// --dev-user account), a PTY console, and the catalog's stop policy
// (command → written to the console, 30 s, then SIGTERM, 10 s, then
// SIGKILL) — starts it through the supervisor and returns once the console
// shows a line matching the entry's `ready` pattern. It attaches to the
// service's zlh-shim with scrollback, so output printed before the attach
// (or while the agent was down) counts too.
//
// Repeatable: a start for the settings the running server was started
// with (same payload and spec; opt/zlh-agent/state/game-workload.json) only
// waits for ready again — an agent restarted in the middle of the step
// never restarts the server. A different payload (memory, world, port,
// properties, version) stops the running server gracefully and starts it
// with the new settings.
//
// Errors: E_NOT_FOUND (nothing installed for this payload), E_UNAVAILABLE
// when the server exits before it is ready (the message carries its last
// output lines; the service is then stopped rather than left crash-looping)
// or when `stop` is set, E_TIMEOUT when ready does not show within
// ready_timeout (the server is left running: big mod packs can be slow).
//
// Thread-safety: start() and stop_for_update() are called from the
// provisioner's single worker; the pure functions from anywhere.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "agent/devenv/service.hpp"
#include "agent/game/record.hpp"
#include "agent/provisioner.hpp"
#include "agent/supervisor/supervisor.hpp"
#include "proto/payload.hpp"

namespace zlh::agent::game {

inline constexpr const char* kService = "workload";

struct ServerOptions {
  std::chrono::milliseconds ready_timeout = std::chrono::minutes(10);
};

class GameServer {
 public:
  GameServer(std::string root, supervisor::Supervisor& sup, devenv::DevEnvironment& devenv,
             ServerOptions o = {});

  Result<void> start(const payload::Payload& p, const std::atomic<bool>& stop,
                     const StepProgress& progress);
  // Stops the server gracefully when it runs (before its files are
  // replaced). A no-op when there is none.
  Result<void> stop_for_update();

  std::string server_dir() const;

 private:
  Result<void> wait_ready(const GameRecord& rec, const std::atomic<bool>& stop,
                          const StepProgress& progress);
  Result<void> exited_before_ready(const std::string& game, const std::vector<std::string>& lines,
                                   const std::string& how);

  std::string root_;
  supervisor::Supervisor& sup_;
  devenv::DevEnvironment& devenv_;
  ServerOptions opts_;
};

// The absolute path of the record's java binary: the first of its bin dirs
// that holds "java" (else <home>/bin/java).
std::string java_binary(const GameRecord& rec);

// The server's (and its installer's) environment: the dev environment of
// docs/design.md §5 built for the recorded Java alone, so PATH starts with its bin
// dirs and JAVA_HOME (when the runtime does not set it) is its home.
std::vector<std::string> server_environment(const GameRecord& rec, const devenv::DevUser& user,
                                            const std::string& root);

// The service spec for `rec` and `p` (pure).
supervisor::ServiceSpec game_service_spec(const GameRecord& rec, const payload::Payload& p,
                                          const devenv::DevUser& user, const std::string& root);

}  // namespace zlh::agent::game
