// The agent's backup routes (docs/backups.md, docs/design.md §3.3):
//   GET  /backups/archive   the files root as a tar.zst stream, made on the
//                           fly; a running game with a backup block is
//                           paused around it (save_pause.hpp)
//   PUT  /backups/restore   the body (an archive) replaces the files root
//                           atomically (restore.hpp); E_CONFLICT while the
//                           workload runs or is being provisioned
//   POST /console/command   {"command"} → one line on the game's stdin
// Same guard as every agent route (the API token).
//
// Thread-safety: the pause, the restore's final exchange and console
// commands run on the TaskRunner; archive reads and restore writes on the
// HTTP thread. One restore at a time (E_CONFLICT).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "agent/supervisor/supervisor.hpp"
#include "agent/tasks.hpp"
#include "agent/workload.hpp"
#include "http/http.hpp"

namespace zlh::agent::backups {

struct BackupDeps {
  std::function<Result<WorkloadRoot>()> root;  // the current files root
  std::function<bool()> provisioning;          // installing, verifying or starting (may be empty)
  std::string agent_root;                      // where game.json lives (game/record.hpp)
  supervisor::Supervisor& sup;
  TaskRunner& tasks;
  std::shared_ptr<std::atomic<bool>> restoring = std::make_shared<std::atomic<bool>>(false);
};

// The deps of the agent's current workload (main's wiring); the references
// must outlive them.
BackupDeps workload_backup_deps(const Provisioner& provisioner, devenv::DevEnvironment& devenv,
                                const std::string& root, supervisor::Supervisor& sup,
                                TaskRunner& tasks);

// `d` must outlive the router.
void add_backup_routes(http::Router& r, BackupDeps& d);

}  // namespace zlh::agent::backups
