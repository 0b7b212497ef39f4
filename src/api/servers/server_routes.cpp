#include "api/servers/server_routes.hpp"

#include "api/audit.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/request_ids.hpp"
#include "api/servers/create_request.hpp"
#include "api/servers/server_view.hpp"
#include "api/with_deps.hpp"
#include "base/strings.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {

using Deps = std::shared_ptr<const ServerRouteDeps>;

// A create request checked against the driver's limits and the pinned
// catalog, with the owner and the owner's quotas.
Result<store::NewServer> validate_create(const ServerRouteDeps& d, const Request& req) {
  auto cat = d.catalog.load();
  if (!cat) return fail(cat.error());
  auto ns =
      servers::parse_create_request(req.body, d.driver.limits(), (*cat)->catalog, (*cat)->sha256);
  if (!ns) return fail(ns.error());
  ns->owner_id = user_id(req);
  // M4: the owner's quotas, checked by the store inside the create.
  auto q = d.store.get_quotas(ns->owner_id);
  if (!q) return fail(q.error());
  ns->quota_servers = q->servers.value_or(d.quotas.servers);
  ns->quota_memory_mb = q->memory_mb.value_or(d.quotas.memory_mb);
  ns->quota_disk_gb = q->disk_gb.value_or(d.quotas.disk_gb);
  return ns;
}

Response create_server(const ServerRouteDeps& d, Request& req) {
  auto v = validate_create(d, req);
  if (!v) return Response::error(v.error());
  auto created = d.store.create_server(*v, kCreateSteps);
  if (!created) return Response::error(created.error());
  if (d.ide && created->server.vmid) d.ide->forget_vmid(*created->server.vmid);
  audit(d.store, req, user_id(req), "server.create", "server:" + std::to_string(created->server.id),
        {{"type", to_string(created->server.type)}, {"vmid", created->server.vmid.value_or(0)}});
  d.jobs.submit(created->job.id);
  return Response::json(202, {{"id", created->server.id},
                              {"job", created->job.id},
                              {"server", server_json(created->server)}});
}

StatsBrief brief(const stats::Sample& s) { return {s.cpu_ratio(), s.memory_bytes, s.memory_max}; }

std::optional<StatsBrief> latest_stats(const ServerRouteDeps& d, int64_t id) {
  if (!d.sampler) return std::nullopt;
  auto s = d.sampler->latest(id);
  return s ? std::optional(brief(*s)) : std::nullopt;
}

Response list_servers(const ServerRouteDeps& d, Request& req) {
  auto list = d.store.list_servers_for_owner(user_id(req));
  if (!list) return Response::error(list.error());
  // The latest samples under one lock of the sampler, copied out.
  std::vector<std::optional<StatsBrief>> stats;
  if (d.sampler && !list->empty()) {
    std::vector<int64_t> ids;
    ids.reserve(list->size());
    for (const auto& s : *list) ids.push_back(s.id);
    auto latest = d.sampler->latest(ids);
    stats.reserve(latest.size());
    for (const auto& s : latest) stats.push_back(s ? std::optional(brief(*s)) : std::nullopt);
  }
  // Written directly, not through a JSON tree: the list is the hot path.
  return Response::text(200, server_list_json(*list, stats), "application/json");
}

Response get_server(const ServerRouteDeps& d, Request& req) {
  auto id = path_id(req, "id");
  if (!id) return Response::error(id.error());
  auto s = d.store.get_server_for_owner(*id, user_id(req));
  if (!s) return Response::error(s.error());
  auto out = server_json(*s, latest_stats(d, s->id));
  // What the container uses, where the driver measures it locally (lxc: cgroups).
  if (auto res = s->vmid ? d.driver.resources(*s->vmid) : std::nullopt)
    out["resources"] = {{"cpu_ns", res->cpu_ns},         {"memory_bytes", res->memory_bytes},
                        {"memory_max", res->memory_max}, {"pids", res->pids},
                        {"disk_bytes", res->disk_bytes}, {"disk_max", res->disk_max},
                        {"oom_kills", res->oom_kills}};
  // The latest job, so a reloaded page can show its steps (GET /api/jobs/{id}).
  if (auto j = d.store.latest_job_for_server(s->id))
    out["job"] = {{"id", j->id}, {"kind", to_string(j->kind)}, {"state", to_string(j->state)}};
  else
    out["job"] = nullptr;
  return Response::json(200, out);
}

Response delete_server(const ServerRouteDeps& d, Request& req) {
  auto id = path_id(req, "id");
  if (!id) return Response::error(id.error());
  auto s = d.store.get_server_for_owner(*id, user_id(req));
  if (!s) return Response::error(s.error());
  // Deleting a server that is still being provisioned cancels its create
  // job; deleting twice answers with the delete job already under way.
  auto del = d.store.create_delete_job(s->id, kDeleteSteps);
  if (!del) return Response::error(del.error());
  if (d.ide && s->vmid) d.ide->forget_vmid(*s->vmid);  // the IDE is gone from now on
  if (!del->existing) {
    nlohmann::json detail = nlohmann::json::object();
    if (del->cancelled_job) {
      detail["cancelled_job"] = *del->cancelled_job;
      d.jobs.cancel(*del->cancelled_job);
    }
    audit(d.store, req, user_id(req), "server.delete", "server:" + std::to_string(s->id), detail);
  }
  d.jobs.submit(del->job.id);
  return Response::json(202, {{"id", s->id}, {"job", del->job.id}});
}

