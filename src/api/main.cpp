// zlh-api: the control plane (docs/design.md §10) with the embedded defaults:
// SQLite store and, as root, the lxc driver.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <expected>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "api/app/api.hpp"
#include "api/app/invalidation.hpp"
#include "api/auth/cookies.hpp"
#include "api/auth/password.hpp"
#include "api/auth/rate_limit.hpp"
#include "api/auth/secrets.hpp"
#include "api/catalog/catalog_source.hpp"
#include "api/cluster/replica.hpp"
#include "api/drivers/local/local_driver.hpp"
#include "api/drivers/lxc/lxc_driver.hpp"
#include "api/drivers/proxmox/proxmox_driver.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/jobs/job_runner.hpp"
#include "api/options.hpp"
#include "api/poller/poller.hpp"
#include "api/portal/static_routes.hpp"
#include "api/schedules/scheduler.hpp"
#include "api/stats/replica_stats.hpp"
#include "api/stats/stats_routes.hpp"
#include "api/store/store.hpp"
#include "api/tailscale/tailscale_context.hpp"
#include "api/work_lane.hpp"
#include "base/cidr.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
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

// Every proxied IDE WebSocket holds two descriptors: use all the hard limit allows.
void raise_fd_limit() {
  if (struct rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// The command line's options with the driver resolved; otherwise the exit
// code (0 after --help or --version; 2 after an error, printed).
std::expected<api::Options, int> load_options(int argc, char** argv, const std::string& self_dir) {
  auto parsed = api::parse_options(argc, argv, self_dir);
  if (!parsed) {
    std::cerr << "zlh-api: " << parsed.error().message << "\n";
    return std::unexpected(2);
  }
  if (!parsed->options) return std::unexpected(parsed->exit_code);
  api::Options resolved = *parsed->options;
  if (auto d = api::resolve_driver(resolved, ::geteuid()); d) {
    resolved.driver = *d;
  } else {
    std::cerr << "zlh-api: " << d.error().message << "\n";
    return std::unexpected(2);
  }
  return resolved;
}

// The log's format and level, as validated by parse_options.
void set_up_log(const api::Options& opts) {
  log::Format fmt = log::Format::kJson;
  log::parse_format(opts.log_format, &fmt);
  log::set_format(fmt);
  log::Level level = log::Level::kInfo;
  log::parse_level(opts.log_level, &level);
  log::set_level(level);
}

// Headscale access (api/tailscale), before anything is touched: the API
// key is read here (never logged) and a bad one stops the start (nullopt,
// logged). The context is null when Headscale is not configured.
std::optional<std::unique_ptr<api::tailscale::TailscaleContext>> open_tailscale(
    const api::Options& opts) {
  auto tailscale = api::tailscale::make_tailscale_context(
      {opts.headscale_url, opts.headscale_login_url, opts.headscale_api_key_file,
       opts.headscale_version, opts.headscale_user_prefix, opts.headscale_key_ttl,
       opts.headscale_acl_tags});
  if (!tailscale) {
    log::error("api", "cannot configure Headscale", {{"error", tailscale.error().message}});
    return std::nullopt;
  }
  if (!opts.headscale_url.empty())
    log::info(
        "api", "headscale configured",
        {{"headscale_url", opts.headscale_url}, {"headscale_version", opts.headscale_version}});
  return std::move(*tailscale);
}

// The key files: the operator's (--jwt-secret-file, --api-key-file) or
// <data>/keys/…, made on first start.
api::auth::SecretFiles secret_files(const api::Options& opts) {
  return api::auth::configured_secret_files(opts.data, opts.jwt_secret_file, opts.api_key_file);
}

// The data directory and the keys in it, made on first start; nullopt
// (logged) when either fails.
std::optional<api::auth::ApiSecrets> open_secrets(const api::Options& opts) {
  if (auto r = fs::make_dirs(opts.data, 0700); !r) {
    log::error("api", "cannot create the data directory",
               {{"error", r.error().message}, {"data", opts.data}});
    return std::nullopt;
  }
  auto secrets = api::auth::load_or_generate(secret_files(opts));
  if (!secrets) {
    log::error("api", "cannot load secrets", {{"error", secrets.error().message}});
    return std::nullopt;
  }
  for (const auto& p : secrets->generated) log::info("api", "generated a secret", {{"path", p}});
  return std::move(*secrets);
}

// The store of --store (default the SQLite file in the data directory);
// null (logged) when it cannot open. The URL is logged without a password.
std::unique_ptr<api::store::Store> open_store(const api::Options& opts) {
  api::store::Options so;
  so.game_vmids = {int(opts.game_vmid_lo), int(opts.game_vmid_hi)};
  so.dev_vmids = {int(opts.dev_vmid_lo), int(opts.dev_vmid_hi)};
  so.ports = {int(opts.port_lo), int(opts.port_hi)};
  const std::string shown = api::store::redact_store_url(opts.store);
  auto password = api::load_store_password(opts);
  if (!password) {
    log::error("api", "cannot read the store password", {{"error", password.error().message}});
    return nullptr;
  }
  const bool sqlite = opts.store.starts_with("sqlite:");
  if (!sqlite) so.password = std::move(*password);
  auto store = api::store::Store::open(opts.store, std::move(so));
  if (!store) {
    log::error("api", "cannot open the store",
               {{"error", store.error().message}, {"store", shown}});
    return nullptr;
  }
  log::info("api", "store open", {{"store", shown}});
  // A database made before the umask of main may be readable by others.
  if (sqlite)
    for (const char* suffix : {"", "-wal", "-shm"})
      ::chmod((opts.store.substr(7) + suffix).c_str(), 0600);
  return std::move(*store);
}

// This process as a replica in the store (docs/operations.md "Replicas"),
// before the driver touches any container; null (printed and logged) when
// the store refuses it (another driver or host, a second lxc/local replica).
std::unique_ptr<api::cluster::Replica> start_replica(const api::Options& opts,
                                                     api::store::Store& store) {
  api::cluster::ReplicaOptions ro;
  ro.id = api::cluster::make_replica_id();
  ro.driver = opts.driver;
  ro.host = api::cluster::host_name();
  ro.ttl = std::chrono::milliseconds(opts.replica_ttl_ms);
  ro.adopt_host = opts.adopt_host;
  auto r = api::cluster::Replica::start(store, std::move(ro));
  if (!r) {
    std::cerr << "zlh-api: " << r.error().message << "\n";
    log::error("api", "cannot start as a replica", {{"error", r.error().message}});
    return nullptr;
  }
  return std::move(*r);
}

// What the job runner hands agents, and the host paths hidden from users;
// its jobs' lease owner is this replica (`owner`: Replica::id()).
api::JobRunnerConfig job_runner_config(const api::Options& opts, const std::string& owner) {
  api::JobRunnerConfig jc;
  jc.owner = owner;
  jc.lease_ttl = std::chrono::milliseconds(opts.job_lease_ttl_ms);
  jc.agent.api_public_key_file = secret_files(opts).api_pub;
  jc.agent.catalog_public_key_file = opts.catalog_key;
  jc.agent.artifacts_url = opts.artifacts_is_dir() ? "file://" + opts.artifacts : opts.artifacts;
  jc.agent.dev_user = "-";
  // L7: these never show in the errors users read.
  jc.host_paths = {opts.data};
  if (opts.artifacts_is_dir()) jc.host_paths.push_back(opts.artifacts);
  jc.host_paths.push_back(opts.backup_dir);  // --backup-dir may be outside the data
  std::error_code ec;
  auto real = std::filesystem::canonical(opts.data, ec);
  if (!ec && real.string() != opts.data) jc.host_paths.push_back(real.string());
  return jc;
}

// What the backup service is run with (--backup-*), its errors redacted
// like the job runner's (`hidden`: its host paths).
api::backups::BackupConfig backup_config(const api::Options& o, std::vector<std::string> hidden) {
  api::backups::BackupConfig c;
  c.keep = int(o.backup_keep);
  c.quota_bytes = o.backup_quota;
  c.keep_on_server_delete = o.keep_backups;
  c.host_paths = std::move(hidden);
  return c;
}

// Provisioning jobs a runner still owes work, by state, and the ones being run now.
void add_job_gauges(metrics::Registry& registry, api::store::Store& store, api::JobRunner& jobs) {
  using api::store::JobState;
  registry.add_collector([&store, &jobs](std::string& out) {
    std::map<std::string, int> by_state;
    for (auto st : {JobState::kQueued, JobState::kRunning, JobState::kCompensating})
      by_state[std::string(api::store::to_string(st))] = 0;
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
}

// The first admin, on first start; false (logged) when it cannot be made.
bool create_first_admin(api::store::Store& store, const api::auth::PasswordHasher& hasher,
                        const std::string& data) {
  const std::string password_file = fs::join(data, "initial-admin-password");
  auto admin = api::ensure_admin(store, hasher, password_file);
  if (!admin) {
    log::error("api", "cannot create the first admin", {{"error", admin.error().message}});
    return false;
  }
  if (!*admin) return true;
  // L3: a generated password goes to a 0600 file, never to stdout (the
  // journal) or the log; only its path is printed.
  if (!(*admin)->second) {
    std::cout << "zlh-api: first start: admin user \"" << (*admin)->first
              << "\" with the password from ZLH_ADMIN_PASSWORD\n"
              << std::flush;
  } else {
    std::cout << "zlh-api: first start: admin user \"" << (*admin)->first
              << "\"; its password is in " << password_file
              << " (mode 0600; delete the file once you have logged in)\n"
              << std::flush;
    log::info("api", "first admin created",
              {{"user", (*admin)->first}, {"password_file", password_file}});
  }
  return true;
}

// --stats-interval: 0 (off) keeps the default interval; serve() then never
// starts the sampler.
api::stats::SamplerOptions stats_options(const api::Options& opts) {
  api::stats::SamplerOptions so;
  if (opts.stats_interval_s > 0)
    so.interval = std::chrono::milliseconds(int64_t(opts.stats_interval_s * 1000));
  return so;
}

// The objects the API's handlers share, built from the options and owned by
// main; built before anything listens.
struct Services {
  Services(const api::Options& opts, api::store::Store& store, api::drivers::Driver& driver,
           const api::auth::ApiSecrets& secrets, const api::cluster::Replica& replica)
      : hasher(std::getenv("ZLH_TEST_FAST_HASH") ? api::auth::HashParams::minimal_for_tests()
                                                 : api::auth::HashParams::interactive()),
        // Counted in the store: a failure on any replica counts on all.
        limiter(api::auth::RateLimitConfig{}, store, "login"),
        agents(secrets.api_key),
        jobs_config(job_runner_config(opts, replica.id())),
        jobs(store, driver, agents, jobs_config),
        ide(store, std::chrono::seconds(opts.ide_ticket_ttl_s)),
        catalog(opts.artifacts, opts.catalog_key),
        archives(opts.backup_dir),
        backups(store, archives, jobs, agents, backup_config(opts, jobs_config.host_paths)),
        scheduler(store, api::schedules::agent_tasks(agents, start_backup),
                  {.alone = [&replica] { return replica.live().size() <= 1; }}),
        stats(driver,
              api::stats::targets_from(store, [&replica](int64_t id) { return replica.owns(id); }),
              stats_options(opts)),
        stats_fanout(stats),
        replica_stats({store, stats, stats_fanout,
                       [&replica](int64_t id) { return replica.owns(id); },
                       [&replica] { return replica.live().size() <= 1; }}),
        activity(store) {
    if (!opts.ide_origin.empty())
      ide_origin = *api::IdeOrigin::parse(opts.ide_origin, opts.public_url);
    // The IDE proxy's access cache; the job runner tells it when a vmid changes hands.
    jobs.on_vmid_change([this](int vmid) { ide.forget_vmid(vmid); });
    // A schedule's backup task is a backup of kind "scheduled".
    start_backup = [this](const api::store::Server& s, std::string name) {
      return backups.start_backup(s, std::move(name), api::backups::BackupKind::kScheduled);
    };
    add_job_gauges(registry, store, jobs);
    api::stats::add_stats_gauges(registry, stats, stats_fanout);
    // Viewers here, and those of the other replicas through the store.
    stats.on_cycle([this](const api::stats::Fresh& fresh) { replica_stats.on_cycle(fresh); });
    stats_fanout.set_history([this](int64_t id) { return replica_stats.history(id); });
    // Logouts and access changes on any replica reach these caches.
    watch = api::watch_changes(store, &ide, &sessions);
  }

  api::auth::PasswordHasher hasher;
  api::auth::LoginRateLimiter limiter;
  // Open console sessions per (server, user): cut when access goes.
  api::authz::LiveSessions sessions;
  api::AgentClient agents;
  api::JobRunnerConfig jobs_config;
  api::JobRunner jobs;
  api::IdeAccess ide;
  std::optional<api::IdeOrigin> ide_origin;
  api::CatalogSource catalog;
  api::backups::FsBackupStore archives;
  api::backups::BackupService backups;  // registers its job kinds with `jobs`
  // Backup tasks of schedules: the backup service's start_backup (kind
  // scheduled), set in the constructor. Read by the scheduler's tasks.
  api::schedules::StartBackupFn start_backup;
  // Schedules fire here (docs/schedules.md); started by serve().
  api::schedules::Scheduler scheduler;
  // Live stats (docs/design.md §12a): one driver call every 2 s for all
  // ready servers; started by serve(). Before `registry`, whose gauges read it.
  api::stats::Sampler stats;
  // Stream viewers of the samples (the sampler's listener). The sampler is
  // stopped before this is destroyed (serve()).
  api::stats::Fanout stats_fanout;
  // The samples of servers another replica samples, and ours for them
  // (stats/replica_stats.hpp); started and stopped with the sampler.
  api::stats::ReplicaStats replica_stats;
  metrics::Registry registry;
  // Host power and Headscale calls: 8 threads, 2 calls per user at a time.
  api::WorkLane lane{8, 2};
  // The relays' activity entries (file changes, game console lines),
  // written off the I/O threads.
  api::activity::Recorder activity;
  // The store's change notifications into `ide` and `sessions`; destroyed
  // first, so no notification reaches them once they go.
  std::unique_ptr<api::ChangeWatch> watch;
};

// Each feature's share of the services, for the route table.
api::ApiRouteDeps route_deps(const api::Options& o, api::store::Store& store,
                             api::drivers::Driver& driver, const api::auth::ApiSecrets& secrets,
                             Services& s, api::tailscale::TailscaleContext* tailscale,
                             const api::cluster::Replica& replica) {
  const bool secure = api::auth::secure_for_public_url(o.public_url);
  const api::store::QuotaDefaults quotas{o.quota_servers,  o.quota_memory_mb, o.quota_disk_gb,
                                         o.quota_consoles, o.quota_uploads,   o.backup_quota};
  return {
      .auth = {store, secrets, s.hasher, s.limiter, &s.ide, secure, o.registration,
               o.registration_limit},
      .catalog = s.catalog,
      .admin = {store, s.registry, quotas},
      .servers = {store, driver, s.jobs, s.agents, s.catalog, s.lane, &s.ide, quotas, &s.stats},
      .relay = {store, s.agents, s.registry, o.public_url, o.quota_consoles, o.quota_uploads,
                &s.sessions, &s.activity, replica.id()},
      .tailscale = {store, s.agents, tailscale, s.lane},
      .ide = {store, secrets.jwt, s.ide_origin ? &*s.ide_origin : nullptr, s.ide, s.agents, secure},
      .backups = {store, s.backups, s.jobs},
      .schedules = {store, s.scheduler},
      .members = {store, s.sessions, &s.ide, tailscale, quotas},
      .activity = {store},
      .stats = {store, s.stats, s.stats_fanout, o.public_url, &s.sessions,
                [&s](int64_t id) { return s.replica_stats.history(id); }},
      .artifacts = o.artifacts_is_dir() ? o.artifacts : std::string(),
      .portal = o.portal,
      .replica_healthy = [&replica] { return replica.healthy(); },
  };
}

// Listeners besides the API's own (metrics, the IDE origin, the
// containers'), each with its own server and thread.
class SideServers {
 public:
  // Listens on o.listen; false, logged as `what`, when it cannot.
  bool add(http::Router r, const http::ServerOptions& o, int threads, std::string_view what) {
    auto srv = std::make_unique<http::Server>(std::move(r), o);
    if (auto l = srv->listen(); !l) {
      log::error("api", what, {{"error", l.error().message}, {"listen", o.listen}});
      return false;
    }
    entries_.push_back({std::move(srv), threads, {}});
    return true;
  }
  http::Server& last() { return *entries_.back().server; }
  // Runs each on a thread of its own.
  void start() {
    for (auto& e : entries_) e.thread = std::thread([&e] { e.server->run(e.threads, false); });
  }
  // Stops each and waits for its thread.
  void stop() {
    for (auto& e : entries_) e.server->stop();
    for (auto& e : entries_)
      if (e.thread.joinable()) e.thread.join();
  }

 private:
  struct Entry {
    std::unique_ptr<http::Server> server;
    int threads = 1;
    std::thread thread;
  };
  std::vector<Entry> entries_;
};

// The main listener's options: handlers off the io threads.
http::ServerOptions api_server_options(const api::Options& opts, metrics::Registry& registry,
                                       const net::CidrSet& trusted_proxies) {
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
  hso.trusted_proxies = &trusted_proxies;
  return hso;
}

// /metrics without auth, for Prometheus on a private address.
bool listen_for_metrics(SideServers& side, const api::Options& opts, metrics::Registry& registry,
                        const std::string& server_header) {
  if (opts.metrics_listen.empty()) return true;
  http::Router mr;
  api::add_metrics_route(mr, registry);
  http::ServerOptions mo;
  mo.listen = opts.metrics_listen;
  mo.component = "metrics";
  mo.server_header = server_header;
  if (!side.add(std::move(mr), mo, 1, "cannot listen for metrics")) return false;
  log::info("api", "metrics listening (no auth)", {{"listen", opts.metrics_listen}});
  return true;
}

// The IDE origin: its own listener, serving /dev/<vmid>/ide/ and
// /dev/<vmid>/port/<n>/ only (docs/ide.md).
bool listen_for_ide(SideServers& side, const api::Options& opts, const api::IdeOrigin* ide_origin,
                    api::IdeAccess& ide, const http::ServerOptions& hso) {
  if (!ide_origin) {
    log::info(
        "api",
        "no IDE origin configured (--ide-listen, --ide-origin): the browser IDE and port preview "
        "are off",
        {});
    return true;
  }
  http::Router ir;
  api::add_ide_origin_routes(ir, *ide_origin, opts.public_url, ide);
  http::ServerOptions io = hso;
  io.listen = opts.ide_listen;
  io.component = "ide";
  io.handler_threads = 1;
  if (!side.add(std::move(ir), io, 2, "cannot listen for the IDE origin")) return false;
  log::info(
      "api", "IDE origin listening",
      {{"listen", opts.ide_listen}, {"port", side.last().port()}, {"ide_origin", opts.ide_origin}});
  if (!ide_origin->per_server())
    log::warn("api",
              "the IDE origin has no {vmid} in its host: every server shares one origin, so a page "
              "served by one server's IDE or port preview can reach the others' (docs/ide.md)",
              {{"ide_origin", opts.ide_origin}});
  return true;
}

// lxc: the containers' own listener on each bridge's host address, never
// the main one; it serves the artifact store and nothing else.
bool listen_for_containers(SideServers& side, const api::Options& opts,
                           const api::drivers::LxcDriver& lxc, const std::string& server_header) {
  for (const auto& gateway : lxc.gateways()) {
    http::Router cr;
    api::add_artifact_routes(cr, opts.artifacts);
    http::ServerOptions co;
    co.listen = gateway + ":" + std::to_string(opts.lxc_listener_port);
    co.component = "containers";
    co.server_header = server_header;
    if (!side.add(std::move(cr), co, 1, "cannot listen for containers")) return false;
    log::info("api", "listening for containers (artifacts only)", {{"listen", co.listen}});
  }
  return true;
}

// lxc: restarts the containers that ran before and starts the host checks.
void resume_lxc(api::drivers::LxcDriver& lxc, const api::Options& opts) {
  int back = lxc.restore_running();
  if (back > 0) log::info("api", "containers brought back", {{"count", back}});
  lxc.start_host_checks(std::chrono::milliseconds(int64_t(opts.lxc_host_check_s * 1000)));
}

// Live agent state for GET /api/servers, which reads only the store.
api::PollerConfig poller_config(const api::Options& opts, std::vector<std::string> host_paths,
                                const api::cluster::Replica& replica) {
  api::PollerConfig pc;
  pc.owns = [&replica](int64_t id) { return replica.owns(id); };
  pc.interval = std::chrono::milliseconds(int64_t(opts.poll_interval_s * 1000));
  pc.workers = int(opts.poll_workers);
  pc.host_paths = std::move(host_paths);
  return pc;
}

// Builds the services, listens, and serves until SIGTERM or SIGINT; the
// exit code.
int serve(const api::Options& opts, api::store::Store& store, api::drivers::Driver& driver,
          const api::auth::ApiSecrets& secrets, api::tailscale::TailscaleContext* tailscale,
          api::cluster::Replica& replica) {
  Services services(opts, store, driver, secrets, replica);
  if (!create_first_admin(store, services.hasher, opts.data)) return 1;

  const net::CidrSet trusted_proxies =
      *net::CidrSet::parse(opts.trusted_proxies);  // checked by parse_options
  const http::ServerOptions hso = api_server_options(opts, services.registry, trusted_proxies);
  http::Server server(
      api::make_api_router(route_deps(opts, store, driver, secrets, services, tailscale, replica)),
      hso);
  if (auto r = server.listen(); !r) {
    log::error("api", "cannot listen", {{"error", r.error().message}, {"listen", opts.listen}});
    return 1;
  }
  SideServers side, containers;
  if (!listen_for_metrics(side, opts, services.registry, hso.server_header)) return 1;
  const api::IdeOrigin* ide_origin = services.ide_origin ? &*services.ide_origin : nullptr;
  if (!listen_for_ide(side, opts, ide_origin, services.ide, hso)) return 1;
  auto* lxc = dynamic_cast<api::drivers::LxcDriver*>(&driver);
  if (lxc && opts.artifacts_is_dir()) {
    if (!listen_for_containers(containers, opts, *lxc, hso.server_header)) return 1;
    containers.start();
  }
  if (lxc) resume_lxc(*lxc, opts);
  side.start();
  services.jobs.resume_all();
  api::Poller poller(
      store,
      api::agent_status_via(services.agents,
                            std::chrono::milliseconds(int64_t(opts.poll_timeout_s * 1000))),
      poller_config(opts, services.jobs_config.host_paths, replica), &services.registry);
  // A replica joined or left: the poller re-splits at once. The callback
  // ends with replica.stop() below, before the poller is destroyed.
  replica.on_membership_change([&poller] { poller.membership_changed(); });
  poller.start();
  if (opts.stats_interval_s > 0) {
    services.stats.start();
    services.replica_stats.start();
  } else
    log::info("api", "stats sampler off (--stats-interval 0)", {});
  services.scheduler.start();  // marks interrupted runs, catches up missed fires
  log::info("api", "api started",
            {{"version", kVersion},
             {"listen", opts.listen},
             {"port", server.port()},
             {"data", opts.data},
             {"driver", opts.driver},
             {"replica", replica.id()},
             {"public_url", opts.public_url}});
  server.run(2, true);
  services.scheduler.stop();  // interrupts offset waits; runs end recorded
  services.lane.stop();       // its calls answer through this server's Responders
  services.activity.stop();   // writes what the relays queued
  side.stop();
  containers.stop();
  poller.stop();
  services.stats.stop();
  services.replica_stats.stop();
  services.jobs.stop();
  replica.stop();  // deregisters: the other replicas take its servers over now
  log::info("api", "api stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  std::string self_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  auto loaded = load_options(argc, argv, self_dir);
  if (!loaded) return loaded.error();
  const api::Options opts = std::move(*loaded);
  // Nothing zlh-api writes is for other users of the host (its database,
  // keys and the lxc driver's records); modes that must be wider are set
  // explicitly.
  ::umask(077);
  set_up_log(opts);

  auto tailscale = open_tailscale(opts);
  if (!tailscale) return 1;
  auto secrets = open_secrets(opts);
  if (!secrets) return 1;
  auto store = open_store(opts);
  if (!store) return 1;
  auto replica = start_replica(opts, *store);
  if (!replica) return 1;
  StoreSlots slots(*store);
  auto driver = make_driver(opts, self_dir, slots);
  if (!driver) {
    log::error("api", "cannot start the driver",
               {{"driver", opts.driver}, {"error", driver.error().message}});
    return 1;
  }
  return serve(opts, *store, **driver, *secrets, tailscale->get(), *replica);
}
