// zlh-api command line and TOML configuration (DESIGN.md §10.1).
//
// parse_options() reads flags, then the TOML file (--config, default
// <data>/api.toml; a missing default file is fine, a missing explicit one is
// an error); flag > file > default. Paths are made absolute against the
// current directory, so the API can later chdir or hand them to agents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace zlh::api {

struct Options {
  std::string listen = "127.0.0.1:8080";
  std::string data = "./var";        // SQLite db, keys, containers
  std::string config;                // resolved TOML path
  std::string driver = "local";      // local | proxmox
  std::string proxmox_config;        // proxmox driver: its TOML (default <config dir>/proxmox.toml)
  std::string artifacts;             // DIR (also served at /artifacts/) or URL
  std::string catalog_key;           // default <data>/keys/catalog.pub
  std::string agent_bin;             // default: zlh-agent beside zlh-api
  std::string portal;                // built portal served at /
  std::string public_url;            // origin for cookies, redirects, WS origin checks
  std::string log_format = "json";
  std::string log_level = "info";
  // vmid ranges and the port pool (DESIGN §10.3: configurable).
  int64_t game_vmid_lo = 5000, game_vmid_hi = 5999;
  int64_t dev_vmid_lo = 6000, dev_vmid_hi = 6999;
  int64_t port_lo = 25565, port_hi = 26564;
  // Status poller (api/poller): seconds between cycle starts, concurrent
  // agent calls, and the timeout of one GET /status.
  double poll_interval_s = 5;
  int64_t poll_workers = 8;
  double poll_timeout_s = 2;
  // Headscale (DESIGN §10.6, docs/tailscale.md). Empty url: not configured.
  // The API key comes from the file or env ZLH_HEADSCALE_API_KEY, never a flag.
  std::string headscale_url;
  std::string headscale_login_url;  // what tailscale clients get; default headscale_url
  std::string headscale_api_key_file;
  std::string headscale_version;  // required with a url: 0.25 names users, 0.26+ numbers them
  std::string headscale_user_prefix = "zlh-u";
  std::string headscale_key_ttl = "1h";
  std::string headscale_acl_tags;  // "tag:a,tag:b", on the container's key

  bool artifacts_is_dir() const { return !artifacts.empty() && artifacts.find("://") == std::string::npos; }
};

struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;  // --help / --version printed
};

// E_INVALID naming the flag for bad values.
Result<ParseOutcome> parse_options(int argc, const char* const* argv, const std::string& self_dir);

}  // namespace zlh::api
