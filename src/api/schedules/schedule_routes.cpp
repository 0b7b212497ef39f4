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
Result<store::Server> own_server(const ScheduleDeps& d, const Request& req) {
  auto a = authz::authorize(d.store, req);  // owner, or a member with the permission
  if (!a) return fail(a.error());
  return std::move(a->server);
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
  auto list = d.store.list_schedules(srv->id);
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
  auto ns = schedules::parse_new_schedule(*body, srv->id, d.now());
  if (!ns) return Response::error(ns.error());
  auto s = d.store.create_schedule(*ns);
  if (!s) return Response::error(s.error());
  audit(d.store, req, user_id(req), "schedule.create", target_of(*srv, s->id),
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
  auto cur = d.store.get_schedule(srv->id, *sid);
  if (!cur) return Response::error(cur.error());
  auto body = body_json(req);
  if (!body) return Response::error(body.error());
  auto u = schedules::parse_schedule_patch(*body, *cur, d.now());
  if (!u) return Response::error(u.error());
  auto s = d.store.update_schedule(srv->id, *sid, *u);
  if (!s) return Response::error(s.error());
  json fields = json::array();
  for (const auto& [k, v] : body->items()) fields.push_back(k);
  audit(d.store, req, user_id(req), "schedule.update", target_of(*srv, s->id),
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
  if (auto r = d.store.delete_schedule(srv->id, *sid); !r) return Response::error(r.error());
  audit(d.store, req, user_id(req), "schedule.delete", target_of(*srv, *sid));
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
  auto s = d.store.get_schedule(srv->id, *sid);
  if (!s) return Response::error(s.error());
  auto run = d.scheduler.run_now(*s);
  if (!run) return Response::error(run.error());
  audit(d.store, req, user_id(req), "schedule.run", target_of(*srv, s->id), {{"run_id", run->id}});
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
