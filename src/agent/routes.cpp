#include "agent/routes.hpp"

#include <algorithm>

#include "agent/json_body.hpp"
#include "agent/mods/mod_routes.hpp"
#include "agent/ports.hpp"
#include "agent/task_reply.hpp"
#include "base/log.hpp"
#include "version.hpp"

namespace zlh::agent {

using http::Request;
using http::Response;

void Activity::set(std::string kind, std::string step, double progress) {
  std::lock_guard lk(mu_);
  current_ =
      nlohmann::json{{"kind", std::move(kind)}, {"step", std::move(step)}, {"progress", progress}};
}
void Activity::clear() {
  std::lock_guard lk(mu_);
  current_.reset();
}
nlohmann::json Activity::to_json() const {
  std::lock_guard lk(mu_);
  return current_ ? *current_ : nlohmann::json(nullptr);
}

namespace {
// The service the power routes act on: the game server, or code-server in a
// dev container.
std::string main_workload(AgentContext& ctx) {
  auto p = ctx.provisioner.payload();
  return p && p->container_type == ContainerType::kGame ? "workload" : "code-server";
}

// The agent's /status state once provisioned, from its main workload's.
std::string_view agent_state(supervisor::ServiceState s) {
  using supervisor::ServiceState;
  switch (s) {
    case ServiceState::kRunning:
      return "running";
    case ServiceState::kStopping:
      return "stopping";
    case ServiceState::kStopped:
    case ServiceState::kExited:
      return "stopped";
    case ServiceState::kCrashed:
      return "crashed";
    case ServiceState::kStarting:
    case ServiceState::kBackoff:
      return "starting";
  }
  return "running";  // not reached: the switch covers the enum
}

nlohmann::json status_body(AgentContext& ctx) {
  nlohmann::json j = ctx.provisioner.status();
  j["vmid"] = ctx.vmid ? nlohmann::json(*ctx.vmid) : nlohmann::json(nullptr);
  j["agent_version"] = kVersion;
  j["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - ctx.started)
                      .count();
  // Supervision arrives with the supervisor; until then nothing is supervised,
  // and these are the true values, not placeholders.
  // Supervision: the main workload's history, and every service but the
  // console shells.
  j["crash_count"] = 0;
  j["last_crash_at"] = nullptr;
  j["last_exit"] = nullptr;
  j["last_stop"] = nullptr;
  j["services"] = nlohmann::json::array();
  std::string main = main_workload(ctx);
  for (const auto& v : ctx.supervisor.services()) {
    if (v.name.starts_with("console-")) continue;
    j["services"].push_back(v.to_json());
    if (v.name == main) {
      // Once provisioned, the state is the main workload's (docs/design.md §3.4:
      // stopping, stopped, crashed), so a stop or a crash loop shows in
      // the control plane's list, not only in `services`.
      if (j["state"] == "running") j["state"] = std::string(agent_state(v.state));
      j["crash_count"] = v.crash_count;
      j["last_crash_at"] =
          v.last_crash_at ? nlohmann::json(*v.last_crash_at) : nlohmann::json(nullptr);
      j["last_exit"] = v.last_exit;
      j["last_stop"] = v.last_stop;
    }
  }
  j["operation"] = ctx.activity.to_json();
  // The container's listening TCP ports but the agent's (port preview).
  j["ports_listening"] = listening_ports_now(ctx.listen_host, ctx.listen_port);
  return j;
}

// POST /config: a payload for the provisioner; 202 when it changed something.
Response post_config(AgentContext& ctx, Request& req) {
  auto p = payload::parse_payload(req.body, ctx.vmid);
  if (!p) return Response::error(p.error());
  auto a = ctx.provisioner.submit(*p);
  if (!a) return Response::error(a.error());
  nlohmann::json body = status_body(ctx);
  body["changed"] = *a == Provisioner::Accept::kAccepted;
  return Response::json(*a == Provisioner::Accept::kAccepted ? 202 : 200, body);
}

// POST /runtimes/install: installs on a task thread unless already current.
void post_runtime_install(AgentContext& ctx, Request& req, http::Responder res) {
  auto f = string_fields(req.body, {"runtime", "version"});
  if (!f) return res.send_error(f.error());
  const std::string& id = (*f)[0];
  const std::string& version = (*f)[1];
  // The guard's common case answers here, without a thread.
  if (auto cur = ctx.runtimes.if_current(id, version))
    return res.send(Response::json(200, cur->to_json()));
  run_or_refuse(ctx.tasks, res, [&ctx, res, id, version](const std::atomic<bool>& cancel) {
    std::string kind = "install runtime " + id + " " + version;
    ctx.activity.set(kind, kind, 0);
    auto r = ctx.runtimes.install(
        id, version, "",
        [&](const std::string& step, double f) { ctx.activity.set(kind, step, f); }, &cancel);
    ctx.activity.clear();
    if (!r) return res.send_error(r.error());
    res.send(Response::json(200, r->to_json()));
  });
}

// POST /runtimes/{id}/use: makes an installed version the current one.
Response post_runtime_use(AgentContext& ctx, Request& req) {
  auto body = object_body(req.body, {"version"});
  if (!body) return Response::error(body.error());
  auto version = string_field(*body, "version");
  if (!version) return Response::error(version.error());
  auto u = ctx.runtimes.use(req.params["id"], *version);
  if (!u) return Response::error(u.error());
  return Response::json(200, u->to_json());
}

// POST /runtimes/{id}/rollback: back to the previous current version.
Response post_runtime_rollback(AgentContext& ctx, Request& req) {
  auto u = ctx.runtimes.rollback(req.params["id"]);
  if (!u) return Response::error(u.error());
  return Response::json(200, u->to_json());
}

// DELETE /runtimes/{id}/{version}[?force=1]
Response delete_runtime(AgentContext& ctx, Request& req) {
  auto force = req.query_param("force");
  bool forced = force && (*force == "1" || *force == "true");
  auto d = ctx.runtimes.remove(req.params["id"], req.params["version"], forced);
  if (!d) return Response::error(d.error());
  return Response::json(
      200, {{"runtime", req.params["id"]}, {"version", req.params["version"]}, {"removed", true}});
}

// Options of the routes that run a long install: small body, long deadline.
http::RouteOptions install_options() {
  http::RouteOptions o;
  o.body_limit = 4096;
  o.deadline = std::chrono::minutes(30);
  return o;
}

// One power action on service `name`: the answer's body, or the error.
Result<nlohmann::json> power_action(supervisor::Supervisor& sup, const std::string& name,
                                    const std::string& action) {
  nlohmann::json body = {{"service", name}, {"action", action}};
  Result<void> r;
  if (action == "start") {
    r = sup.start_registered(name);
  } else if (action == "stop") {
    auto s = sup.stop(name);
    if (s)
      body["last_stop"] = *s;
    else
      r = fail(s.error());
  } else if (action == "restart") {
    r = sup.restart(name);
  } else {
    r = sup.kill(name);
  }
  if (!r) return fail(r.error());
  if (auto v = sup.service(name)) body["state"] = std::string(supervisor::to_string(v->state));
  return body;
}

// POST /{start,stop,restart,kill}: power for the main workload, on a task thread.
void post_power(AgentContext& ctx, const std::string& action, http::Responder res) {
  std::string name = main_workload(ctx);
  if (!ctx.supervisor.has(name))
    return res.send_error(
        Error::make(codes::kConflict, "there is no workload (" + name + ") in this container yet"));
  run_or_refuse(ctx.tasks, res, [&ctx, res, name, action](const std::atomic<bool>&) {
    auto body = power_action(ctx.supervisor, name, action);
    if (!body) return res.send_error(body.error());
    res.send(Response::json(200, *body));
  });
}

// POST /addons/{id}/enable: optional version and Tailscale options.
void post_addon_enable(AgentContext& ctx, Request& req, http::Responder res) {
  nlohmann::json body = nlohmann::json::object();
  if (!req.body.empty()) {
    auto b = object_body(req.body, {"version", "login_server", "authkey"});
    if (!b) return res.send_error(b.error());
    body = *b;
  }
  for (const char* k : {"version", "login_server", "authkey"})
    if (body.contains(k) && !body[k].is_string())
      return res.send_error(
          Error::invalid(k, std::string("field \"") + k + "\": must be a string"));
  std::optional<addons::TailscaleOptions> ts;
  if (body.contains("authkey") || body.contains("login_server"))
    ts = addons::TailscaleOptions{body.value("login_server", ""), body.value("authkey", "")};
  std::string id = req.params["id"];
  std::string version = body.value("version", "");
  run_or_refuse(ctx.tasks, res, [&ctx, res, id, version, ts](const std::atomic<bool>& cancel) {
    ctx.activity.set("enable addon " + id, "enable addon " + id, 0);
    auto r = ctx.addons.enable(id, version, ts, &cancel);
    ctx.activity.clear();
    if (!r) return res.send_error(r.error());
    res.send(Response::json(200, *r));
  });
}

// POST /addons/{id}/disable
void post_addon_disable(AgentContext& ctx, Request& req, http::Responder res) {
  std::string id = req.params["id"];
  run_or_refuse(ctx.tasks, res, [&ctx, res, id](const std::atomic<bool>&) {
    auto r = ctx.addons.disable(id);
    if (!r) return res.send_error(r.error());
    res.send(Response::json(200, {{"addon", id}, {"enabled", false}}));
  });
}

// /health, /status and /config.
void add_agent_routes(http::Router& r, AgentContext& ctx) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/health",
      [](Request&) {
        return Response::json(200, {{"ok", true}, {"version", kVersion}});
      },
      pub);
  r.add_sync("GET", "/status", [&ctx](Request&) { return Response::json(200, status_body(ctx)); });
  http::RouteOptions cfg;
  cfg.body_limit = 64 * 1024;
  r.add_sync(
      "POST", "/config", [&ctx](Request& req) { return post_config(ctx, req); }, cfg);
}

// /runtimes: list, install, use, rollback, delete.
void add_runtime_routes(http::Router& r, AgentContext& ctx) {
  r.add_sync("GET", "/runtimes", [&ctx](Request&) {
    return Response::json(200, {{"runtimes", ctx.runtimes.list()}});
  });
  r.add(
      "POST", "/runtimes/install",
      [&ctx](Request& req, http::Responder res) { post_runtime_install(ctx, req, res); },
      install_options());
  http::RouteOptions small;
  small.body_limit = 4096;
  r.add_sync(
      "POST", "/runtimes/{id}/use", [&ctx](Request& req) { return post_runtime_use(ctx, req); },
      small);
  r.add_sync(
      "POST", "/runtimes/{id}/rollback",
      [&ctx](Request& req) { return post_runtime_rollback(ctx, req); }, small);
  r.add_sync("DELETE", "/runtimes/{id}/{version}",
             [&ctx](Request& req) { return delete_runtime(ctx, req); });
}

// Power for the main workload.
void add_power_routes(http::Router& r, AgentContext& ctx) {
  http::RouteOptions power;
  power.deadline = std::chrono::minutes(2);  // a graceful stop may take its stop + term timeouts
  for (std::string action : {"start", "stop", "restart", "kill"}) {
    r.add(
        "POST", "/" + action,
        [&ctx, action](Request&, http::Responder res) { post_power(ctx, action, res); }, power);
  }
}

// /addons: list, enable, disable.
void add_addon_routes(http::Router& r, AgentContext& ctx) {
  r.add_sync("GET", "/addons", [&ctx](Request&) {
    return Response::json(200, {{"addons", ctx.addons.list()}});
  });
  r.add(
      "POST", "/addons/{id}/enable",
      [&ctx](Request& req, http::Responder res) { post_addon_enable(ctx, req, res); },
      install_options());
  r.add(
      "POST", "/addons/{id}/disable",
      [&ctx](Request& req, http::Responder res) { post_addon_disable(ctx, req, res); },
      install_options());
}

// The console WebSocket: a shell for the container's type.
void add_console_route(http::Router& r, AgentContext& ctx) {
  http::RouteOptions ws;
  ws.ws_max_queue_bytes = 1 << 20;
  r.add_ws(
      "/console",
      [&ctx](Request& req) -> Result<std::shared_ptr<http::WsHandler>> {
        auto p = ctx.provisioner.payload();
        return ctx.console.open(req, p ? std::optional(p->container_type) : std::nullopt);
      },
      ws);
}
}  // namespace

http::Router make_router(AgentContext& ctx) {
  http::Router r;
  r.set_guard([&ctx](Request& req) { return ctx.guard.check(req); });
  add_agent_routes(r, ctx);
  add_runtime_routes(r, ctx);
  add_power_routes(r, ctx);
  add_addon_routes(r, ctx);
  add_console_route(r, ctx);
  if (ctx.files) files::add_file_routes(r, *ctx.files);
  if (ctx.mods) mods::add_mod_routes(r, *ctx.mods, ctx.tasks, ctx.max_upload_bytes);
  if (ctx.backups) backups::add_backup_routes(r, *ctx.backups);
  r.add_sync("GET", "/metrics", [&ctx](Request&) {
    return Response::text(200, ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  return r;
}

}  // namespace zlh::agent
