#include "api/options.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "api/ide/ide_origin.hpp"
#include "api/store/store.hpp"
#include "api/tailscale/headscale_config.hpp"
#include "base/cidr.hpp"
#include "base/config.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "http/server.hpp"
#include "version.hpp"

namespace zlh::api {

namespace {
// The --headscale-* flags (parsers in api/tailscale/headscale_config.hpp);
// normalizes the URLs in place.
Result<void> check_headscale(Options& o) {
  using namespace tailscale;
  if (o.headscale_url.empty()) {
    if (!o.headscale_api_key_file.empty() || !o.headscale_login_url.empty() ||
        !o.headscale_version.empty())
      return std::unexpected(
          Error::invalid("headscale-url", "--headscale-* flags need --headscale-url"));
    return {};
  }
  auto url = normalize_base_url(o.headscale_url, "headscale-url");
  if (!url) return std::unexpected(url.error());
  o.headscale_url = *url;
  if (!o.headscale_login_url.empty()) {
    auto login = normalize_base_url(o.headscale_login_url, "headscale-login-url");
    if (!login) return std::unexpected(login.error());
    o.headscale_login_url = *login;
  }
  if (o.headscale_version.empty())
    return std::unexpected(
        Error::invalid("headscale-version",
                       "--headscale-url needs --headscale-version (e.g. 0.25 or 0.26: the user "
                       "field is a name up to 0.25 and a numeric id from 0.26)"));
  if (auto v = HeadscaleVersion::parse(o.headscale_version); !v) return std::unexpected(v.error());
  if (auto p = check_user_prefix(o.headscale_user_prefix); !p) return std::unexpected(p.error());
  if (auto t = parse_key_ttl(o.headscale_key_ttl); !t) return std::unexpected(t.error());
  if (auto t = parse_acl_tags(o.headscale_acl_tags); !t) return std::unexpected(t.error());
  const char* env = std::getenv(kApiKeyEnv);
  if (o.headscale_api_key_file.empty() && (!env || !*env))
    return std::unexpected(Error::invalid(
        "headscale-api-key-file",
        "--headscale-url needs --headscale-api-key-file or " + std::string(kApiKeyEnv)));
  return {};
}

std::string absolute(const std::string& p) {
  if (p.empty() || p.front() == '/') return p;
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}
Result<void> bad(const char* field, const std::string& msg) {
  return std::unexpected(Error::invalid(field, msg));
}

// The listener, the data, the config file and the driver.
void add_general_flags(CLI::App& app, Options& o) {
  app.add_option("--listen", o.listen, "HOST:PORT to listen on")->capture_default_str();
  app.add_option("--data", o.data, "data directory (SQLite db, keys, containers)")
      ->capture_default_str();
  app.add_option("--config", o.config, "TOML config file (default <data>/api.toml)");
  app.add_option("--jwt-secret-file", o.jwt_secret_file,
                 "the session signing secret (base64), shared by replicas; must exist "
                 "(default <data>/keys/jwt.secret, made on first start)");
  app.add_option("--api-key-file", o.api_key_file,
                 "the agent-token signing key (its public half: the name with .key replaced "
                 "by .pub), shared by replicas; must exist (default <data>/keys/api.key)");
  app.add_option("--store", o.store,
                 "the store: sqlite:<path> (default sqlite:<data>/zlh.db) or "
                 "postgresql://[user@]host[:port]/db[?host=/socket/dir&pool=N] (pool: connections, "
                 "default 4); no password in it");
  app.add_option("--store-password-file", o.store_password_file,
                 "the PostgreSQL store's password, one line, mode 0600 (or env " +
                     std::string(kStorePasswordEnv) + ")");
  app.add_option("--driver", o.driver, "lxc, local or proxmox (default: lxc as root)");
  app.add_flag("--insecure-local-driver", o.insecure_local_driver,
               "allow --driver local as root (it runs workloads as zlh-api's own user)");
}

// The lxc driver's flags, and the proxmox driver's file.
void add_driver_flags(CLI::App& app, Options& o) {
  app.add_option("--lxc-tag", o.lxc_tag,
                 "lxc: instance tag (container names, veths, nftables table)")
      ->capture_default_str();
  app.add_option("--lxc-bridge-dev", o.lxc_bridge_dev, "lxc: bridge of dev containers")
      ->capture_default_str();
  app.add_option("--lxc-subnet-dev", o.lxc_subnet_dev, "lxc: IPv4 subnet of dev containers")
      ->capture_default_str();
  app.add_option("--lxc-bridge-game", o.lxc_bridge_game, "lxc: bridge of game servers")
      ->capture_default_str();
  app.add_option("--lxc-subnet-game", o.lxc_subnet_game, "lxc: IPv4 subnet of game servers")
      ->capture_default_str();
  app.add_option("--lxc-id-base", o.lxc_id_base, "lxc: first host id of the containers' id ranges")
      ->capture_default_str();
  app.add_option("--lxc-slots", o.lxc_slots, "lxc: most containers (65536 host ids each)")
      ->capture_default_str();
  app.add_option("--lxc-nat", o.lxc_nat, "lxc: outbound NAT for containers (true/false)")
      ->capture_default_str();
  app.add_option("--lxc-disk-gb-default", o.lxc_disk_gb_default,
                 "lxc: disk_gb when a create gives none")
      ->capture_default_str();
  app.add_option("--lxc-disk-gb-max", o.lxc_disk_gb_max, "lxc: largest disk_gb")
      ->capture_default_str();
  app.add_option("--lxc-disk-gb-min-code-server", o.lxc_disk_gb_min_code_server,
                 "lxc: smallest disk_gb of a dev server with code-server")
      ->capture_default_str();
  app.add_option("--lxc-pids-max", o.lxc_pids_max, "lxc: tasks per container")
      ->capture_default_str();
  app.add_option("--lxc-host-check", o.lxc_host_check_s,
                 "lxc: seconds between checks that restore missing bridges and firewall rules")
      ->capture_default_str();
  app.add_option("--lxc-listener-port", o.lxc_listener_port,
                 "lxc: port of the listener on the bridges' addresses (/artifacts/ only)")
      ->capture_default_str();
  app.add_option("--proxmox-config", o.proxmox_config,
                 "proxmox driver: its TOML file (default proxmox.toml beside the --config file)");
}

// What zlh-api serves and where: artifacts, portal, public URL, IDE, metrics.
void add_serving_flags(CLI::App& app, Options& o) {
  app.add_option("--artifacts", o.artifacts,
                 "artifact store: a directory (served at /artifacts/) or a URL");
  app.add_option("--catalog-key", o.catalog_key,
                 "public key that signs the catalog (default <data>/keys/catalog.pub)");
  app.add_option("--agent-bin", o.agent_bin,
                 "local driver: the zlh-agent to run (default: beside zlh-api)");
  app.add_option("--portal", o.portal, "built portal directory served at /");
  app.add_option("--public-url", o.public_url, "public origin, e.g. https://zlh.example.com");
  app.add_option(
      "--ide-listen", o.ide_listen,
      "HOST:PORT of the IDE origin's listener (the browser IDE and port preview; docs/ide.md)");
  app.add_option("--ide-origin", o.ide_origin,
                 "public origin of the IDE listener, {vmid} in the host for one origin per server, "
                 "e.g. https://{vmid}.ide.example.com");
  app.add_option(
      "--metrics-listen", o.metrics_listen,
      "HOST:PORT serving /metrics without auth (else /metrics on --listen needs an admin)");
}

// Quotas, connection caps, proxies, registration and IDE tickets.
void add_limit_flags(CLI::App& app, Options& o) {
  app.add_option("--quota-servers", o.quota_servers, "servers per user (0: unlimited)")
      ->capture_default_str();
  app.add_option("--quota-memory-mb", o.quota_memory_mb,
                 "total memory_mb of a user's servers (0: unlimited)")
      ->capture_default_str();
  app.add_option("--quota-disk-gb", o.quota_disk_gb,
                 "total disk_gb of a user's servers (0: unlimited)")
      ->capture_default_str();
  app.add_option("--quota-consoles", o.quota_consoles,
                 "concurrent console sessions per user (0: unlimited)")
      ->capture_default_str();
  app.add_option("--quota-uploads", o.quota_uploads, "concurrent uploads per user (0: unlimited)")
      ->capture_default_str();
  app.add_option("--max-connections", o.max_connections,
                 "open connections per listener (0: no cap)")
      ->capture_default_str();
  app.add_option("--max-connections-per-address", o.max_connections_per_address,
                 "open connections per peer address and listener (0: no cap)")
      ->capture_default_str();
  app.add_option("--trusted-proxies", o.trusted_proxies,
                 "CIDR[,CIDR...] of reverse proxies whose X-Forwarded-For names the client");
  app.add_option("--registration", o.registration, "who may register: open, invite or closed")
      ->capture_default_str();
  app.add_option("--registration-limit", o.registration_limit,
                 "registrations per peer address per hour (0: no limit)")
      ->capture_default_str();
  app.add_option("--ide-ticket-ttl", o.ide_ticket_ttl_s,
                 "seconds an IDE ticket stays valid (5..300)")
      ->capture_default_str();
}

// Backups: the store's directory, retention, the quota, deletion.
void add_backup_flags(CLI::App& app, Options& o) {
  app.add_option("--backup-dir", o.backup_dir,
                 "where backup archives live (default <data>/backups)");
  app.add_option("--backup-keep", o.backup_keep, "backups kept per server, oldest deleted first")
      ->capture_default_str();
  app.add_option("--backup-quota", o.backup_quota,
                 "bytes of backups per user (0: unlimited; admins override per user)")
      ->capture_default_str();
  app.add_flag("--keep-backups", o.keep_backups, "keep a deleted server's backups");
}

// The log, the vmid and port pools and the status poller.
void add_log_and_pool_flags(CLI::App& app, Options& o) {
  app.add_option("--log-format", o.log_format, "json or text")->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--game-vmid-lo", o.game_vmid_lo)->capture_default_str();
  app.add_option("--game-vmid-hi", o.game_vmid_hi)->capture_default_str();
  app.add_option("--dev-vmid-lo", o.dev_vmid_lo)->capture_default_str();
  app.add_option("--dev-vmid-hi", o.dev_vmid_hi)->capture_default_str();
  app.add_option("--port-lo", o.port_lo, "first port of the game port pool")->capture_default_str();
  app.add_option("--port-hi", o.port_hi, "last port of the game port pool")->capture_default_str();
  app.add_option("--poll-interval", o.poll_interval_s, "seconds between status poller cycles")
      ->capture_default_str();
  app.add_option("--poll-workers", o.poll_workers, "concurrent agent status calls of the poller")
      ->capture_default_str();
  app.add_option("--poll-timeout", o.poll_timeout_s, "seconds one agent status call may take")
      ->capture_default_str();
  app.add_option("--stats-interval", o.stats_interval_s,
                 "seconds between live stats samples of all servers; 0 = sampler off")
      ->capture_default_str();
  app.add_option("--job-lease-ttl", o.job_lease_ttl_ms,
                 "ms a replica's claim on a job lasts unrenewed (renewed every third); a dead "
                 "replica's jobs are taken over after it")
      ->capture_default_str();
}

// Replicas on one store (docs/operations.md "Replicas").
void add_cluster_flags(CLI::App& app, Options& o) {
  app.add_option("--replica-ttl", o.replica_ttl_ms,
                 "milliseconds a replica stays live after its last heartbeat (beats every ttl/3); "
                 "its servers move to the other replicas within about this long after it dies")
      ->capture_default_str();
  app.add_flag("--adopt-host", o.adopt_host,
               "lxc/local: this installation (its data directory) moved to this host; record "
               "the host instead of refusing to start");
}

Result<void> check_cluster(const Options& o) {
  if (o.replica_ttl_ms < 300 || o.replica_ttl_ms > 600000)
    return bad("replica-ttl", "--replica-ttl must be 300..600000 milliseconds");
  return {};
}

// The --headscale-* flags (checked by check_headscale).
void add_headscale_flags(CLI::App& app, Options& o) {
  app.add_option("--headscale-url", o.headscale_url,
                 "Headscale base URL for its REST API (empty: no tailscale access)");
  app.add_option("--headscale-login-url", o.headscale_login_url,
                 "URL tailscale clients use as --login-server (default: --headscale-url)");
  app.add_option("--headscale-api-key-file", o.headscale_api_key_file,
                 "file holding the Headscale API key (else env ZLH_HEADSCALE_API_KEY)");
  app.add_option("--headscale-version", o.headscale_version,
                 "Headscale release, e.g. 0.25 or 0.26 (decides the API's user and key forms)");
  app.add_option("--headscale-user-prefix", o.headscale_user_prefix,
                 "Headscale user per zlh user: PREFIX<user id>")
      ->capture_default_str();
  app.add_option("--headscale-key-ttl", o.headscale_key_ttl,
                 "pre-auth key lifetime: seconds or 30m, 1h, 7d")
      ->capture_default_str();
  app.add_option("--headscale-acl-tags", o.headscale_acl_tags,
                 "ACL tags for the container's key: tag:a,tag:b");
}

// --listen, --driver and the lxc and proxmox drivers' flags.
Result<void> check_driver_flags(const Options& o) {
  if (auto hp = http::split_host_port(o.listen); !hp)
    return bad("listen", "--listen: " + hp.error().message);
  if (!o.driver.empty() && o.driver != "lxc" && o.driver != "local" && o.driver != "proxmox")
    return bad("driver", "--driver must be lxc, local or proxmox");
  if (o.lxc_listener_port < 1 || o.lxc_listener_port > 65535)
    return bad("lxc-listener-port", "--lxc-listener-port must be 1..65535");
  if (o.lxc_disk_gb_default < 1 || o.lxc_disk_gb_max < o.lxc_disk_gb_default ||
      o.lxc_disk_gb_max > 16384)
    return bad("lxc-disk-gb-max",
               "--lxc-disk-gb-default must be at least 1 and at most --lxc-disk-gb-max");
  if (o.lxc_disk_gb_min_code_server < 0 || o.lxc_disk_gb_min_code_server > o.lxc_disk_gb_max)
    return bad("lxc-disk-gb-min-code-server",
               "--lxc-disk-gb-min-code-server must be 0..--lxc-disk-gb-max");
  if (o.lxc_pids_max < 64 || o.lxc_pids_max > 1000000)
    return bad("lxc-pids-max", "--lxc-pids-max must be 64..1000000");
  if (o.lxc_id_base < 65536 || o.lxc_id_base > 4000000000LL)
    return bad("lxc-id-base", "bad --lxc-id-base");
  if (o.lxc_slots < 1 || o.lxc_slots > 60000)
    return bad("lxc-slots", "--lxc-slots must be 1..60000");
  if (!(o.lxc_host_check_s >= 0.5 && o.lxc_host_check_s <= 3600))
    return bad("lxc-host-check", "--lxc-host-check must be 0.5..3600 seconds");
  if (o.driver != "proxmox" && !o.proxmox_config.empty())
    return bad("proxmox-config", "--proxmox-config needs --driver proxmox");
  return {};
}

// The log, the vmid and port pools and the poller.
Result<void> check_log_and_pools(const Options& o) {
  log::Format f;
  if (!log::parse_format(o.log_format, &f))
    return bad("log-format", "--log-format must be json or text");
  if (log::Level l; !log::parse_level(o.log_level, &l))
    return bad("log-level", "--log-level must be debug, info, warn or error");
  if (o.game_vmid_lo < 1 || o.game_vmid_hi < o.game_vmid_lo || o.dev_vmid_lo < 1 ||
      o.dev_vmid_hi < o.dev_vmid_lo || o.game_vmid_hi > 65535 || o.dev_vmid_hi > 65535)
    return bad("vmid", "vmid ranges must be non-empty and within 1..65535");
  if (!(o.game_vmid_hi < o.dev_vmid_lo || o.dev_vmid_hi < o.game_vmid_lo))
    return bad("vmid", "the game and dev vmid ranges overlap");
  if (o.port_lo < 1 || o.port_hi > 65535 || o.port_hi < o.port_lo)
    return bad("port", "bad port pool");
  if (!(o.poll_interval_s >= 0.05 && o.poll_interval_s <= 3600))
    return bad("poll-interval", "--poll-interval must be 0.05..3600 seconds");
  if (o.poll_workers < 1 || o.poll_workers > 256)
    return bad("poll-workers", "--poll-workers must be 1..256");
  if (!(o.poll_timeout_s >= 0.05 && o.poll_timeout_s <= 60))
    return bad("poll-timeout", "--poll-timeout must be 0.05..60 seconds");
  if (!(o.stats_interval_s == 0 || (o.stats_interval_s >= 0.05 && o.stats_interval_s <= 3600)))
    return bad("stats-interval", "--stats-interval must be 0 (off) or 0.05..3600 seconds");
  if (o.job_lease_ttl_ms < 300 || o.job_lease_ttl_ms > 3'600'000)
    return bad("job-lease-ttl", "--job-lease-ttl must be 300..3600000 ms");
  return {};
}

// --public-url (its trailing slashes dropped), Headscale, and which
// listeners go together.
Result<void> check_urls_and_listeners(Options& o) {
  if (!o.public_url.empty() && !o.public_url.starts_with("http://") &&
      !o.public_url.starts_with("https://"))
    return bad("public-url", "--public-url must start with http:// or https://");
  while (!o.public_url.empty() && o.public_url.back() == '/') o.public_url.pop_back();
  if (auto r = check_headscale(o); !r) return r;
  if (o.ide_listen.empty() != o.ide_origin.empty())
    return bad(o.ide_listen.empty() ? "ide-listen" : "ide-origin",
               "--ide-listen and --ide-origin go together");
  if (!o.metrics_listen.empty()) {
    if (auto hp = http::split_host_port(o.metrics_listen); !hp)
      return bad("metrics-listen", "--metrics-listen: " + hp.error().message);
    if (o.metrics_listen == o.listen || o.metrics_listen == o.ide_listen)
      return bad("metrics-listen", "--metrics-listen must be a listener of its own");
  }
  return {};
}

// Quotas, connection caps, trusted proxies, registration, IDE tickets.
Result<void> check_limits(const Options& o) {
  for (auto [v, name] : {std::pair{o.quota_servers, "quota-servers"},
                         {o.quota_memory_mb, "quota-memory-mb"},
                         {o.quota_disk_gb, "quota-disk-gb"},
                         {o.quota_consoles, "quota-consoles"},
                         {o.quota_uploads, "quota-uploads"}})
    if (v < 0) return bad(name, std::string("--") + name + " must be 0 (unlimited) or more");
  if (o.backup_quota < 0)
    return bad("backup-quota", "--backup-quota must be 0 (unlimited) or more");
  if (o.backup_keep < 1 || o.backup_keep > 1000)
    return bad("backup-keep", "--backup-keep must be 1..1000");
  if (o.max_connections < 0 || o.max_connections_per_address < 0)
    return bad("max-connections",
               "--max-connections and --max-connections-per-address must be 0 (no cap) or more");
  if (auto t = net::CidrSet::parse(o.trusted_proxies); !t) return std::unexpected(t.error());
  if (o.registration != "open" && o.registration != "invite" && o.registration != "closed")
    return bad("registration", "--registration must be open, invite or closed");
  if (o.registration_limit < 0)
    return bad("registration-limit", "--registration-limit must be 0 (no limit) or more");
  if (o.ide_ticket_ttl_s < 5 || o.ide_ticket_ttl_s > 300)
    return bad("ide-ticket-ttl", "--ide-ticket-ttl must be 5..300 seconds");
  return {};
}

// The IDE origin's listener and origin (trailing slashes dropped).
Result<void> check_ide(Options& o) {
  if (!o.ide_listen.empty()) {
    if (auto hp = http::split_host_port(o.ide_listen); !hp)
      return bad("ide-listen", "--ide-listen: " + hp.error().message);
    if (o.ide_listen == o.listen)
      return bad("ide-listen", "--ide-listen must differ from --listen");
    const std::string pub = o.public_url.empty() ? "http://" + o.listen : o.public_url;
    if (auto io = IdeOrigin::parse(o.ide_origin, pub); !io) return std::unexpected(io.error());
    while (o.ide_origin.back() == '/') o.ide_origin.pop_back();
  }

  return {};
}

// Relative paths made absolute, and the defaults that derive from others.
void resolve_paths(Options& o, const std::string& self_dir) {
  o.data = absolute(o.data);
  if (o.artifacts_is_dir()) o.artifacts = absolute(o.artifacts);
  o.catalog_key =
      o.catalog_key.empty() ? fs::join(o.data, "keys/catalog.pub") : absolute(o.catalog_key);
  o.agent_bin = o.agent_bin.empty() ? fs::join(self_dir, "zlh-agent") : absolute(o.agent_bin);
  o.portal = absolute(o.portal);
  o.backup_dir = o.backup_dir.empty() ? fs::join(o.data, "backups") : absolute(o.backup_dir);
  if (o.public_url.empty()) o.public_url = "http://" + o.listen;
  o.headscale_api_key_file = absolute(o.headscale_api_key_file);
  o.store_password_file = absolute(o.store_password_file);
  if (o.store.empty())
    o.store = "sqlite:" + fs::join(o.data, "zlh.db");
  else if (o.store.starts_with("sqlite:"))
    o.store = "sqlite:" + absolute(o.store.substr(7));
  if (o.driver == "proxmox")
    o.proxmox_config =
        o.proxmox_config.empty()
            ? (std::filesystem::path(o.config).parent_path() / "proxmox.toml").string()
            : absolute(o.proxmox_config);
}

// The flags, in the order --help lists them.
void add_flags(CLI::App& app, Options& o) {
  add_general_flags(app, o);
  add_driver_flags(app, o);
  add_serving_flags(app, o);
  add_limit_flags(app, o);
  add_backup_flags(app, o);
  add_log_and_pool_flags(app, o);
  add_headscale_flags(app, o);
  add_cluster_flags(app, o);
}

// --store: a scheme we know, no password inside.
Result<void> check_store(const Options& o) {
  const std::string& u = o.store;
  const bool pg = u.starts_with("postgres://") || u.starts_with("postgresql://");
  if (!u.empty() && !pg && !(u.starts_with("sqlite:") && u.size() > 7))
    return bad("store", "--store must be sqlite:<path> or postgres://…");
  if (pg && store::redact_store_url(u) != u)
    return bad("store", "--store must not hold a password (" + store::redact_store_url(u) +
                            "): use --store-password-file or " + kStorePasswordEnv);
  if (!pg && !o.store_password_file.empty())
    return bad("store-password-file", "--store-password-file is for a postgres:// --store");
  return {};
}

// The checks, in the order they report.
Result<void> check_options(Options& o) {
  if (auto r = check_store(o); !r) return r;
  if (auto r = check_driver_flags(o); !r) return r;
  if (auto r = check_log_and_pools(o); !r) return r;
  if (auto r = check_urls_and_listeners(o); !r) return r;
  if (auto r = check_limits(o); !r) return r;
  if (auto r = check_cluster(o); !r) return r;
  return check_ide(o);
}
}  // namespace

Result<ParseOutcome> parse_options(int argc, const char* const* argv, const std::string& self_dir) {
  Options o;
  CLI::App app{"zlh-api: the zlh control plane", "zlh-api"};
  app.set_version_flag("--version", std::string(kVersion));
  add_flags(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code != 0) return fail(codes::kInvalid, e.what());
    return ParseOutcome{std::nullopt, 0};
  }
  bool explicit_config = !o.config.empty();
  std::string cfg = explicit_config ? o.config : fs::join(absolute(o.data), "api.toml");
  if (auto r = config::apply_toml(app, cfg, explicit_config); !r) return fail(r.error());
  o.config = cfg;

