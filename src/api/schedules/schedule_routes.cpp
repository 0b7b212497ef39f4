#include "api/schedules/schedule_routes.hpp"

#include "api/audit.hpp"
#include "api/authz/authz.hpp"
#include "api/request_ids.hpp"
#include "api/with_deps.hpp"

namespace zlh::api {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

constexpr int kLastRuns = 5;

// The server of the path if the caller may use this route (authz).
Result<store::ServerAccess> own_server(const ScheduleDeps& d, const Request& req) {
  return authz::authorize(d.store, req);  // owner, or a member with "schedules"
}

// What a schedule's tasks do when they run, the caller must be allowed to do
// themselves: a member with "schedules" but not "power" may not schedule a
// restart (nor enable, retime or run one another made). 403 naming the
// permission, audited like every denial.
Result<void> tasks_allowed(const ScheduleDeps& d, const Request& req, const store::ServerAccess& a,
                           const std::string& tasks_text) {
  auto tasks = schedules::parse_tasks(json::parse(tasks_text, nullptr, false));
  if (!tasks) return fail(tasks.error());
  for (const auto& t : *tasks) {
    const store::Permission need =
        t.action == schedules::TaskAction::kPower    ? store::Permission::kPower
        : t.action == schedules::TaskAction::kBackup ? store::Permission::kBackups
                                                     : store::Permission::kConsole;
    if (a.permissions.has(need)) continue;
    const std::string name(store::to_string(need));
    audit(d.store, req, user_id(req), "authz.denied", "server:" + std::to_string(a.server.id),
          {{"route", req.method + " " + req.route},
           {"permission", name},
           {"task", schedules::kTaskActionNames.name(t.action)}});
    return fail(codes::kForbidden, "permission \"" + name + "\" is required for a " +
                                       std::string(schedules::kTaskActionNames.name(t.action)) +
                                       " task");
  }
  return {};
}

Result<json> schedule_view(const ScheduleDeps& d, const store::Schedule& s) {
  auto runs = d.store.list_runs(s.id, kLastRuns);
  if (!runs) return fail(runs.error());
  return schedules::schedule_json(s, *runs);
}

Result<json> body_json(const Request& req) {
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) return fail(Error::invalid("body", "the body is not JSON"));
  return j;
}

std::string target_of(const store::Server& srv, int64_t schedule_id) {
  return "server:" + std::to_string(srv.id) + "/schedule:" + std::to_string(schedule_id);
}

Response list_schedules(const ScheduleDeps& d, Request& req) {
  auto srv = own_server(d, req);
  if (!srv) return Response::error(srv.error());
  auto list = d.store.list_schedules(srv->server.id);
  if (!list) return Response::error(list.error());
  json out = json::array();
  for (const auto& s : *list) {
    auto v = schedule_view(d, s);
    if (!v) return Response::error(v.error());
    out.push_back(std::move(*v));
  }
  return Response::json(200, {{"schedules", out}});
}

Response create_schedule(const ScheduleDeps& d, Request& req) {
  auto srv = own_server(d, req);
  if (!srv) return Response::error(srv.error());
  auto body = body_json(req);
  if (!body) return Response::error(body.error());
  auto ns = schedules::parse_new_schedule(*body, srv->server.id, d.now());
  if (!ns) return Response::error(ns.error());
  if (auto ok = tasks_allowed(d, req, *srv, ns->tasks); !ok) return Response::error(ok.error());
  auto s = d.store.create_schedule(*ns);
  if (!s) return Response::error(s.error());
  audit(d.store, req, user_id(req), "schedule.create", target_of(srv->server, s->id),
        {{"name", s->name}, {"cron", s->cron}, {"timezone", s->timezone}});
  d.scheduler.changed();
  auto v = schedule_view(d, *s);
  if (!v) return Response::error(v.error());
  return Response::json(201, *v);
}

Response patch_schedule(const ScheduleDeps& d, Request& req) {
  auto srv = own_server(d, req);
  if (!srv) return Response::error(srv.error());
  auto sid = path_id(req, "s");
  if (!sid) return Response::error(sid.error());
  auto cur = d.store.get_schedule(srv->server.id, *sid);
  if (!cur) return Response::error(cur.error());
  auto body = body_json(req);
  if (!body) return Response::error(body.error());
  auto u = schedules::parse_schedule_patch(*body, *cur, d.now());
  if (!u) return Response::error(u.error());
  if (auto ok = tasks_allowed(d, req, *srv, u->tasks.value_or(cur->tasks)); !ok)
    return Response::error(ok.error());
  auto s = d.store.update_schedule(srv->server.id, *sid, *u);
  if (!s) return Response::error(s.error());
  json fields = json::array();
  for (const auto& [k, v] : body->items()) fields.push_back(k);
  audit(d.store, req, user_id(req), "schedule.update", target_of(srv->server, s->id),
        {{"fields", fields}});
  d.scheduler.changed();
  auto v = schedule_view(d, *s);
  if (!v) return Response::error(v.error());
  return Response::json(200, *v);
}

Response delete_schedule(const ScheduleDeps& d, Request& req) {
  auto srv = own_server(d, req);
  if (!srv) return Response::error(srv.error());
  auto sid = path_id(req, "s");
  if (!sid) return Response::error(sid.error());
  if (auto r = d.store.delete_schedule(srv->server.id, *sid); !r) return Response::error(r.error());
  audit(d.store, req, user_id(req), "schedule.delete", target_of(srv->server, *sid));
  d.scheduler.changed();
  Response none;
  none.status = 204;
  return none;
}

Response run_schedule(const ScheduleDeps& d, Request& req) {
  auto srv = own_server(d, req);
  if (!srv) return Response::error(srv.error());
  auto sid = path_id(req, "s");
  if (!sid) return Response::error(sid.error());
  auto s = d.store.get_schedule(srv->server.id, *sid);
  if (!s) return Response::error(s.error());
  if (auto ok = tasks_allowed(d, req, *srv, s->tasks); !ok) return Response::error(ok.error());
  auto run = d.scheduler.run_now(*s);
  if (!run) return Response::error(run.error());
  audit(d.store, req, user_id(req), "schedule.run", target_of(srv->server, s->id),
        {{"run_id", run->id}});
  return Response::json(202, {{"run", schedules::run_json(*run)}});
}

}  // namespace

void add_schedule_routes(http::Router& r, ScheduleDeps deps) {
  const WithDeps with(std::move(deps));
  http::RouteOptions body;
  body.body_limit = 64 * 1024;
  body.json_body = true;
  body.blocking = true;  // the store and the audit log
  http::RouteOptions plain;
  plain.body_limit = 0;
  plain.blocking = true;
  r.add_sync("GET", "/api/servers/{id}/schedules", with(list_schedules), plain);
  r.add_sync("POST", "/api/servers/{id}/schedules", with(create_schedule), body);
  r.add_sync("PATCH", "/api/servers/{id}/schedules/{s}", with(patch_schedule), body);
  r.add_sync("DELETE", "/api/servers/{id}/schedules/{s}", with(delete_schedule), plain);
  r.add_sync("POST", "/api/servers/{id}/schedules/{s}/run", with(run_schedule), plain);
}

}  // namespace zlh::api
