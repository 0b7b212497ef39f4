// zlh-api command line and TOML configuration (docs/design.md §10.1).
//
// parse_options() reads flags, then the TOML file (--config, default
// <data>/api.toml; a missing default file is fine, a missing explicit one is
// an error); flag > file > default. Paths are made absolute against the
// current directory, so the API can later chdir or hand them to agents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.hpp"

namespace zlh::api {

struct Options {
  std::string listen = "127.0.0.1:8080";
  std::string data = "./var";  // SQLite db, keys, containers
  // Operator-provided key files (replicas share them); "" = <data>/keys/…
  std::string jwt_secret_file, api_key_file;
  // The store (docs/store-engines.md): sqlite:<path> or postgres://…;
  // default sqlite:<data>/zlh.db. A PostgreSQL password comes from
  // store_password_file or env ZLH_STORE_PASSWORD, never the URL.
  std::string store, store_password_file;
  std::string config;  // resolved TOML path
  // lxc | local | proxmox; empty on the command line = lxc as root, and a
  // refusal otherwise (resolve_driver).
  std::string driver;
  bool insecure_local_driver = false;  // allows --driver local as root
  std::string proxmox_config;  // proxmox driver: its TOML (default <config dir>/proxmox.toml)
  std::string artifacts;       // DIR (also served at /artifacts/) or URL
  std::string catalog_key;     // default <data>/keys/catalog.pub
  std::string agent_bin;       // default: zlh-agent beside zlh-api
  std::string portal;          // built portal served at /
  std::string public_url;      // origin for cookies, redirects, WS origin checks
  // The IDE origin (docs/ide.md): a second listener serving only
  // /dev/<vmid>/ide/ and /dev/<vmid>/port/<n>/, and its public origin,
  // "{vmid}" in the host giving each server its own. Both or neither.
  std::string ide_listen;
  // /metrics without auth on a listener of its own (Prometheus on a private
  // address); on --listen, /metrics needs an admin.
  std::string metrics_listen;
  // Open client connections per listener (L5): in all, and per peer address
  // (0: no cap). Beyond them a connection is closed at accept.
  int64_t max_connections = 15000, max_connections_per_address = 0;
  // CIDRs whose X-Forwarded-For counts for rate limits and logged addresses.
  std::string trusted_proxies;
  // Who may register (M2): open, invite (a code from an admin) or closed;
  // and registrations per peer address per hour (0: no limit).
  std::string registration = "open";
  int64_t registration_limit = 20;
  // Per-user quotas (M4; docs/security.md): the defaults, 0 = unlimited;
  // admins override them per user (PUT /api/admin/users/{id}/quotas).
  int64_t quota_servers = 0, quota_memory_mb = 0, quota_disk_gb = 0, quota_consoles = 0,
          quota_uploads = 0;
  // Backups (docs/backups-api.md): where archives live (default
  // <data>/backups), how many each server keeps, the per-user quota in bytes
  // (0: unlimited; admins override it per user), and whether a deleted
  // server's backups are kept.
  std::string backup_dir;
  int64_t backup_keep = 10;
  int64_t backup_quota = int64_t(20) << 30;
  bool keep_backups = false;
  std::string ide_origin;
  int64_t ide_ticket_ttl_s = 60;  // how long an IDE ticket may wait to be redeemed
  std::string log_format = "json";
  std::string log_level = "info";
  // vmid ranges and the port pool (docs/design.md §10.3: configurable).
  int64_t game_vmid_lo = 5000, game_vmid_hi = 5999;
  int64_t dev_vmid_lo = 6000, dev_vmid_hi = 6999;
  int64_t port_lo = 25565, port_hi = 26564;
  // Status poller (api/poller): seconds between cycle starts, concurrent
  // agent calls, and the timeout of one GET /status.
  double poll_interval_s = 5;
  int64_t poll_workers = 8;
  double poll_timeout_s = 2;
  // Live stats sampler (api/stats): seconds between its cycles; 0 = off
  // (no driver calls, empty stats, the stream sends only its empty ring).
  double stats_interval_s = 2;
  // Replicas (docs/operations.md "Replicas"): a replica's row expires this
  // long after its last heartbeat (beats every ttl/3); --adopt-host: an
  // lxc/local installation moved to this host.
  int64_t replica_ttl_ms = 15000;
  bool adopt_host = false;
  // Job leases (issue 25, docs/store-engines.md): how long a replica's claim
  // on a job lasts without renewal (renewed every third of it). A job of a
  // replica that died is taken over by another once this has passed.
  int64_t job_lease_ttl_ms = 30000;
  // Headscale (docs/design.md §10.6, docs/tailscale.md). Empty url: not configured.
  // The API key comes from the file or env ZLH_HEADSCALE_API_KEY, never a flag.
  std::string headscale_url;
  std::string headscale_login_url;  // what tailscale clients get; default headscale_url
  std::string headscale_api_key_file;
  std::string headscale_version;  // required with a url: 0.25 names users, 0.26+ numbers them
  std::string headscale_user_prefix = "zlh-u";
  std::string headscale_key_ttl = "1h";
  std::string headscale_acl_tags;  // "tag:a,tag:b", on the container's key

  // The lxc driver (docs/drivers.md): instance tag, bridges and subnets per
  // workload type, host id range, NAT, disk sizes, and the port of the
  // listener on the bridges' host addresses that serves /artifacts/ only.
  std::string lxc_tag = "zlh";
  std::string lxc_bridge_dev = "zlhdev0", lxc_subnet_dev = "10.77.0.0/16";
  std::string lxc_bridge_game = "zlhgame0", lxc_subnet_game = "10.78.0.0/16";
  int64_t lxc_id_base = 1000000, lxc_slots = 1000;
  bool lxc_nat = true;
  int64_t lxc_disk_gb_default = 8, lxc_disk_gb_max = 256, lxc_disk_gb_min_code_server = 4;
  int64_t lxc_pids_max = 4096;
  int64_t lxc_listener_port = 8089;
  double lxc_host_check_s = 60;  // how often bridges and the firewall table are re-checked

  bool artifacts_is_dir() const {
    return !artifacts.empty() && artifacts.find("://") == std::string::npos;
  }
};

// Env var with the store's PostgreSQL password when no file is given.
inline constexpr const char* kStorePasswordEnv = "ZLH_STORE_PASSWORD";

// The password for the store: the contents of o.store_password_file (one
// line; a trailing newline dropped), which must be a regular file with no
// permission bits for group or others, else the env var (then unset so
// children never see it), else none. E_INVALID naming the flag (bad mode,
// empty file), E_NOT_FOUND/E_IO reading it. Never in an error's text.
Result<std::optional<std::string>> load_store_password(const Options& o);

struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;  // --help / --version printed
};

// E_INVALID naming the flag for bad values.
Result<ParseOutcome> parse_options(int argc, const char* const* argv, const std::string& self_dir);

// The driver to run for `euid` (docs/design.md §10.1): an explicit --driver is
// kept; none is lxc as root. E_INVALID, saying why, for --driver local as
// root without --insecure-local-driver (the local driver runs every
// workload as zlh-api's own user: root) and for no --driver as another user
// (never a silent fall back to local).
Result<std::string> resolve_driver(const Options& o, unsigned euid);

}  // namespace zlh::api
