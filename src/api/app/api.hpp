// zlh-api's wiring (docs/design.md §10): the route table (make_api_router,
// one screen in api.cpp) made from what main builds for each feature.
// Each feature adds its own routes with only what it uses:
// auth/auth_routes (the guard, accounts), servers/server_routes, admin/,
// catalog/, relay/, tailscale/, ide/, backups/, schedules/, activity/, stats/, members/,
// portal/ (static trees) and
// app/openapi. Ownership is decided by the store query itself
// (get_server_for_owner: not yours = E_NOT_FOUND, exactly like missing).
//
// Thread-safety: what the deps refer to is shared by the server's io threads
// and the handler pool; every one of those objects is thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "api/activity/activity_routes.hpp"
#include "api/admin/admin_routes.hpp"
#include "api/auth/auth_routes.hpp"
#include "api/auth/password.hpp"
#include "api/backups/backup_routes.hpp"
#include "api/catalog/catalog_source.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/members/member_routes.hpp"
#include "api/relay/target.hpp"
#include "api/schedules/schedule_routes.hpp"
#include "api/servers/server_routes.hpp"
#include "api/stats/stats_routes.hpp"
#include "api/store/store.hpp"
#include "api/tailscale/tailscale_routes.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::api {

// Each feature's dependencies, built by main; the table hands each feature
// its own and nothing else.
struct ApiRouteDeps {
  AuthRouteDeps auth;
  CatalogSource& catalog;
  AdminRouteDeps admin;
  ServerRouteDeps servers;
  relay::RelayDeps relay;
  tailscale::TailscaleRouteDeps tailscale;
  IdeApiDeps ide;  // its origin null: no IDE origin configured
  backups::BackupDeps backups;
  ScheduleDeps schedules;
  MemberRouteDeps members;
  activity::ActivityDeps activity;
  stats::StatsDeps stats;
  std::string artifacts;  // a directory served at /artifacts/; empty: none
  std::string portal;     // the portal's directory; empty: none
  // /healthz: whether this replica may serve (cluster::Replica::healthy);
  // empty: the store read alone decides.
  std::function<bool()> replica_healthy;
};

http::Router make_api_router(const ApiRouteDeps& deps);

// GET /metrics without auth: the whole router of --metrics-listen.
void add_metrics_route(http::Router& r, metrics::Registry& registry);

// Creates the first admin when there is no user yet. The password comes from
// ZLH_ADMIN_PASSWORD or is generated and written to `password_file` (0600)
// before the user exists, so a failed write creates nobody; never logged or
// printed. Returns the user name and whether a file was written; nullopt
// when users exist.
Result<std::optional<std::pair<std::string, bool>>> ensure_admin(store::Store& store,
                                                                 const auth::PasswordHasher& hasher,
                                                                 const std::string& password_file);

}  // namespace zlh::api
