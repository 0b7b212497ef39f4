// The rules of private network access to a dev container (docs/design.md §10.6),
// as pure functions: which server may get it, which Headscale user a zlh
// user's devices and containers live under, and what the user is told once
// the keys exist. The routes (tailscale_routes.hpp) only call these.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/store/types.hpp"
#include "base/error.hpp"

namespace zlh::api::tailscale {

// "<prefix><user id>", e.g. "zlh-u42": one Headscale user per zlh user, so
// one customer's nodes never share a namespace with another's.
std::string headscale_user_name(std::string_view prefix, int64_t user_id);

// The tailscale hostname the agent gives the container: "dev-<vmid>".
std::string container_hostname(int vmid);

// E_CONFLICT unless `s` is a dev server that is ready and has a container
// (vmid and address). Game servers are refused: they are reached on their
// public port, and the SSH / VS Code flow this offers needs the dev
// environment.
Result<void> check_server(const store::Server& s);

struct DeviceAccess {
  int64_t server_id = 0;
  int vmid = 0;
  std::string login_server;    // --login-server for every tailscale up
  std::string headscale_user;  // "zlh-u42"
  std::string authkey;         // the device's key (secret; shown once)
  std::string key_id;
  std::string expiration;     // RFC 3339
  std::string addon_version;  // what the agent installed, "" if unknown
};

// The answer of POST /api/servers/{id}/tailscale: the device key once, the
// copy-paste steps (tailscale up, find the address, ssh, VS Code
// Remote-SSH) and the constraints (no MagicDNS, no exit nodes, no DNS
// takeover). See docs/tailscale.md for the shape.
nlohmann::json enable_response(const DeviceAccess& a);

}  // namespace zlh::api::tailscale
