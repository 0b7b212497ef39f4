#include "api/relay/file_relay.hpp"

#include <cstdlib>

#include "api/audit.hpp"
#include "api/relay/file_activity.hpp"
#include "api/relay/forwarding.hpp"
#include "api/relay/target.hpp"
#include "api/relay/user_slots.hpp"
#include "api/request_ids.hpp"
#include "base/log.hpp"

namespace zlh::api::relay {

namespace {

using namespace std::chrono_literals;
using http::ProxyPlan;
using http::Request;
using http::Response;

struct RouteSpec {
  std::chrono::milliseconds answer_timeout;  // the agent's work after the body
};

ProxyPlan refuse(const Error& e) { return ProxyPlan{std::nullopt, Response::error(e)}; }

bool is_upload(const Request& req) {
  return (req.method == "PUT" && req.path.ends_with("/files/write")) ||
         (req.method == "POST" &&
          (req.path.ends_with("/files/upload") || req.path.ends_with("/mods/install")));
}

// The activity entry of a change the agent is asked for (file_activity.hpp),
// recorded off this I/O thread once the agent answered 2xx.
std::function<void(unsigned)> change_recorder(const RelayDeps& c, const Request& req,
                                              const AgentTarget& target) {
  if (!c.activity || req.method == "GET" || req.method == "HEAD") return {};
  // "/api/servers/{id}/files/write" → "files/write"
  std::string_view rest = req.path;
  for (int i = 0; i < 3; ++i) {
    size_t slash = rest.find('/', 1);
    if (slash == std::string_view::npos) return {};
    rest.remove_prefix(slash);
  }
  auto change = streamed_change(req.method, rest, req.query_param("path"));
  if (!change) return {};
  store::NewAuditEntry e{user_id(req), std::move(change->action),
                         "server:" + std::to_string(target.server_id), change->detail.dump(),
                         req.remote_addr};
  return [rec = c.activity, e = std::move(e)](unsigned status) {
    if (status >= 200 && status < 300) rec->record(e);
  };
}

http::ProxyFactory relay_factory(const RelayDeps& deps, RouteSpec spec,
                                 std::shared_ptr<UserSlots> uploads) {
  return [c = deps, spec = std::move(spec), uploads](Request& req) -> ProxyPlan {
    auto target = owned_agent(c.store, req);
    if (!target) return refuse(target.error());
    // "/api/servers/{id}/…" → "/…"
    auto path = agent_target(req.path, req.query, 3);
    if (!path) return refuse(path.error());
    // M4: concurrent uploads per user (file writes and uploads, mod uploads),
    // held until the exchange ends.
    std::shared_ptr<UserSlots::Slot> upload_slot;
    if (is_upload(req)) {
      const int64_t uid = user_id(req);
      auto q = c.store.get_quotas(uid);
      if (!q) return refuse(q.error());
      const int64_t limit = q->uploads.value_or(c.quota_uploads);
      auto held = uploads->try_acquire(uid, limit);
      if (!held) return refuse(held.error());
      upload_slot = std::move(*held);
      if (!upload_slot)
        return refuse(
            Error::make(codes::kQuota, "quota uploads reached: " + std::to_string(limit) +
                                           " uploads are running; wait for one to finish"));
    }
    auto auth = c.agents.auth(target->vmid, req.method, *path);
    if (!auth) return refuse(auth.error());

    http::ProxyTarget t;
    t.host = target->ip;
    t.port = kAgentPort;
    t.target = std::move(*path);
    t.headers = std::move(*auth);
    t.forward_client_header = &header_to_agent;
    t.keep_response_header = [](std::string_view name, std::string_view) {
      return header_to_client(name);
    };
    t.on_upstream_error = [](const Error&) {
      return Response::error(
          Error::make(codes::kUpstream, "the container's agent cannot be reached"));
    };
    t.replace_response =
        [vmid = target->vmid, rid = req.request_id,
         changed = change_recorder(c, req, *target)](unsigned status) -> std::optional<Response> {
      if (changed) changed(status);
      if (!agent_refused_api(int(status))) return std::nullopt;
      log::error("relay", "agent refused the api's token", {{"request_id", rid}, {"vmid", vmid}});
      return Response::error(error_from_agent(int(status), ""));
    };
    t.expect_continue = true;
    t.connect_timeout = 5s;
    t.response_timeout = spec.answer_timeout;
    t.read_timeout = 60s;
    t.hold = std::move(upload_slot);
    return ProxyPlan{std::move(t), {}};
  };
}

// POST files/{mkdir,rename,delete}: small JSON bodies, relayed whole (not
// streamed) so the activity entry can name the paths the agent accepted.
Response json_op(const RelayDeps& c, const std::string& op, Request& req) {
  auto target = owned_agent(c.store, req);
  if (!target) return Response::error(target.error());
  auto r = c.agents.call(target->ip, target->vmid, "POST", "/files/" + op, req.body, 60s);
  if (!r)
    return Response::error(
        Error::make(codes::kUpstream, "the container's agent cannot be reached"));
  if (agent_refused_api(r->status)) {
    log::error("relay", "agent refused the api's token",
               {{"request_id", req.request_id}, {"vmid", target->vmid}});
    return Response::error(error_from_agent(r->status, ""));
  }
  Response res;
  res.status = r->status;
  for (const auto& [name, value] : r->headers.items())
    if (header_to_client(name)) res.headers.add(name, value);
  res.body = std::move(r->body);
  if (r->status >= 200 && r->status < 300) {
    FileChange change = json_op_change(op, req.body);
    audit(c.store, req, user_id(req), change.action, "server:" + std::to_string(target->server_id),
          change.detail);
  }
  return res;
}

void add_json_op_routes(http::Router& r, const RelayDeps& deps) {
  http::RouteOptions o;
  o.body_limit = 64 * 1024;  // the agent's own bound for these bodies
  o.blocking = true;         // the store and the agent's answer
  for (const char* op : {"mkdir", "rename", "delete"})
    r.add_sync(
        "POST", std::string("/api/servers/{id}/files/") + op,
        [deps, op = std::string(op)](Request& req) { return json_op(deps, op, req); }, o);
}

}  // namespace

void add_file_relay_routes(http::Router& r, const RelayDeps& deps) {
  http::RouteOptions o;
  o.body_limit = size_t(1) << 46;  // the agent enforces its own per-file limit
  o.blocking =
      true;  // the factory reads the store (ownership, quotas); the bytes stay on the io threads
  auto uploads = user_slots(deps, "upload");
  add_json_op_routes(r, deps);  // first: the proxy below would take them too
  // The agent allows 30 min for an artifact install.
  r.add_proxy("/api/servers/{id}/files/{rest...}", relay_factory(deps, {5min}, uploads), o,
              {"GET", "PUT", "POST"});
  r.add_proxy("/api/servers/{id}/mods", relay_factory(deps, {31min}, uploads), o, {"GET"});
  r.add_proxy("/api/servers/{id}/mods/{rest...}", relay_factory(deps, {31min}, uploads), o,
              {"POST", "DELETE"});
}

}  // namespace zlh::api::relay
