// zlh-agent: runs inside every container (docs/design.md §3).
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "agent/auth.hpp"
#include "agent/options.hpp"
#include "agent/provisioner.hpp"
#include "agent/routes.hpp"
#include "agent/steps.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "http/server.hpp"
#include "version.hpp"

using namespace zlh;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto parsed = agent::parse_options(argc, argv, host);
  if (!parsed) {
    std::cerr << "zlh-agent: " << parsed.error().message << "\n";
    return 2;
  }
  if (!parsed->options) return parsed->exit_code;
  agent::Options opts = *parsed->options;

  log::Format fmt = log::Format::kJson;
  log::parse_format(opts.log_format, &fmt);
  log::set_format(fmt);
  log::Level level = log::Level::kInfo;
  log::parse_level(opts.log_level, &level);  // validated by parse_options
  log::set_level(level);
  if (opts.vmid) log::set_base_fields({{"vmid", *opts.vmid}});

  std::optional<crypto::Ed25519PublicKey> api_key;
  if (!opts.api_key.empty()) {
    auto k = crypto::load_public_key(opts.api_key);
    if (!k) {
      log::error("agent", "cannot load --api-key", {{"error", k.error().message}});
      return 2;
    }
    api_key = *k;
  } else {
    log::warn("agent", "no --api-key given: every route but /health answers 401");
  }
  if (!opts.vmid)
    log::warn(
        "agent",
        "vmid unknown (no --vmid, no digits in hostname): every route but /health answers 401");

  std::optional<crypto::Ed25519PublicKey> catalog_key;
  if (!opts.catalog_key.empty()) {
    auto k = crypto::load_public_key(opts.catalog_key);
    if (!k) {
      log::error("agent", "cannot load --catalog-key", {{"error", k.error().message}});
      return 2;
    }
    catalog_key = *k;
  }

  agent::runtimes::CurlFetcher fetcher;
  agent::runtimes::CatalogClient catalog(fetcher, opts.artifacts, catalog_key);
  agent::runtimes::ArtifactCache cache(fs::join(opts.root, "opt/zlh/cache"), fetcher);
  agent::runtimes::RuntimeManager runtimes(opts.root, catalog, cache);
  runtimes.discard_leftovers();
  agent::devenv::DevEnvironment devenv(opts.root, opts.dev_user);
  runtimes.set_on_change([&] {
    if (auto r = devenv.regenerate(runtimes.active()); !r)
      log::error("devenv", "cannot write the environment", {{"error", r.error().message}});
  });

  agent::runtimes::RuntimeManager addon_installer(opts.root, catalog, cache, "addon");
  addon_installer.discard_leftovers();
  // Services run through zlh-shim, installed beside the agent.
  std::string self_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  agent::supervisor::SystemClock clock;
  agent::supervisor::Supervisor supervisor(opts.root, self_dir + "/zlh-shim", clock);
  std::string listen_host = http::split_host_port(opts.listen)->first;
  agent::addons::AddonManager addons(opts.root, addon_installer, catalog, supervisor, devenv,
                                     listen_host, opts.vmid);

  agent::game::GameServer game_server(opts.root, supervisor, devenv);
  agent::game::GameInstaller game_installer(opts.root, catalog, cache, runtimes, devenv,
                                            game_server);
  agent::RealStepRunner runner(opts.root, runtimes, devenv, addons, game_installer, game_server);
  agent::Provisioner provisioner(opts.root, opts.vmid, runner);
  provisioner.load();
  agent::TaskRunner tasks;

  metrics::Registry registry;
  auto started = std::chrono::steady_clock::now();
  registry.add_collector([&provisioner, started](std::string& out) {
    out +=
        "# HELP zlh_agent_state Current agent state (1 for the current one)\n# TYPE "
        "zlh_agent_state gauge\n";
    out +=
        "zlh_agent_state{state=\"" + std::string(agent::to_string(provisioner.state())) + "\"} 1\n";
    out +=
        "# HELP process_resident_memory_bytes Resident memory size in bytes\n# TYPE "
        "process_resident_memory_bytes gauge\n";
    out += "process_resident_memory_bytes " + std::to_string(metrics::resident_bytes()) + "\n";
    out +=
        "# HELP zlh_agent_uptime_seconds Seconds since the agent started\n# TYPE "
        "zlh_agent_uptime_seconds gauge\n";
    out += "zlh_agent_uptime_seconds " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::steady_clock::now() - started)
                              .count()) +
           "\n";
  });

  supervisor.reattach();
  agent::console::ConsoleManager console(supervisor, devenv, tasks);
  tasks.run([&console](const std::atomic<bool>& cancel) {
    // Idle dev console sessions are closed by this janitor.
    for (int tick = 0; !cancel.load(); ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (tick % 150 == 149) console.reap_idle();
    }
  });

  agent::TokenGuard guard(api_key, opts.vmid, zlh::unix_now);
  // The /files root: the workspace of a dev container, the server directory
  // of a game container; new files belong to the dev (service) user.
  agent::files::FilesConfig files_cfg;
  files_cfg.max_upload_bytes = opts.max_upload_bytes;
  files_cfg.open_store = [&]() -> Result<agent::files::FileStore> {
    auto p = provisioner.payload();
    if (!p) return fail(codes::kConflict, "no workload yet: POST /config first");
    auto user = devenv.ensure_user();
    if (!user) return fail(user.error());
    std::optional<agent::files::Owner> owner;
    if (!user->is_current_user) owner = agent::files::Owner{user->uid, user->gid};
    std::string dir =
        p->container_type == "game" ? fs::join(opts.root, "opt/zlh/server") : user->workspace;
    return agent::files::FileStore::open(dir, owner);
  };
  files_cfg.root_label = [&] {
    auto p = provisioner.payload();
    return std::string(p && p->container_type == "game" ? "server" : "workspace");
  };
  agent::mods::ModManager mods(opts.root, cache, opts.artifacts, supervisor,
                               [&]() -> std::optional<agent::files::Owner> {
                                 auto u = devenv.user();
                                 if (!u || u->is_current_user) return std::nullopt;
                                 return agent::files::Owner{u->uid, u->gid};
                               });
  agent::AgentContext ctx{
      provisioner, guard,   registry, opts.vmid, started,    runtimes, tasks,
      supervisor,  console, addons,   {},        &files_cfg, &mods,    opts.max_upload_bytes};
  ctx.listen_host = listen_host;
  if (auto hp = http::split_host_port(opts.listen)) ctx.listen_port = hp->second;

  http::ServerOptions so;
  so.listen = opts.listen;
  so.listen_fd = opts.listen_fd;
  so.component = "http";
  so.server_header = "zlh-agent/" + std::string(kVersion);
  so.metrics = &registry;
  http::Server server(agent::make_router(ctx), so);
  if (auto r = server.listen(); !r) {
    log::error("agent", "cannot listen", {{"error", r.error().message}, {"listen", opts.listen}});
    return 1;
  }
  provisioner.start();
  log::info("agent", "agent started",
            {{"version", kVersion},
             {"listen", opts.listen},
             {"port", server.port()},
             {"root", opts.root},
             {"state", agent::to_string(provisioner.state())}});
  server.run(1, true);
  tasks.stop();
  provisioner.stop();
  log::info("agent", "agent stopped");
  return 0;
}
