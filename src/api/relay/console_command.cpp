#include "api/relay/console_command.hpp"

#include "api/audit.hpp"
#include "api/body.hpp"
#include "api/relay/forwarding.hpp"
#include "api/request_ids.hpp"
#include "proto/catalog.hpp"

namespace zlh::api::relay {
namespace {

using http::Request;
using http::Response;

Response send_command(const RelayDeps& c, Request& req) {
  auto target = owned_agent(c.store, req);  // authz: "console"
  if (!target) return Response::error(target.error());
  if (target->type != store::ServerType::kGame)
    return Response::error(Error::make(
        codes::kConflict, "only a game server takes console commands; use the console"));
  auto body = body::object(req.body, {"command"});
  if (!body) return Response::error(body.error());
  auto cmd = body::string_field(*body, "command", true);
  if (!cmd) return Response::error(cmd.error());
  if (auto ok = catalog::check_console_line(*cmd, "command"); !ok)
    return Response::error(ok.error());
  auto r = c.agents.call(target->ip, target->vmid, "POST", "/console/command",
                         nlohmann::json{{"command", *cmd}}.dump(), std::chrono::seconds(15));
  if (!r)
    return Response::error(
        Error::make(codes::kUpstream, "the container's agent cannot be reached"));
  if (r->status < 200 || r->status > 299)
    return Response::error(error_from_agent(r->status, r->body));
  audit(c.store, req, user_id(req), "console.command",
        "server:" + std::to_string(target->server_id), {{"command", *cmd}, {"via", "api"}});
  Response res;
  res.status = 204;
  return res;
}

}  // namespace

void add_console_command_route(http::Router& r, const RelayDeps& deps) {
  http::RouteOptions o;
  o.body_limit = 4096;
  o.json_body = true;
  o.blocking = true;  // the store and the agent's answer
  r.add_sync(
      "POST", "/api/servers/{id}/command", [deps](Request& req) { return send_command(deps, req); },
      o);
}

}  // namespace zlh::api::relay