  if (auto r = check_options(o); !r) return std::unexpected(r.error());
  resolve_paths(o, self_dir);
  return ParseOutcome{o, 0};
}

Result<std::optional<std::string>> load_store_password(const Options& o) {
  if (o.store_password_file.empty()) {
    const char* env = std::getenv(kStorePasswordEnv);
    std::optional<std::string> pw;
    if (env && *env) pw = env;
    ::unsetenv(kStorePasswordEnv);
    return pw;
  }
  const std::string& path = o.store_password_file;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return fail(codes::kNotFound, "--store-password-file " + path + ": missing");
    return fail(Error::from_errno("--store-password-file " + path, err));
  }
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0)
    why = "cannot stat it";
  else if (!S_ISREG(st.st_mode))
    why = "not a regular file";
  else if ((st.st_mode & 077) != 0)
    why = "readable by group or others (mode " + fs::octal_mode(st.st_mode) + "); chmod 600 it";
  if (!why.empty()) {
    ::close(fd);
    return std::unexpected(
        Error::invalid("store-password-file", "--store-password-file " + path + ": " + why));
  }
  auto text = fs::read_fd(fd, 4096, path);
  ::close(fd);
  if (!text) return fail(text.error().wrap("--store-password-file"));
  std::string pw = std::move(*text);
  if (pw.ends_with('\n')) pw.pop_back();
  if (pw.ends_with('\r')) pw.pop_back();
  if (pw.empty() || pw.find('\n') != std::string::npos)
    return std::unexpected(Error::invalid(
        "store-password-file", "--store-password-file " + path + ": not one non-empty line"));
  return std::optional<std::string>(std::move(pw));
}

Result<std::string> resolve_driver(const Options& o, unsigned euid) {
  if (o.driver.empty()) {
    if (euid == 0) return std::string("lxc");
    return std::unexpected(Error::invalid(
        "driver",
        "no --driver given and not running as root: the embedded default (lxc) needs root; "
        "give --driver local for development (no isolation) or --driver proxmox"));
  }
  if (o.driver == "local" && euid == 0 && !o.insecure_local_driver)
    return std::unexpected(Error::invalid(
        "driver",
        "--driver local runs every workload as zlh-api's own user, here root: any tenant would "
        "be root on this host; use --driver lxc, or add --insecure-local-driver for development"));
  return o.driver;
}

}  // namespace zlh::api
