#include "api/app/api.hpp"

#include <unistd.h>

#include <cstdlib>

#include "api/admin/admin_routes.hpp"
#include "api/app/openapi.hpp"
#include "api/auth/auth_routes.hpp"
#include "api/auth/cookies.hpp"
#include "api/catalog/catalog_routes.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/portal/static_routes.hpp"
#include "api/relay/relay.hpp"
#include "api/servers/server_routes.hpp"
#include "api/tailscale/tailscale_routes.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "version.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {

store::QuotaDefaults quota_defaults(const Options& o) {
  return {o.quota_servers, o.quota_memory_mb, o.quota_disk_gb, o.quota_consoles, o.quota_uploads};
}

void add_health_route(http::Router& r) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/healthz",
      [](Request&) {
        return Response::json(200, {{"ok", true}, {"version", kVersion}});
      },
      pub);
}

}  // namespace

Result<std::optional<std::pair<std::string, bool>>> ensure_admin(ApiContext& ctx,
                                                                 const std::string& password_file) {
  auto n = ctx.store.count_users();
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
  auto hash = ctx.hasher.hash(password);
  if (!hash) return fail(hash.error());
  if (generated)
    if (auto w = fs::write_file_atomic(password_file, password + "\n", 0600); !w)
      return fail(w.error());
  auto u = ctx.store.create_user({"admin@localhost", "admin", *hash, true});
  if (!u) {
    if (generated) ::unlink(password_file.c_str());
    return fail(u.error());
  }
  (void)ctx.store.append_audit(
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
http::Router make_api_router(ApiContext& ctx) {
  const Options& o = ctx.opts;
  const bool secure = auth::secure_for_public_url(o.public_url);
  http::Router r;
  add_auth_routes(r, {ctx.store, ctx.secrets, ctx.hasher, ctx.limiter, ctx.ide, secure,
                      o.registration, o.registration_limit});  // first: it sets the guard
  add_health_route(r);
  add_catalog_routes(r, ctx.catalog);
  add_admin_routes(r, {ctx.store, ctx.metrics, quota_defaults(o)});
  add_server_routes(r, {ctx.store, ctx.driver, ctx.jobs, ctx.agents, ctx.catalog, *ctx.lane,
                        ctx.ide, quota_defaults(o)});
  add_relay_routes(
      r, {ctx.store, ctx.agents, ctx.metrics, o.public_url, o.quota_consoles, o.quota_uploads});
  add_tailscale_routes(r, {ctx.store, ctx.agents, ctx.tailscale, *ctx.lane});
  if (ctx.ide)
    add_ide_api_routes(r,
                       {ctx.store, ctx.secrets.jwt, ctx.ide_origin, *ctx.ide, ctx.agents, secure});
  if (o.artifacts_is_dir()) add_artifact_routes(r, o.artifacts);
  add_openapi_route(r);
  if (!o.portal.empty()) add_portal_routes(r, o.portal);  // last: every API route matches first
  return r;
}

}  // namespace zlh::api
