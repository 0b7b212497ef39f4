#include "api/admin/admin_routes.hpp"

#include <algorithm>
#include <cstdlib>

#include "api/audit.hpp"
#include "api/body.hpp"
#include "api/request_ids.hpp"
#include "api/servers/server_view.hpp"
#include "api/with_deps.hpp"
#include "base/crypto.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {

// Each quota as {override, effective}: null override = the default, 0 = unlimited.
nlohmann::json quota_json(const store::QuotaDefaults& def, const store::QuotaOverrides& q) {
  auto field = [](const std::optional<int64_t>& v, int64_t d) {
    return nlohmann::json{{"override", v ? nlohmann::json(*v) : nlohmann::json(nullptr)},
                          {"effective", v.value_or(d)}};
  };
  return nlohmann::json{{"servers", field(q.servers, def.servers)},
                        {"memory_mb", field(q.memory_mb, def.memory_mb)},
                        {"disk_gb", field(q.disk_gb, def.disk_gb)},
                        {"consoles", field(q.consoles, def.consoles)},
                        {"uploads", field(q.uploads, def.uploads)},
                        {"backup_bytes", field(q.backup_bytes, def.backup_bytes)}};
}

Response metrics(const AdminRouteDeps& d, Request& req) {
  auto u = admin_of(d.store, req);
  if (!u) return Response::error(u.error());
  return Response::text(200, d.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

Response get_quotas(const AdminRouteDeps& d, Request& req) {
  auto u = admin_of(d.store, req);
  if (!u) return Response::error(u.error());
  auto id = path_id(req, "id");
  if (!id) return Response::error(id.error());
  auto q = d.store.get_quotas(*id);
  if (!q) return Response::error(q.error());
  return Response::json(200, {{"user_id", *id}, {"quotas", quota_json(d.quotas, *q)}});
}

Response put_quotas(const AdminRouteDeps& d, Request& req) {
  auto u = admin_of(d.store, req);
  if (!u) return Response::error(u.error());
  auto id = path_id(req, "id");
  if (!id) return Response::error(id.error());
  auto body = body::object(
      req.body, {"servers", "memory_mb", "disk_gb", "consoles", "uploads", "backup_bytes"});
  if (!body) return Response::error(body.error());
  store::QuotaOverrides q;
  for (auto [name, dst] : {std::pair{"servers", &q.servers},
                           {"memory_mb", &q.memory_mb},
                           {"disk_gb", &q.disk_gb},
                           {"consoles", &q.consoles},
                           {"uploads", &q.uploads},
                           {"backup_bytes", &q.backup_bytes}}) {
    auto it = body->find(name);
    if (it == body->end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return Response::error(
          Error::invalid(name, std::string("field \"") + name +
                                   "\": must be null (the default), 0 (unlimited) or more"));
    *dst = it->get<int64_t>();
  }
  if (auto r = d.store.set_quotas(*id, q); !r) return Response::error(r.error());
  audit(d.store, req, user_id(req), "admin.quotas", "user:" + std::to_string(*id),
        nlohmann::json::parse(req.body));
  return Response::json(200, {{"user_id", *id}, {"quotas", quota_json(d.quotas, q)}});
}

Response create_invite(const AdminRouteDeps& d, Request& req) {
  auto u = admin_of(d.store, req);
  if (!u) return Response::error(u.error());
  int64_t hours = 168;
  if (!req.body.empty()) {
    auto body = body::object(req.body, {"expires_in_hours"});
    if (!body) return Response::error(body.error());
    auto h = body::int_field(*body, "expires_in_hours", 168, 1, 720);
    if (!h) return Response::error(h.error());
    hours = *h;
  }
  std::string code = crypto::base64url_encode(crypto::random_bytes(18));
  auto expires = store::Clock::now() + std::chrono::hours(hours);
  if (auto r = d.store.create_invite(crypto::sha256_hex(code), u->id, expires); !r)
    return Response::error(r.error());
  audit(d.store, req, u->id, "admin.invite", "user:" + std::to_string(u->id),
        {{"expires_in_hours", hours}});
  Response res = Response::json(201, {{"code", code}, {"expires_at", iso_time(expires)}});
  res.headers.set("Cache-Control", "no-store");
  return res;
}

Response list_audit(const AdminRouteDeps& d, Request& req) {
  auto u = admin_of(d.store, req);
  if (!u) return Response::error(u.error());
  int limit = 100;
  if (auto l = req.query_param("limit")) limit = std::clamp(std::atoi(l->c_str()), 1, 1000);
  auto entries = d.store.list_audit(limit);
  if (!entries) return Response::error(entries.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : *entries)
    out.push_back({{"id", e.id},
                   {"at", iso_time(e.at)},
                   {"user_id", e.user_id ? nlohmann::json(*e.user_id) : nlohmann::json(nullptr)},
                   {"action", e.action},
                   {"target", e.target},
                   {"detail", nlohmann::json::parse(e.detail, nullptr, false)},
                   {"remote_addr", e.remote_addr}});
  return Response::json(200, {{"entries", out}});
}

}  // namespace

void add_admin_routes(http::Router& r, const AdminRouteDeps& deps) {
  const WithDeps with(deps);
  http::RouteOptions quota_opts;
  quota_opts.body_limit = 4096;
  quota_opts.json_body = true;
  http::RouteOptions invite_opts;
  invite_opts.body_limit = 1024;
  invite_opts.json_body = true;
  // Unauthenticated scrapes go to --metrics-listen (add_metrics_route).
  r.add_sync("GET", "/metrics", with(metrics));
  r.add_sync("GET", "/api/admin/users/{id}/quotas", with(get_quotas));
  r.add_sync("PUT", "/api/admin/users/{id}/quotas", with(put_quotas), quota_opts);
  r.add_sync("POST", "/api/admin/invites", with(create_invite), invite_opts);
  r.add_sync("GET", "/api/admin/audit", with(list_audit));
}

}  // namespace zlh::api
