// zlh-api: the control plane (docs/design.md §10) with the embedded defaults:
// SQLite store and, as root, the lxc driver.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "api/app/api.hpp"
#include "api/drivers/local/local_driver.hpp"
#include "api/drivers/lxc/lxc_driver.hpp"
#include "api/drivers/proxmox/proxmox_driver.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/poller/poller.hpp"
#include "api/portal/static_routes.hpp"
#include "api/tailscale/tailscale_context.hpp"
#include "api/work_lane.hpp"
#include "base/cidr.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "http/server.hpp"
#include "version.hpp"

using namespace zlh;

namespace {

// The lxc driver's slots live in the store (lxc_slots).
class StoreSlots final : public api::drivers::SlotStore {
 public:
  explicit StoreSlots(api::store::Store& s) : s_(s) {}
  Result<int> acquire(int vmid, int slots) override { return s_.acquire_lxc_slot(vmid, slots); }
  Result<void> release(int vmid) override { return s_.release_lxc_slot(vmid); }

 private:
  api::store::Store& s_;
};

api::drivers::LxcDriverOptions lxc_options(const api::Options& opts, const std::string& self_dir) {
  api::drivers::LxcDriverOptions o;
  o.data_dir = opts.data;
  o.bin_dir = self_dir;
  o.tag = opts.lxc_tag;
  o.bridge_dev = opts.lxc_bridge_dev;
  o.subnet_dev = opts.lxc_subnet_dev;
  o.bridge_game = opts.lxc_bridge_game;
  o.subnet_game = opts.lxc_subnet_game;
  o.id_base = uint32_t(opts.lxc_id_base);
  o.slots = int(opts.lxc_slots);
  o.nat = opts.lxc_nat;
  o.disk_gb_default = int(opts.lxc_disk_gb_default);
  o.disk_gb_max = int(opts.lxc_disk_gb_max);
  o.disk_gb_min_code_server = int(opts.lxc_disk_gb_min_code_server);
  o.pids_max = int(opts.lxc_pids_max);
  o.listener_port = opts.artifacts_is_dir() ? int(opts.lxc_listener_port) : 0;
  return o;
}

// The container driver of --driver (docs/design.md §10.5).
Result<std::unique_ptr<api::drivers::Driver>> make_driver(const api::Options& opts,
                                                          const std::string& self_dir,
                                                          api::drivers::SlotStore& slots) {
  if (opts.driver == "lxc") {
    auto d = api::drivers::LxcDriver::open(lxc_options(opts, self_dir), slots);
    if (!d) return fail(d.error());
    return std::unique_ptr<api::drivers::Driver>(std::move(*d));
  }
  if (opts.driver == "proxmox") {
    auto cfg = api::drivers::load_proxmox_config(opts.proxmox_config);
    if (!cfg) return fail(cfg.error());
    auto d = std::make_unique<api::drivers::ProxmoxDriver>(std::move(*cfg));
    // Reachable and the token accepted? Logged, not fatal: the cluster may
    // come back later and jobs retry (the token itself is never logged).
    if (auto v = d->check_connection())
      log::info("api", "proxmox reachable",
                {{"proxmox_version", *v}, {"config", opts.proxmox_config}});
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
  api::Options resolved = *parsed->options;
  if (auto d = api::resolve_driver(resolved, ::geteuid()); d) {
    resolved.driver = *d;
  } else {
    std::cerr << "zlh-api: " << d.error().message << "\n";
    return 2;
  }
  const api::Options opts = resolved;
  // Nothing zlh-api writes is for other users of the host (its database,
  // keys and the lxc driver's records); modes that must be wider are set
  // explicitly.
  ::umask(077);
  log::Format fmt = log::Format::kJson;
  log::parse_format(opts.log_format, &fmt);
  log::set_format(fmt);
  log::Level level = log::Level::kInfo;
  log::parse_level(opts.log_level, &level);  // validated by parse_options
  log::set_level(level);

  // Headscale access (api/tailscale), before anything is touched: the API
  // key is read here (never logged) and a bad one stops the start.
  auto tailscale = api::tailscale::make_tailscale_context(
      {opts.headscale_url, opts.headscale_login_url, opts.headscale_api_key_file,
       opts.headscale_version, opts.headscale_user_prefix, opts.headscale_key_ttl,
       opts.headscale_acl_tags});
  if (!tailscale) {
    log::error("api", "cannot configure Headscale", {{"error", tailscale.error().message}});
    return 1;
  }
  if (!opts.headscale_url.empty())
    log::info(
        "api", "headscale configured",
        {{"headscale_url", opts.headscale_url}, {"headscale_version", opts.headscale_version}});

  if (auto r = fs::make_dirs(opts.data, 0700); !r) {
    log::error("api", "cannot create the data directory",
               {{"error", r.error().message}, {"data", opts.data}});
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

  // A database made before the umask above may be readable by others.
  for (const char* suffix : {"", "-wal", "-shm"})
    ::chmod((fs::join(opts.data, "zlh.db") + suffix).c_str(), 0600);
  StoreSlots slots(**store);
  auto driver = make_driver(opts, self_dir, slots);
  if (!driver) {
    log::error("api", "cannot start the driver",
               {{"driver", opts.driver}, {"error", driver.error().message}});
    return 1;
  }
  api::auth::PasswordHasher hasher(std::getenv("ZLH_TEST_FAST_HASH")
                                       ? api::auth::HashParams::minimal_for_tests()
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
  // L7: these never show in the errors users read.
  jc.host_paths = {opts.data};
  if (opts.artifacts_is_dir()) jc.host_paths.push_back(opts.artifacts);
  {
    std::error_code ec;
    auto real = std::filesystem::canonical(opts.data, ec);
    if (!ec && real.string() != opts.data) jc.host_paths.push_back(real.string());
  }
  api::JobRunner jobs(**store, **driver, agents, jc);
  // The IDE proxy's access cache; the job runner tells it when a vmid changes hands.
  api::IdeAccess ide(**store, std::chrono::seconds(opts.ide_ticket_ttl_s));
  std::optional<api::IdeOrigin> ide_origin;
  if (!opts.ide_origin.empty())
    ide_origin = *api::IdeOrigin::parse(opts.ide_origin, opts.public_url);
  jobs.on_vmid_change([&ide](int vmid) { ide.forget_vmid(vmid); });
  api::CatalogSource catalog(opts.artifacts, opts.catalog_key);
  metrics::Registry registry;
  // Provisioning jobs a runner still owes work, by state, and the ones being run now.
  registry.add_collector([&store = **store, &jobs](std::string& out) {
    std::map<std::string, int> by_state = {{"queued", 0}, {"running", 0}, {"compensating", 0}};
    if (auto unfinished = store.list_unfinished_jobs())
      for (const auto& j : *unfinished) by_state[std::string(api::store::to_string(j.state))]++;
    out += "# HELP zlh_jobs Unfinished provisioning jobs by state\n# TYPE zlh_jobs gauge\n";
    for (auto& [state, n] : by_state)
      out += "zlh_jobs{state=\"" + state + "\"} " + std::to_string(n) + "\n";
    out +=
        "# HELP zlh_jobs_active Jobs being worked on by this process\n# TYPE zlh_jobs_active "
        "gauge\n";
    out += "zlh_jobs_active " + std::to_string(jobs.active()) + "\n";
  });
  api::ApiContext ctx{opts,     **store, *secrets, hasher,  limiter,
                      **driver, jobs,    agents,   catalog, registry};
  ctx.ide = &ide;
  ctx.ide_origin = ide_origin ? &*ide_origin : nullptr;
  ctx.tailscale = tailscale->get();
  // Host power and Headscale calls: 8 threads, 2 calls per user at a time.
  api::WorkLane lane(8, 2);
  ctx.lane = &lane;

  const std::string admin_password_file = fs::join(opts.data, "initial-admin-password");
  auto admin = api::ensure_admin(ctx, admin_password_file);
  if (!admin) {
    log::error("api", "cannot create the first admin", {{"error", admin.error().message}});
    return 1;
  }
  if (*admin) {
    // L3: a generated password goes to a 0600 file, never to stdout (the
    // journal) or the log; only its path is printed.
    if (!(*admin)->second) {
      std::cout << "zlh-api: first start: admin user \"" << (*admin)->first
                << "\" with the password from ZLH_ADMIN_PASSWORD\n"
                << std::flush;
    } else {
      std::cout << "zlh-api: first start: admin user \"" << (*admin)->first
                << "\"; its password is in " << admin_password_file
                << " (mode 0600; delete the file once you have logged in)\n"
                << std::flush;
      log::info("api", "first admin created",
                {{"user", (*admin)->first}, {"password_file", admin_password_file}});
    }
  }

  http::ServerOptions hso;
  hso.listen = opts.listen;
  hso.component = "http";
  hso.server_header = "zlh-api/" + std::string(kVersion);
  hso.metrics = &registry;
  // API handlers wait on SQLite, password hashing and agents: off the io
  // threads, so the IDE proxy and the relays never stall behind them.
  hso.handler_threads = 8;
  hso.max_connections = size_t(opts.max_connections);
  hso.max_connections_per_address = size_t(opts.max_connections_per_address);
  const net::CidrSet trusted_proxies =
      *net::CidrSet::parse(opts.trusted_proxies);  // checked by parse_options
  hso.trusted_proxies = &trusted_proxies;
  http::Server server(api::make_api_router(ctx), hso);
  if (auto r = server.listen(); !r) {
    log::error("api", "cannot listen", {{"error", r.error().message}, {"listen", opts.listen}});
    return 1;
  }
  // /metrics without auth, for Prometheus on a private address.
  std::unique_ptr<http::Server> metrics_server;
  std::thread metrics_thread;
  if (!opts.metrics_listen.empty()) {
    http::Router mr;
    api::add_metrics_route(mr, registry);
    http::ServerOptions mo;
    mo.listen = opts.metrics_listen;
    mo.component = "metrics";
    mo.server_header = hso.server_header;
    metrics_server = std::make_unique<http::Server>(std::move(mr), mo);
    if (auto r = metrics_server->listen(); !r) {
      log::error("api", "cannot listen for metrics",
                 {{"error", r.error().message}, {"listen", opts.metrics_listen}});
      return 1;
    }
    log::info("api", "metrics listening (no auth)", {{"listen", opts.metrics_listen}});
  }
  // The IDE origin: its own listener, serving /dev/<vmid>/ide/ and
  // /dev/<vmid>/port/<n>/ only (docs/ide.md).
  std::unique_ptr<http::Server> ide_server;
  std::thread ide_thread;
  if (ide_origin) {
    http::Router ir;
    api::add_ide_origin_routes(ir, *ide_origin, opts.public_url, ide);
    http::ServerOptions io = hso;
    io.listen = opts.ide_listen;
    io.component = "ide";
    io.handler_threads = 1;
    ide_server = std::make_unique<http::Server>(std::move(ir), io);
    if (auto r = ide_server->listen(); !r) {
      log::error("api", "cannot listen for the IDE origin",
                 {{"error", r.error().message}, {"listen", opts.ide_listen}});
      return 1;
    }
    log::info("api", "IDE origin listening",
              {{"listen", opts.ide_listen},
               {"port", ide_server->port()},
               {"ide_origin", opts.ide_origin}});
    if (!ide_origin->per_server())
      log::warn(
          "api",
          "the IDE origin has no {vmid} in its host: every server shares one origin, so a page "
          "served by one server's IDE or port preview can reach the others' (docs/ide.md)",
          {{"ide_origin", opts.ide_origin}});
  } else {
    log::info(
        "api",
        "no IDE origin configured (--ide-listen, --ide-origin): the browser IDE and port preview "
        "are off",
        {});
  }
  // lxc: the containers' own listener on each bridge's host address, never
  // the main one; it serves the artifact store and nothing else.
  std::vector<std::unique_ptr<http::Server>> ct_listeners;
  std::vector<std::thread> ct_threads;
  auto* lxc = dynamic_cast<api::drivers::LxcDriver*>(driver->get());
  if (lxc && opts.artifacts_is_dir()) {
    for (const auto& gateway : lxc->gateways()) {
      http::Router cr;
      api::add_artifact_routes(cr, opts.artifacts);
      http::ServerOptions co;
      co.listen = gateway + ":" + std::to_string(opts.lxc_listener_port);
      co.component = "containers";
      co.server_header = hso.server_header;
      auto srv = std::make_unique<http::Server>(std::move(cr), co);
      if (auto r = srv->listen(); !r) {
        log::error("api", "cannot listen for containers",
                   {{"error", r.error().message}, {"listen", co.listen}});
        return 1;
      }
      log::info("api", "listening for containers (artifacts only)", {{"listen", co.listen}});
      ct_listeners.push_back(std::move(srv));
    }
    for (auto& srv : ct_listeners) ct_threads.emplace_back([s = srv.get()] { s->run(1, false); });
  }
  if (lxc) {
    int back = lxc->restore_running();
    if (back > 0) log::info("api", "containers brought back", {{"count", back}});
    lxc->start_host_checks(std::chrono::milliseconds(int64_t(opts.lxc_host_check_s * 1000)));
  }
  if (ide_server) ide_thread = std::thread([s = ide_server.get()] { s->run(2, false); });
  if (metrics_server)
    metrics_thread = std::thread([s = metrics_server.get()] { s->run(1, false); });
  jobs.resume_all();
  // Live agent state for GET /api/servers, which reads only the store.
  api::PollerConfig pc;
  pc.interval = std::chrono::milliseconds(int64_t(opts.poll_interval_s * 1000));
  pc.workers = int(opts.poll_workers);
  pc.host_paths = jc.host_paths;
  api::Poller poller(
      **store,
      api::agent_status_via(agents, std::chrono::milliseconds(int64_t(opts.poll_timeout_s * 1000))),
      pc, &registry);
  poller.start();
  log::info("api", "api started",
            {{"version", kVersion},
             {"listen", opts.listen},
             {"port", server.port()},
             {"data", opts.data},
             {"driver", opts.driver},
             {"public_url", opts.public_url}});
  server.run(2, true);
  lane.stop();  // its calls answer through this server's Responders
  if (ide_server) {
    ide_server->stop();
    ide_thread.join();
  }
  if (metrics_server) {
    metrics_server->stop();
    metrics_thread.join();
  }
  for (auto& srv : ct_listeners) srv->stop();
  for (auto& t : ct_threads) t.join();
  poller.stop();
  jobs.stop();
  log::info("api", "api stopped");
  return 0;
}
