// What the agent's routes see of the current workload, wired by main:
// the /files root, the owner of new files and the agent's own metrics.
// Thread-safety: the returned functions may run on any thread (the
// provisioner and the dev environment are thread-safe); the references
// must outlive them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/devenv/service.hpp"
#include "agent/files/file_routes.hpp"
#include "agent/provisioner.hpp"
#include "base/metrics.hpp"

namespace zlh::agent {

// The current workload's files root: the directory, the owner of its files
// (none when the agent runs as that user), the container type and the
// name of its main service ("workload" for a game, "code-server").
struct WorkloadRoot {
  std::string dir;
  std::optional<files::Owner> owner;
  ContainerType type = ContainerType::kGame;
  std::string service;
};
// E_CONFLICT before there is a workload.
Result<WorkloadRoot> workload_root(const Provisioner& provisioner, devenv::DevEnvironment& devenv,
                                   const std::string& root);

// The /files root (docs/design.md §8): a game container's server directory
// (<root>/opt/zlh/server), a dev container's workspace; E_CONFLICT before
// there is a workload. New files belong to the dev (service) user.
files::FilesConfig workload_files(const Provisioner& provisioner, devenv::DevEnvironment& devenv,
                                  std::string root, uint64_t max_upload_bytes);

// The owner of files the agent writes for the user: the dev user, or
// nobody to change to when the agent runs as that user already.
std::function<std::optional<files::Owner>()> dev_user_owner(devenv::DevEnvironment& devenv);

// zlh_agent_state, process_resident_memory_bytes, zlh_agent_uptime_seconds.
void add_agent_metrics(metrics::Registry& registry, const Provisioner& provisioner,
                       std::chrono::steady_clock::time_point started);

}  // namespace zlh::agent
