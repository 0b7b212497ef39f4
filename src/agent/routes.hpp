// The agent's one route table (docs/design.md §3.3). Handlers are thin: they parse,
// call the owning module and serialize.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>

#include "agent/addons/addons.hpp"
#include "agent/auth.hpp"
#include "agent/backups/backup_routes.hpp"
#include "agent/console/console.hpp"
#include "agent/files/file_routes.hpp"
#include "agent/mods/mods.hpp"
#include "agent/provisioner.hpp"
#include "agent/runtimes/manager.hpp"
#include "agent/supervisor/supervisor.hpp"
#include "agent/tasks.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::agent {

// An operation started through the API outside provisioning (a runtime
// install), shown in /status as "operation" while it runs.
class Activity {
 public:
  void set(std::string kind, std::string step, double progress);
  void clear();
  nlohmann::json to_json() const;  // null when idle

 private:
  mutable std::mutex mu_;
  std::optional<nlohmann::json> current_;
};

struct AgentContext {
  Provisioner& provisioner;
  const TokenGuard& guard;
  metrics::Registry& metrics;
  std::optional<int64_t> vmid;
  std::chrono::steady_clock::time_point started;
  runtimes::RuntimeManager& runtimes;
  TaskRunner& tasks;
  supervisor::Supervisor& supervisor;
  console::ConsoleManager& console;
  addons::AddonManager& addons;
  Activity activity;
  const files::FilesConfig* files = nullptr;  // the /files routes, when set
  mods::ModManager* mods = nullptr;           // the /mods routes, when set
  backups::BackupDeps* backups = nullptr;     // /backups and /console/command, when set
  uint64_t max_upload_bytes = uint64_t(1) << 30;
  // The address the agent listens on ("0.0.0.0" in a container): which
  // listening sockets /status reports as ports_listening.
  std::string listen_host = "0.0.0.0";
  int listen_port = 18888;
};

http::Router make_router(AgentContext& ctx);

}  // namespace zlh::agent
