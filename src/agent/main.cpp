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
#include "agent/workload.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "http/server.hpp"
#include "version.hpp"

using namespace zlh;

namespace {

// An Ed25519 public key file named by a flag; nullopt when the flag is empty.
Result<std::optional<crypto::Ed25519PublicKey>> load_key(const std::string& path) {
  if (path.empty()) return std::optional<crypto::Ed25519PublicKey>{};
  auto k = crypto::load_public_key(path);
  if (!k) return fail(k.error());
  return std::optional{*k};
}

void setup_logging(const agent::Options& opts) {
  log::Format fmt = log::Format::kJson;
  log::parse_format(opts.log_format, &fmt);
  log::set_format(fmt);
  log::Level level = log::Level::kInfo;
  log::parse_level(opts.log_level, &level);  // validated by parse_options
  log::set_level(level);
  if (opts.vmid) log::set_base_fields({{"vmid", *opts.vmid}});
}

http::ServerOptions server_options(const agent::Options& opts, metrics::Registry& registry) {
  http::ServerOptions so;
  so.listen = opts.listen;
  so.listen_fd = opts.listen_fd;
  so.component = "http";
  so.server_header = "zlh-agent/" + std::string(kVersion);
  so.metrics = &registry;
  return so;
}

// Builds the agent's parts, serves until a signal, stops them. Exit code.
int run(const agent::Options& opts, std::optional<crypto::Ed25519PublicKey> api_key,
        std::optional<crypto::Ed25519PublicKey> catalog_key) {
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
  agent::runtimes::RuntimeManager addon_installer(opts.root, catalog, cache,
                                                  agent::runtimes::PackageKind::kAddon);
  addon_installer.discard_leftovers();
  // Services run through zlh-shim, installed beside the agent.
  std::string self_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  agent::supervisor::SystemClock clock;
  agent::supervisor::Supervisor supervisor(opts.root, self_dir + "/zlh-shim", clock);
  const auto [listen_host, listen_port] = *http::split_host_port(opts.listen);
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
  const auto started = std::chrono::steady_clock::now();
  agent::add_agent_metrics(registry, provisioner, started);
  supervisor.reattach();
  agent::console::ConsoleManager console(supervisor, devenv, tasks);
  console.start_reaper();
  agent::TokenGuard guard(api_key, opts.vmid, zlh::unix_now);
  const auto files = agent::workload_files(provisioner, devenv, opts.root, opts.max_upload_bytes);
  agent::mods::ModManager mods(opts.root, cache, opts.artifacts, supervisor,
                               agent::dev_user_owner(devenv));
  auto backup_deps =
      agent::backups::workload_backup_deps(provisioner, devenv, opts.root, supervisor, tasks);
  agent::AgentContext ctx{.provisioner = provisioner,
                          .guard = guard,
                          .metrics = registry,
                          .vmid = opts.vmid,
                          .started = started,
                          .runtimes = runtimes,
                          .tasks = tasks,
                          .supervisor = supervisor,
                          .console = console,
                          .addons = addons,
                          .files = &files,
                          .mods = &mods,
                          .backups = &backup_deps,
                          .max_upload_bytes = opts.max_upload_bytes,
                          .listen_host = listen_host,
                          .listen_port = listen_port};

  http::Server server(agent::make_router(ctx), server_options(opts, registry));
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
             {"state", to_string(provisioner.state())}});
  server.run(1, true);
  tasks.stop();
  provisioner.stop();
  log::info("agent", "agent stopped");
  return 0;
}

}  // namespace

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
  const agent::Options opts = *parsed->options;
  setup_logging(opts);
  auto api_key = load_key(opts.api_key);
  if (!api_key) {
    log::error("agent", "cannot load --api-key", {{"error", api_key.error().message}});
    return 2;
  }
  if (!*api_key) log::warn("agent", "no --api-key given: every route but /health answers 401");
  if (!opts.vmid)
    log::warn("agent",
              "vmid unknown (no --vmid, no digits in hostname): every route but /health answers "
              "401");
  auto catalog_key = load_key(opts.catalog_key);
  if (!catalog_key) {
    log::error("agent", "cannot load --catalog-key", {{"error", catalog_key.error().message}});
    return 2;
  }
  return run(opts, *api_key, *catalog_key);
}
