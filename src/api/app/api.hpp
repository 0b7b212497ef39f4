// zlh-api's HTTP surface (docs/design.md §10): one route table over the store,
// the auth primitives, the driver and the job runner. Handlers parse and
// serialize; ownership is decided by the store query itself
// (get_server_for_owner: not yours = E_NOT_FOUND, exactly like missing).
//
// Authentication runs in the router guard for every non-public route:
// Bearer or the zlh_session cookie, a JWT HS256 whose session (sid) is live
// in the store; cookie-authenticated state-changing requests need
// X-ZLH-CSRF: 1 (403). The user id is put in Request::log_user.
//
// Thread-safety: the context is shared by the server's io thread and task
// threads; every member is thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/auth/jwt.hpp"
#include "api/auth/password.hpp"
#include "api/auth/rate_limit.hpp"
#include "api/auth/secrets.hpp"
#include "api/catalog/catalog_view.hpp"
#include "api/drivers/driver.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/jobs/job_runner.hpp"
#include "api/options.hpp"
#include "api/store/store.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::api {

namespace tailscale {
class TailscaleContext;
}  // namespace tailscale
class IdeAccess;
class IdeOrigin;
class WorkLane;

// The signed catalog from the artifact store (a directory or file:// URL),
// verified with the catalog key and cached by the bytes' sha256.
class CatalogSource {
 public:
  CatalogSource(std::string artifacts, std::string catalog_key_file)
      : artifacts_(std::move(artifacts)), key_file_(std::move(catalog_key_file)) {}
  struct Loaded {
    catalog::Catalog catalog;
    std::string sha256;
  };
  // E_UNAVAILABLE (no store, unreadable), E_BAD_SIGNATURE, E_INVALID.
  Result<std::shared_ptr<const Loaded>> load();

 private:
  std::string artifacts_, key_file_;
  std::mutex mu_;
  std::shared_ptr<const Loaded> cached_;
};

struct ApiContext {
  const Options& opts;
  store::Store& store;
  const auth::ApiSecrets& secrets;
  const auth::PasswordHasher& hasher;
  auth::LoginRateLimiter& limiter;
  drivers::Driver& driver;
  JobRunner& jobs;
  const AgentClient& agents;
  CatalogSource& catalog;
  metrics::Registry& metrics;
  // Headscale access (api/tailscale); null: not configured (503).
  tailscale::TailscaleContext* tailscale = nullptr;
  // The IDE origin's access (api/ide); the origin null when not configured.
  IdeAccess* ide = nullptr;
  const IdeOrigin* ide_origin = nullptr;
  // Long blocking calls (host power, Headscale): never null once serving.
  WorkLane* lane = nullptr;
};

http::Router make_api_router(ApiContext& ctx);

// GET /metrics without auth: the whole router of --metrics-listen.
void add_metrics_route(http::Router& r, metrics::Registry& registry);

// GET /artifacts/{path...}: the artifact store directory `dir` as a static
// tree, public, every path through the one resolver. Also the whole router
// of the lxc driver's container listener (docs/drivers.md).
void add_artifact_routes(http::Router& r, const std::string& dir);

// Creates the first admin when there is no user yet. The password comes from
// ZLH_ADMIN_PASSWORD or is generated and written to `password_file` (0600)
// before the user exists, so a failed write creates nobody; never logged or
// printed. Returns the user name and whether a file was written; nullopt
// when users exist.
Result<std::optional<std::pair<std::string, bool>>> ensure_admin(ApiContext& ctx,
                                                                 const std::string& password_file);

}  // namespace zlh::api
