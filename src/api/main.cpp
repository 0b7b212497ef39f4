// zlh-api: the control plane (DESIGN.md §10) with the embedded defaults:
// SQLite store and the local driver.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>

#include "api/app/api.hpp"
#include "api/drivers/local_driver.hpp"
#include "api/drivers/proxmox_driver.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/poller/poller.hpp"
#include "api/tailscale/tailscale_context.hpp"
#include "common/fs.hpp"
#include "common/http_server.hpp"
#include "common/log.hpp"
#include "version.hpp"

using namespace zlh;

namespace {

// The container driver of --driver (DESIGN §10.5).
Result<std::unique_ptr<api::drivers::Driver>> make_driver(const api::Options& opts) {
  if (opts.driver == "proxmox") {
    auto cfg = api::drivers::load_proxmox_config(opts.proxmox_config);
    if (!cfg) return fail(cfg.error());
    auto d = std::make_unique<api::drivers::ProxmoxDriver>(std::move(*cfg));
    // Reachable and the token accepted? Logged, not fatal: the cluster may
    // come back later and jobs retry (the token itself is never logged).
    if (auto v = d->check_connection())
      log::info("api", "proxmox reachable", {{"proxmox_version", *v}, {"config", opts.proxmox_config}});
    else
      log::warn("api", "proxmox not reachable yet", {{"error", v.error().message}});
    return std::unique_ptr<api::drivers::Driver>(std::move(d));
  }
  auto d = api::drivers::LocalDriver::open({opts.data, opts.agent_bin});
  if (!d) return fail(d.error());
  return std::unique_ptr<api::drivers::Driver>(std::move(*d));
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  // Every proxied IDE WebSocket holds two descriptors: use all the hard limit allows.
  if (struct rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::string self_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  auto parsed = api::parse_options(argc, argv, self_dir);
  if (!parsed) {
    std::cerr << "zlh-api: " << parsed.error().message << "\n";
    return 2;
  }
  if (!parsed->options) return parsed->exit_code;
  const api::Options opts = *parsed->options;
  log::Format fmt = log::Format::kJson;
  log::parse_format(opts.log_format, &fmt);
  log::set_format(fmt);
  log::Level level = log::Level::kInfo;
  log::parse_level(opts.log_level, &level);  // validated by parse_options
  log::set_level(level);

  // Headscale access (api/tailscale), before anything is touched: the API
  // key is read here (never logged) and a bad one stops the start.
  auto tailscale = api::tailscale::make_tailscale_context(opts);
  if (!tailscale) {
    log::error("api", "cannot configure Headscale", {{"error", tailscale.error().message}});
    return 1;
  }
  if (!opts.headscale_url.empty())
    log::info(
        "api", "headscale configured",
        {{"headscale_url", opts.headscale_url}, {"headscale_version", opts.headscale_version}});

  if (auto r = fs::make_dirs(opts.data, 0700); !r) {
    log::error("api", "cannot create the data directory", {{"error", r.error().message}, {"data", opts.data}});
    return 1;
  }
  auto secrets = api::auth::load_or_generate(api::auth::default_secret_files(opts.data));
  if (!secrets) {
    log::error("api", "cannot load secrets", {{"error", secrets.error().message}});
    return 1;
  }
  for (const auto& p : secrets->generated) log::info("api", "generated a secret", {{"path", p}});

  api::store::Options so;
  so.game_vmids = {int(opts.game_vmid_lo), int(opts.game_vmid_hi)};
  so.dev_vmids = {int(opts.dev_vmid_lo), int(opts.dev_vmid_hi)};
  so.ports = {int(opts.port_lo), int(opts.port_hi)};
  auto store = api::store::Store::open(fs::join(opts.data, "zlh.db"), so);
  if (!store) {
    log::error("api", "cannot open the store", {{"error", store.error().message}});
    return 1;
  }

  auto driver = make_driver(opts);
  if (!driver) {
    log::error("api", "cannot start the driver", {{"driver", opts.driver}, {"error", driver.error().message}});
    return 1;
  }
  api::auth::PasswordHasher hasher(std::getenv("ZLH_TEST_FAST_HASH") ? api::auth::HashParams::minimal_for_tests()
                                                                     : api::auth::HashParams::interactive());
  api::auth::LoginRateLimiter limiter;
  api::AgentClient agents(secrets->api_key);
  api::JobRunnerConfig jc;
  jc.agent.api_public_key_file = fs::join(opts.data, "keys/api.pub");
  jc.agent.catalog_public_key_file = opts.catalog_key;
  jc.agent.artifacts_url = opts.artifacts_is_dir() ? "file://" + opts.artifacts : opts.artifacts;
  jc.agent.dev_user = "-";
  {
    auto files = api::auth::default_secret_files(opts.data);
    jc.agent.api_public_key_file = files.api_pub;
  }
  api::JobRunner jobs(**store, **driver, agents, jc);
  // The IDE proxy's access cache; the job runner tells it when a vmid changes hands.
  api::IdeAccess ide(**store, secrets->jwt);
  jobs.on_vmid_change([&ide](int vmid) { ide.forget_vmid(vmid); });
  api::CatalogSource catalog(opts.artifacts, opts.catalog_key);
  metrics::Registry registry;
  // Provisioning jobs a runner still owes work, by state, and the ones being run now.
  registry.add_collector([&store = **store, &jobs](std::string& out) {
    std::map<std::string, int> by_state = {{"queued", 0}, {"running", 0}, {"compensating", 0}};
    if (auto unfinished = store.list_unfinished_jobs())
      for (const auto& j : *unfinished) by_state[std::string(api::store::to_string(j.state))]++;
    out += "# HELP zlh_jobs Unfinished provisioning jobs by state\n# TYPE zlh_jobs gauge\n";
    for (auto& [state, n] : by_state) out += "zlh_jobs{state=\"" + state + "\"} " + std::to_string(n) + "\n";
    out += "# HELP zlh_jobs_active Jobs being worked on by this process\n# TYPE zlh_jobs_active gauge\n";
    out += "zlh_jobs_active " + std::to_string(jobs.active()) + "\n";
  });
  api::ApiContext ctx{opts, **store, *secrets, hasher, limiter, **driver, jobs, agents, catalog, registry};
  ctx.ide = &ide;
  ctx.tailscale = tailscale->get();

  auto admin = api::ensure_admin(ctx);
  if (!admin) {
    log::error("api", "cannot create the first admin", {{"error", admin.error().message}});
    return 1;
  }
  if (*admin) {
    // The one-time password goes to the operator's terminal, never to the log.
    std::cout << "zlh-api: first start: admin user \"" << (*admin)->first << "\" with password "
              << ((std::getenv("ZLH_ADMIN_PASSWORD") != nullptr) ? "from ZLH_ADMIN_PASSWORD" : (*admin)->second)
              << "\n"
              << std::flush;
  }

  http::ServerOptions hso;
  hso.listen = opts.listen;
  hso.component = "http";
  hso.server_header = "zlh-api/" + std::string(kVersion);
  hso.metrics = &registry;
  // API handlers wait on SQLite, password hashing and agents: off the io
  // threads, so the IDE proxy and the relays never stall behind them.
  hso.handler_threads = 8;
  http::Server server(api::make_api_router(ctx), hso);
  if (auto r = server.listen(); !r) {
    log::error("api", "cannot listen", {{"error", r.error().message}, {"listen", opts.listen}});
    return 1;
  }
  jobs.resume_all();
  // Live agent state for GET /api/servers, which reads only the store.
  api::PollerConfig pc;
  pc.interval = std::chrono::milliseconds(int64_t(opts.poll_interval_s * 1000));
  pc.workers = int(opts.poll_workers);
  api::Poller poller(
      **store,
      api::agent_status_via(agents, std::chrono::milliseconds(int64_t(opts.poll_timeout_s * 1000))),
      pc, &registry);
  poller.start();
  log::info("api", "api started",
            {{"version", kVersion}, {"listen", opts.listen}, {"port", server.port()}, {"data", opts.data},
             {"driver", opts.driver}, {"public_url", opts.public_url}});
  server.run(2, true);
  poller.stop();
  jobs.stop();
  log::info("api", "api stopped");
  return 0;
}
