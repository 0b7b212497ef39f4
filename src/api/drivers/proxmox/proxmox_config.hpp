// Configuration of the Proxmox VE driver (docs/proxmox.md): a TOML file
// (`--proxmox-config`, packaging/proxmox.toml.example) and the API token.
//
//   url = "https://pve1.example.com:8006"   the API; /api2/json is added
//   token_file = "/etc/zlh/proxmox.token"   USER@REALM!TOKENID=SECRET; else env ZLH_PROXMOX_TOKEN
//   tls_verify = true                       system CAs (or ca_file)
//   ca_file = ""                            PEM bundle (the cluster's pve-root-ca.pem)
//   fingerprint = ""                        pin: SHA-256 of the certificate, "AB:CD:…"
//   nodes = []                              nodes zlh may use; empty = every online node
//   storage = "local-lvm"                   target storage of full clones ("" = the template's)
//   pool = ""                               resource pool of new CTs ("" = none)
//   clones_per_node = 2                     concurrent clones per node
//   task_timeout_s = 600                    longest a task may run
//   lock_retries = 8                        tries of a call that meets a CT lock
//   lock_backoff_ms = 500                   first wait before a retry (doubles, with jitter, ≤ 10
//   s) poll_ms = 500                           task status poll interval (the first polls are
//   quicker) [templates]  "*" = 9000, pve2 = 9001    template vmid per node ("*": any other node)
//   [bridges]    dev = "vmbr1", game = "vmbr2"
//   [limits]     cores_default, cores_max, memory_mb_default, memory_mb_max
//
// Unknown keys and wrong types are errors naming the key. The token never
// appears in an error or a log line; only its id (USER@REALM!TOKENID) may.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/drivers/driver.hpp"
#include "base/error.hpp"

namespace zlh::api::drivers {

inline constexpr const char* kProxmoxTokenEnv = "ZLH_PROXMOX_TOKEN";

struct ProxmoxConfig {
  std::string url;       // https://host:8006, no trailing slash
  std::string token;     // USER@REALM!TOKENID=SECRET (secret: never log)
  std::string token_id;  // USER@REALM!TOKENID (may be logged)
  bool tls_verify = true;
  std::string ca_file;
  std::optional<std::array<uint8_t, 32>> fingerprint;  // pinned certificate SHA-256
  std::vector<std::string> nodes;
  std::string storage;
  std::string pool;
  int clones_per_node = 2;
  std::chrono::milliseconds task_timeout{600000};
  int lock_retries = 8;
  std::chrono::milliseconds lock_backoff{500};
  std::chrono::milliseconds poll{500};
  std::map<std::string, int> templates;        // node → template vmid; "*" for the rest
  std::map<std::string, std::string> bridges;  // "dev"/"game" → bridge
  Limits limits{2, 8, 2048, 16384};

  // The template on `node`, or nothing when neither it nor "*" is configured.
  std::optional<int> template_for(const std::string& node) const;
};

// "USER@REALM!TOKENID=SECRET" → ok; E_INVALID (field "token", no secret in
// the message) otherwise.
Result<void> check_token(const std::string& token);
// "AB:CD:…" (32 bytes; colons optional, any case, an optional "sha256 "
// prefix) → the bytes. E_INVALID (field "fingerprint").
Result<std::array<uint8_t, 32>> parse_fingerprint(const std::string& text);

// Reads the TOML file and the token (token_file, else env ZLH_PROXMOX_TOKEN).
// E_NOT_FOUND (no file), E_INVALID naming the key.
Result<ProxmoxConfig> load_proxmox_config(const std::string& path);

}  // namespace zlh::api::drivers
