#include "agent/workload.hpp"

#include "base/fs.hpp"

namespace zlh::agent {

Result<WorkloadRoot> workload_root(const Provisioner& provisioner, devenv::DevEnvironment& devenv,
                                   const std::string& root) {
  auto p = provisioner.payload();
  if (!p) return fail(codes::kConflict, "no workload yet: POST /config first");
  auto user = devenv.ensure_user();
  if (!user) return fail(user.error());
  WorkloadRoot w;
  if (!user->is_current_user) w.owner = files::Owner{user->uid, user->gid};
  w.type = p->container_type;
  const bool game = p->container_type == ContainerType::kGame;
  w.dir = game ? fs::join(root, "opt/zlh/server") : user->workspace;
  w.service = game ? "workload" : "code-server";
  return w;
}

files::FilesConfig workload_files(const Provisioner& provisioner, devenv::DevEnvironment& devenv,
                                  std::string root, uint64_t max_upload_bytes) {
  files::FilesConfig cfg;
  cfg.max_upload_bytes = max_upload_bytes;
  cfg.open_store = [&provisioner, &devenv, root]() -> Result<files::FileStore> {
    auto w = workload_root(provisioner, devenv, root);
    if (!w) return fail(w.error());
    return files::FileStore::open(w->dir, w->owner);
  };
  cfg.root_label = [&provisioner] {
    auto p = provisioner.payload();
    return std::string(p && p->container_type == ContainerType::kGame ? "server" : "workspace");
  };
  return cfg;
}

std::function<std::optional<files::Owner>()> dev_user_owner(devenv::DevEnvironment& devenv) {
  return [&devenv]() -> std::optional<files::Owner> {
    auto u = devenv.user();
    if (!u || u->is_current_user) return std::nullopt;
    return files::Owner{u->uid, u->gid};
  };
}

void add_agent_metrics(metrics::Registry& registry, const Provisioner& provisioner,
                       std::chrono::steady_clock::time_point started) {
  registry.add_collector([&provisioner, started](std::string& out) {
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started);
    out += "# HELP zlh_agent_state Current agent state (1 for the current one)\n";
    out += "# TYPE zlh_agent_state gauge\n";
    out += "zlh_agent_state{state=\"" + std::string(to_string(provisioner.state())) + "\"} 1\n";
    out += "# HELP process_resident_memory_bytes Resident memory size in bytes\n";
    out += "# TYPE process_resident_memory_bytes gauge\n";
    out += "process_resident_memory_bytes " + std::to_string(metrics::resident_bytes()) + "\n";
    out += "# HELP zlh_agent_uptime_seconds Seconds since the agent started\n";
    out += "# TYPE zlh_agent_uptime_seconds gauge\n";
    out += "zlh_agent_uptime_seconds " + std::to_string(uptime.count()) + "\n";
  });
}

}  // namespace zlh::agent
