// The Proxmox VE REST client of the proxmox driver (docs/design.md §10.5):
// blocking HTTPS calls through libcurl to <url>/api2/json with
// `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`, form-encoded
// parameters, and the `{"data": …}` envelope unwrapped.
//
// TLS: verified against the system CAs (or ca_file) with the host name
// checked; or, with a pinned fingerprint, the server certificate's SHA-256
// must match it (the chain and name are then not checked: the pin is the
// trust, as Proxmox's own tools do). A failed check ends the handshake
// before any request — the token is never sent to an unverified peer.
//
// Errors (Error::code):
//   E_UPSTREAM     no answer (connect, TLS, read) or an HTTP error; the
//                  message carries Proxmox's text (reason phrase, "message"
//                  or "errors"), never a header.
//   E_UNAVAILABLE  the node cannot be reached through the cluster (HTTP 595/596).
//   E_TIMEOUT      the call's deadline passed.
// is_lock_error() tells the retryable "can't lock file" / "CT is locked"
// answers apart; is_missing() the "does not exist" ones.
//
// Thread-safety: calls may run from any number of threads at once.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/drivers/proxmox/proxmox_config.hpp"
#include "base/error.hpp"

namespace zlh::api::drivers {

using PveParams = std::vector<std::pair<std::string, std::string>>;

bool is_lock_error(std::string_view message);
bool is_missing(std::string_view message);

class ProxmoxClient {
 public:
  explicit ProxmoxClient(const ProxmoxConfig& cfg);

  // METHOD <url>/api2/json<path> with `params` (query for GET/DELETE, form
  // body for POST/PUT); the "data" member of the answer.
  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const PveParams& params = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // Polls /nodes/{node}/tasks/{upid}/status until the task stopped; ok when
  // its exitstatus is "OK" (or "WARNINGS: n"), else E_UPSTREAM with the exit
  // status text; E_TIMEOUT after `timeout`.
  Result<void> wait_task(const std::string& node, const std::string& upid,
                         std::chrono::milliseconds timeout) const;

  // Runs `f` until it succeeds or fails with something other than a lock
  // error, at most cfg.lock_retries times, waiting lock_backoff × 2^n
  // (≤ 10 s) with ±50 % jitter between tries. `what` names it in the log.
  Result<nlohmann::json> retry_locked(const std::string& what,
                                      const std::function<Result<nlohmann::json>()>& f) const;

  static std::string encode(std::string_view s);  // percent-encoding of one component

 private:
  const ProxmoxConfig& cfg_;
};

}  // namespace zlh::api::drivers
