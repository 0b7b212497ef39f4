// Addons (docs/design.md §6): code-server and tailscale, installed from the
// catalog through the same verified pipeline as runtimes (into
// opt/zlh/services/<id>) and run as supervised services.
//
// code-server: launched from the catalog's `launch` line with {bind}
// (<agent listen host>:<port>), {data} (opt/zlh/services/code-server/data),
// {workspace} and {prefix}; runs as the dev user with the dev environment;
// healthy when GET http://<host>:<port><health> answers 2xx/3xx.
// tailscale: tailscaled (userspace networking when /dev/net/tun is missing)
// as a service, then `tailscale up --login-server URL --auth-key file:F
// --hostname dev-<vmid> --accept-dns=false`; the key lives only in a 0600
// root-owned file that is deleted right after, never in argv, env or logs.
//
// Thread-safety: all methods may be called from any thread; enable() blocks
// for the install and, for code-server, until healthy (bounded).
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "agent/devenv/service.hpp"
#include "agent/runtimes/manager.hpp"
#include "agent/supervisor/supervisor.hpp"

namespace zlh::agent::addons {

struct TailscaleOptions {
  std::string login_server;
  std::string authkey;  // secret
};

class AddonManager {
 public:
  AddonManager(std::string root, runtimes::RuntimeManager& installer,
               runtimes::CatalogClient& catalog, supervisor::Supervisor& sup,
               devenv::DevEnvironment& devenv, std::string listen_host,
               std::optional<int64_t> vmid);

  // Installs (catalog default version unless `version`), starts and, for
  // code-server, waits until healthy. E_NOT_FOUND for an unknown addon.
  Result<nlohmann::json> enable(const std::string& id, const std::string& version,
                                const std::optional<TailscaleOptions>& ts,
                                const std::atomic<bool>* cancel);
  Result<void> disable(const std::string& id);
  nlohmann::json list() const;
  bool healthy(const std::string& id) const;

 private:
  Result<supervisor::ServiceSpec> code_server_spec(const nlohmann::json& marker,
                                                   const std::string& prefix);
  Result<void> tailscale_up(const std::string& prefix, const TailscaleOptions& ts);

  std::string root_, listen_host_;
  runtimes::RuntimeManager& installer_;
  runtimes::CatalogClient& catalog_;
  supervisor::Supervisor& sup_;
  devenv::DevEnvironment& devenv_;
  std::optional<int64_t> vmid_;
};

inline constexpr const char* kAddons[] = {"code-server", "tailscale"};

}  // namespace zlh::agent::addons
