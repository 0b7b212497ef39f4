#include "api/app/api.hpp"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "api/app/openapi.hpp"
#include "api/authz/authz.hpp"
#include "api/catalog/catalog_routes.hpp"
#include "api/portal/static_routes.hpp"
#include "api/relay/relay.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "version.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {

// GET /healthz: whether this process can serve, for a load balancer: 200
// when the store answers a read and this replica's heartbeat holds
// (`replica_healthy`, when set), else 503 (the reason goes to the log, not
// to the unauthenticated caller).
void add_health_route(http::Router& r, store::Store& store, std::function<bool()> replica_healthy) {
  http::RouteOptions pub;
  pub.is_public = true;
  pub.blocking = true;  // a store read
  r.add_sync(
      "GET", "/healthz",
      [&store, replica_healthy](Request&) {
        if (replica_healthy && !replica_healthy()) {
          log::warn("api", "health check: this replica's heartbeat is failing", {});
          return Response::error(Error::make(codes::kUnavailable, "the store is unavailable"));
        }
        if (auto v = store.schema_version(); !v) {
          log::warn("api", "health check: the store cannot be read",
                    {{"error", v.error().message}});
          return Response::error(Error::make(codes::kUnavailable, "the store is unavailable"));
        }
        return Response::json(200, {{"ok", true}, {"version", kVersion}});
      },
      pub);
}

}  // namespace

Result<std::optional<std::pair<std::string, bool>>> ensure_admin(store::Store& store,
                                                                 const auth::PasswordHasher& hasher,
                                                                 const std::string& password_file) {
  auto n = store.count_users();
  if (!n) return fail(n.error());
  if (*n > 0) return std::optional<std::pair<std::string, bool>>{};
  std::string password;
  bool generated = false;
  if (const char* p = std::getenv("ZLH_ADMIN_PASSWORD"); p && *p) {
    password = p;
  } else {
    password = crypto::base64url_encode(crypto::random_bytes(18));
    generated = true;
  }
  if (auto pol = auth::check_password_policy(password); !pol) return fail(pol.error());
  auto hash = hasher.hash(password);
  if (!hash) return fail(hash.error());
  if (generated)
    if (auto w = fs::write_file_atomic(password_file, password + "\n", 0600); !w)
      return fail(w.error());
  auto u = store.create_user({"admin@localhost", "admin", *hash, true});
  if (!u) {
    if (generated) ::unlink(password_file.c_str());
    return fail(u.error());
  }
  (void)store.append_audit(
      {u->id, "auth.admin_created", "user:" + std::to_string(u->id), "{}", ""});
  return std::optional{std::pair{std::string("admin"), generated}};
}

void add_metrics_route(http::Router& r, metrics::Registry& registry) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/metrics",
      [&registry](Request&) {
        return Response::text(200, registry.render(), "text/plain; version=0.0.4; charset=utf-8");
      },
      pub);
}

// The route table: each feature adds its routes with only what it uses.
http::Router make_api_router(const ApiRouteDeps& deps) {
  http::Router r;
  add_auth_routes(r, deps.auth);  // first: it sets the guard
  add_health_route(r, deps.auth.store, deps.replica_healthy);
  add_catalog_routes(r, deps.catalog);
  add_admin_routes(r, deps.admin);
  add_server_routes(r, deps.servers);
  add_relay_routes(r, deps.relay);
  add_tailscale_routes(r, deps.tailscale);
  add_ide_api_routes(r, deps.ide);
  backups::add_backup_routes(r, deps.backups);
  add_schedule_routes(r, deps.schedules);
  add_member_routes(r, deps.members);
  activity::add_activity_routes(r, deps.activity);
  stats::add_stats_routes(r, deps.stats);
  if (!deps.artifacts.empty()) add_artifact_routes(r, deps.artifacts);
  add_openapi_route(r);
  if (!deps.portal.empty())
    add_portal_routes(r, deps.portal);  // last: every API route matches first
  // Every server route must say who may call it (api/authz/rules.cpp).
  if (auto missing = authz::unruled(r); !missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += "\n  " + m;
    throw std::logic_error("server routes without an authorization rule:" + list);
  }
  return r;
}

}  // namespace zlh::api
