// zlh-api's wiring (docs/design.md §10): what main builds (ApiContext) and
// the route table made from it (make_api_router, one screen in api.cpp).
// Each feature adds its own routes with only what it uses:
// auth/auth_routes (the guard, accounts), servers/server_routes, admin/,
// catalog/, relay/, tailscale/, ide/, portal/ (static trees) and
// app/openapi. Ownership is decided by the store query itself
// (get_server_for_owner: not yours = E_NOT_FOUND, exactly like missing).
//
// Thread-safety: the context is shared by the server's io threads and the
// handler pool; every member is thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/auth/jwt.hpp"
#include "api/auth/password.hpp"
#include "api/auth/rate_limit.hpp"
#include "api/auth/secrets.hpp"
#include "api/catalog/catalog_source.hpp"
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

// Creates the first admin when there is no user yet. The password comes from
// ZLH_ADMIN_PASSWORD or is generated and written to `password_file` (0600)
// before the user exists, so a failed write creates nobody; never logged or
// printed. Returns the user name and whether a file was written; nullopt
// when users exist.
Result<std::optional<std::pair<std::string, bool>>> ensure_admin(ApiContext& ctx,
                                                                 const std::string& password_file);

}  // namespace zlh::api