Response get_job(const ServerRouteDeps& d, Request& req) {
  auto id = path_id(req, "id");
  if (!id) return Response::error(id.error());
  auto j = d.store.get_job_for_owner(*id, user_id(req));
  if (!j) return Response::error(j.error());
  return Response::json(200, job_json(*j));
}

// Workload power: the agent's answer passed on as it is, on the async proxy
// path (no thread waits for a graceful stop).
http::ProxyPlan workload_power(const ServerRouteDeps& d, const std::string& action, Request& req) {
  auto refuse = [](const Error& e) { return http::ProxyPlan{std::nullopt, Response::error(e)}; };
  auto id = path_id(req, "id");
  if (!id) return refuse(id.error());
  auto s = d.store.get_server_for_owner(*id, user_id(req));
  if (!s) return refuse(s.error());
  if (!s->vmid || s->ip.empty())
    return refuse(Error::make(codes::kConflict, "the server has no running container yet"));
  auto auth = d.agents.auth(*s->vmid, "POST", "/" + action);
  if (!auth) return refuse(auth.error());
  audit(d.store, req, user_id(req), "server." + action, "server:" + std::to_string(s->id));
  http::ProxyTarget t;
  t.host = s->ip;
  t.port = 18888;
  t.target = "/" + action;
  t.headers = std::move(*auth);
  t.keep_response_header = [](std::string_view name, std::string_view) {
    return strings::iequals(name, "Content-Type");
  };
  t.on_upstream_error = [](const Error&) {
    return Response::error(
        Error::make(codes::kUpstream, "the container's agent cannot be reached"));
  };
  t.replace_response = [](unsigned status) -> std::optional<Response> {
    if (status != 401) return std::nullopt;  // the agent refused the api's token, not the user
    return Response::error(
        Error::make(codes::kUpstream, "the agent refused the api's credentials"));
  };
  t.response_timeout = std::chrono::minutes(2);
  return http::ProxyPlan{std::move(t), {}};
}

// Container power: the driver's calls block (liblxc, Proxmox tasks), so they
// run on the work lane, at most two per user at a time.
void host_power(const Deps& d, const std::string& action, Request& req, http::Responder res) {
  auto id = path_id(req, "id");
  if (!id) return res.send_error(id.error());
  const int64_t uid = user_id(req);
  auto s = d->store.get_server_for_owner(*id, uid);
  if (!s) return res.send_error(s.error());
  if (!s->vmid) return res.send_error(Error::make(codes::kConflict, "the server has no container"));
  const bool queued = d->lane.submit(uid, [d, res, vmid = *s->vmid, action] {
    Result<void> r;
    if (action != "start") r = d->driver.stop(vmid, std::chrono::seconds(45));
    if (r && action != "stop") r = d->driver.start(vmid);
    if (!r) return res.send_error(r.error());
    auto st = d->driver.status(vmid);
    res.send(Response::json(
        200, {{"action", action},
              {"power", st ? std::string(drivers::to_string(st->state)) : "unknown"}}));
  });
  if (!queued)
    return res.send_error(
        Error::make(codes::kRateLimited,
                    "container power actions of yours are under way; try again when they end"));
  audit(d->store, req, uid, "server.host_" + action, "server:" + std::to_string(s->id));
}

}  // namespace

void add_server_routes(http::Router& r, const ServerRouteDeps& deps) {
  const WithDeps with(deps);
  const auto& d = with.shared();
  http::RouteOptions create_opts;
  create_opts.body_limit = 64 * 1024;
  create_opts.json_body = true;
  r.add_sync("POST", "/api/servers", with(create_server), create_opts);
  r.add_sync("GET", "/api/servers", with(list_servers));
  r.add_sync("GET", "/api/servers/{id}", with(get_server));
  r.add_sync("DELETE", "/api/servers/{id}", with(delete_server));
  r.add_sync("GET", "/api/jobs/{id}", with(get_job));

  http::RouteOptions power;
  power.body_limit = 0;
  power.blocking = true;  // the factory reads the store and writes the audit log
  for (std::string action : {"start", "stop", "restart", "kill"})
    r.add_proxy("/api/servers/{id}/" + action,
                [d, action](Request& req) { return workload_power(*d, action, req); }, power,
                {"POST"});
  http::RouteOptions host;
  host.deadline = std::chrono::minutes(2);
  host.blocking = true;  // the store and the audit log; the driver calls go to the lane
  for (std::string action : {"start", "stop", "restart"})
    r.add(
        "POST", "/api/servers/{id}/host/" + action,
        [d, action](Request& req, http::Responder res) {
          host_power(d, action, req, std::move(res));
        },
        host);
}

}  // namespace zlh::api
