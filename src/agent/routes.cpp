#include "agent/routes.hpp"

#include "common/log.hpp"
#include "version.hpp"

namespace zlh::agent {

using http::Request;
using http::Response;

namespace {
nlohmann::json status_body(AgentContext& ctx) {
  nlohmann::json j = ctx.provisioner.status();
  j["vmid"] = ctx.vmid ? nlohmann::json(*ctx.vmid) : nlohmann::json(nullptr);
  j["agent_version"] = kVersion;
  j["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - ctx.started)
                      .count();
  // Supervision arrives with the supervisor; until then nothing is supervised,
  // and these are the true values, not placeholders.
  j["crash_count"] = 0;
  j["last_crash_at"] = nullptr;
  j["last_exit"] = nullptr;
  j["last_stop"] = nullptr;
  j["services"] = nlohmann::json::array();
  return j;
}
}  // namespace

http::Router make_router(AgentContext& ctx) {
  http::Router r;
  r.set_guard([&ctx](Request& req) { return ctx.guard.check(req); });

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
      "POST", "/config",
      [&ctx](Request& req) {
        auto p = parse_payload(req.body, ctx.vmid);
        if (!p) return Response::error(p.error());
        auto a = ctx.provisioner.submit(*p);
        if (!a) return Response::error(a.error());
        nlohmann::json body = status_body(ctx);
        body["changed"] = *a == Provisioner::Accept::kAccepted;
        return Response::json(*a == Provisioner::Accept::kAccepted ? 202 : 200, body);
      },
      cfg);

  r.add_sync("GET", "/metrics", [&ctx](Request&) {
    return Response::text(200, ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  return r;
}

}  // namespace zlh::agent
