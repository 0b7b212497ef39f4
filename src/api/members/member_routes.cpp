#include "api/members/member_routes.hpp"

#include "api/audit.hpp"
#include "api/authz/authz.hpp"
#include "api/body.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/request_ids.hpp"
#include "api/servers/server_view.hpp"
#include "api/tailscale/tailscale_routes.hpp"
#include "api/with_deps.hpp"
#include "base/log.hpp"

namespace zlh::api {

using http::Request;
using http::Response;
using nlohmann::json;
using store::Permission;
using store::PermSet;

namespace {

constexpr auto kOfferLifetime = std::chrono::hours(24 * 7);

int64_t unix_s(store::Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

json permissions_json(PermSet p) {
  json out = json::array();
  for (Permission each : p.list()) out.push_back(store::to_string(each));
  return out;
}

json member_json(const store::Member& m) {
  return {{"user_id", m.user_id},
          {"username", m.username},
          {"email", m.email},
          {"permissions", permissions_json(m.permissions)},
          {"added_at", unix_s(m.added_at)}};
}

json transfer_json(const store::Transfer& t) {
  return {{"server_id", t.server_id},          {"server_name", t.server_name},
          {"from_user_id", t.from_user_id},    {"from_username", t.from_username},
          {"to_user_id", t.to_user_id},        {"to_username", t.to_username},
          {"expires_at", unix_s(t.expires_at)}};
}

// "permissions": an array of known names (repeats allowed).
Result<PermSet> permissions_field(const json& j) {
  auto it = j.find("permissions");
  if (it == j.end() || !it->is_array())
    return std::unexpected(Error::invalid("permissions", "permissions must be an array of names"));
  PermSet out;
  for (const auto& v : *it) {
    auto p = v.is_string() ? store::parse_permission(v.get<std::string>())
                           : Result<Permission>(fail(codes::kInvalid, "not a string"));
    if (!p)
      return std::unexpected(Error::invalid(
          "permissions", "unknown permission " + v.dump() +
                             "; known: console, files.read, files.write, power, backups, "
                             "schedules, ide, settings"));
    out.add(*p);
  }
  return out;
}

// The account named by exactly one of "username" or "email".
Result<store::User> named_user(store::Store& store, const json& j) {
  const bool by_name = j.contains("username"), by_email = j.contains("email");
  if (by_name == by_email)
    return std::unexpected(Error::invalid("username", "give exactly one of username or email"));
  const std::string field = by_name ? "username" : "email";
  auto value = body::string_field(j, field);
  if (!value) return fail(value.error());
  auto u = store.find_user_by_login(*value);
  if (!u && u.error().is(codes::kNotFound)) {
    Error e = Error::make(codes::kNotFound, "no account with that " + field);
    e.field = field;
    return std::unexpected(e);
  }
  return u;
}

}  // namespace

// Takes `user_id`'s access to `s` away, for what they no longer hold:
// `console` closes their console sessions, `ide` their IDE and Tailscale.
void cut_access(const MemberRouteDeps& d, const store::Server& s, int64_t user_id, bool console,
                bool ide) {
  if (console) d.sessions.cut(s.id, user_id);
  if (!ide) return;
  if (s.vmid) {
    (void)d.store.revoke_ide_access(user_id, *s.vmid);
    if (d.ide) d.ide->forget_vmid(*s.vmid);
  }
  if (d.tailscale)
    if (auto n = tailscale::expire_user_keys(*d.tailscale, s.id, user_id); !n)
      log::warn("members", "cannot expire the user's tailscale keys",
                {{"server_id", s.id}, {"user_id", user_id}, {"error", n.error().message}});
}

namespace {

Response list_members(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  auto ms = d.store.list_members(a->server.id);
  if (!ms) return Response::error(ms.error());
  json out = json::array();
  for (const auto& m : *ms) out.push_back(member_json(m));
  return Response::json(200, {{"members", out}});
}

Response add_member(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  auto j = body::object(req.body, {"username", "email", "permissions"});
  if (!j) return Response::error(j.error());
  auto perms = permissions_field(*j);
  if (!perms) return Response::error(perms.error());
  auto u = named_user(d.store, *j);
  if (!u) return Response::error(u.error());
  auto m = d.store.add_member(a->server.id, u->id, *perms, user_id(req));
  if (!m) return Response::error(m.error());
  audit(d.store, req, user_id(req), "member.add", "server:" + std::to_string(a->server.id),
        {{"user_id", m->user_id},
         {"username", m->username},
         {"permissions", permissions_json(m->permissions)}});
  return Response::json(201, {{"member", member_json(*m)}});
}

Response update_member(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  auto uid = path_id(req, "user_id");
  if (!uid) return Response::error(uid.error());
  auto j = body::object(req.body, {"permissions"});
  if (!j) return Response::error(j.error());
  auto perms = permissions_field(*j);
  if (!perms) return Response::error(perms.error());
  auto before = d.store.get_server_access(a->server.id, *uid);
  auto m = d.store.update_member(a->server.id, *uid, *perms);
  if (!m) return Response::error(m.error());
  if (before && !before->owner) {
    const PermSet had = before->permissions;
    cut_access(d, a->server, *uid,
               had.has(Permission::kConsole) && !perms->has(Permission::kConsole),
               had.has(Permission::kIde) && !perms->has(Permission::kIde));
  }
  audit(d.store, req, user_id(req), "member.update", "server:" + std::to_string(a->server.id),
        {{"user_id", m->user_id},
         {"username", m->username},
         {"permissions", permissions_json(m->permissions)}});
  return Response::json(200, {{"member", member_json(*m)}});
}

Response remove_member(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  auto uid = path_id(req, "user_id");
  if (!uid) return Response::error(uid.error());
  auto who = d.store.get_user(*uid);
  if (auto r = d.store.remove_member(a->server.id, *uid); !r) return Response::error(r.error());
  cut_access(d, a->server, *uid, true, true);
  audit(d.store, req, user_id(req), *uid == user_id(req) ? "member.leave" : "member.remove",
        "server:" + std::to_string(a->server.id),
        {{"user_id", *uid}, {"username", who ? who->username : std::string()}});
  return Response::json(200, {{"removed", *uid}});
}

Response offer_transfer(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  auto j = body::object(req.body, {"username", "email"});
  if (!j) return Response::error(j.error());
  auto u = named_user(d.store, *j);
  if (!u) return Response::error(u.error());
  auto t = d.store.offer_transfer(a->server.id, u->id, store::Clock::now() + kOfferLifetime);
  if (!t) return Response::error(t.error());
  audit(d.store, req, user_id(req), "transfer.offer", "server:" + std::to_string(a->server.id),
        {{"to_user_id", u->id}, {"to_username", u->username}});
  return Response::json(201, {{"transfer", transfer_json(*t)}});
}

// The server's open offer, so the owner sees it after a reload; null when none.
Response get_transfer(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  auto t = d.store.get_transfer(a->server.id, store::Clock::now());
  if (!t && !t.error().is(codes::kNotFound)) return Response::error(t.error());
  return Response::json(200, {{"transfer", t ? transfer_json(*t) : json(nullptr)}});
}

Response cancel_transfer(const MemberRouteDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);
  if (!a) return Response::error(a.error());
  if (auto r = d.store.cancel_transfer(a->server.id); !r) return Response::error(r.error());
  audit(d.store, req, user_id(req), "transfer.cancel", "server:" + std::to_string(a->server.id));
  return Response::json(200, {{"cancelled", true}});
}

Response list_transfers(const MemberRouteDeps& d, Request& req) {
  auto ts = d.store.list_transfers_to(user_id(req), store::Clock::now());
  if (!ts) return Response::error(ts.error());
  json out = json::array();
  for (const auto& t : *ts) out.push_back(transfer_json(t));
  return Response::json(200, {{"transfers", out}});
}

Response accept_transfer(const MemberRouteDeps& d, Request& req) {
  auto sid = path_id(req, "server_id");
  if (!sid) return Response::error(sid.error());
  const int64_t uid = user_id(req);
  auto q = d.store.get_quotas(uid);
  if (!q) return Response::error(q.error());
  store::NewServer limits;
  limits.quota_servers = q->servers.value_or(d.quotas.servers);
  limits.quota_memory_mb = q->memory_mb.value_or(d.quotas.memory_mb);
  limits.quota_disk_gb = q->disk_gb.value_or(d.quotas.disk_gb);
  auto t = d.store.accept_transfer(*sid, uid, store::Clock::now(), limits);
  if (!t) return Response::error(t.error());
  auto a = d.store.get_server_access(*sid, uid);
  if (!a) return Response::error(a.error());
  cut_access(d, a->server, t->from_user_id, true, true);  // the old owner keeps nothing
  audit(d.store, req, uid, "transfer.accept", "server:" + std::to_string(*sid),
        {{"from_user_id", t->from_user_id}, {"from_username", t->from_username}});
  return Response::json(200, {{"server", server_json(*a)}});
}

}  // namespace

void add_member_routes(http::Router& r, const MemberRouteDeps& deps) {
  const WithDeps with(deps);
  http::RouteOptions o;
  o.body_limit = 4096;
  o.json_body = true;
  o.blocking = true;  // a removal may call Headscale
  r.add_sync("GET", "/api/servers/{id}/members", with(list_members), o);
  r.add_sync("POST", "/api/servers/{id}/members", with(add_member), o);
  r.add_sync("PATCH", "/api/servers/{id}/members/{user_id}", with(update_member), o);
  r.add_sync("DELETE", "/api/servers/{id}/members/{user_id}", with(remove_member), o);
  r.add_sync("POST", "/api/servers/{id}/transfer", with(offer_transfer), o);
  r.add_sync("GET", "/api/servers/{id}/transfer", with(get_transfer), o);
  r.add_sync("DELETE", "/api/servers/{id}/transfer", with(cancel_transfer), o);
  r.add_sync("GET", "/api/transfers", with(list_transfers), o);
  r.add_sync("POST", "/api/transfers/{server_id}/accept", with(accept_transfer), o);
}

}  // namespace zlh::api
