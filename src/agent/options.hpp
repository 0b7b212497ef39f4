// zlh-agent command line and TOML configuration (docs/design.md §3.1).
//
// parse_options() reads flags, then the TOML file (--config, default
// <root>/etc/zlh/agent.toml; a missing default file is fine, a missing
// explicit one is an error), flag > file > default. Flags for parts that come
// later (artifacts, catalog key, dev user) are parsed and stored now.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.hpp"

namespace zlh::agent {

struct Options {
  std::string root = "/";
  std::string listen = "0.0.0.0:18888";
  // A listening socket inherited from the parent (the lxc driver's zlh-init
  // opens :18888 once, so the dev user cannot squat the port while the agent
  // restarts). -1: bind --listen. With a fd, --listen only names the address.
  int listen_fd = -1;
  std::string config;            // resolved path of the TOML file
  std::optional<int64_t> vmid;   // nullopt when neither given nor derivable
  std::string artifacts;         // http://, https://, file:// base URL
  std::string catalog_key;       // Ed25519 public key file that signs catalog.json
  std::string api_key;           // Ed25519 public key file of zlh-api
  std::string dev_user = "dev";  // "-" = current user, no accounts created
  std::string log_format = "json";
  std::string log_level = "info";
  uint64_t max_upload_bytes =
      uint64_t(1) << 30;  // per file, /files/upload and /files/write (docs/design.md §8)
};

// Result of parsing: options, or a request to exit (help/version printed) with a code.
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
};

// argv parsing plus TOML. Errors: E_INVALID naming the flag or key.
Result<ParseOutcome> parse_options(int argc, const char* const* argv, const std::string& hostname);

// Trailing decimal digits of a hostname ("dev-6001" → 6001), nullopt if none.
std::optional<int64_t> vmid_from_hostname(std::string_view hostname);

}  // namespace zlh::agent
