#include "api/tailscale/tailscale_routes.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

#include "api/authz/authz.hpp"
#include "api/request_ids.hpp"
#include "api/tailscale/access.hpp"
#include "api/tailscale/tailscale_context.hpp"
#include "api/work_lane.hpp"
#include "base/log.hpp"

namespace zlh::api::tailscale {

namespace {

using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kComponent = "tailscale";
// The agent installs tailscale from the catalog and runs `tailscale up`
// (its own limit is 120 s) before it answers.
constexpr auto kAgentTimeout = std::chrono::minutes(4);

// Neither route takes parameters: an empty body or {}.
Result<void> empty_body(const Request& req) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return {};
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error::invalid("body", "body must be empty or a JSON object"));
  if (!j.empty()) {
    std::string k = j.begin().key();
    return fail(Error::invalid(k, "field \"" + k + "\": unknown field"));
  }
  return {};
}

void audit(const TailscaleRouteDeps& ctx, const std::string& remote, int64_t uid,
           std::string action, int64_t server_id, const json& detail) {
  (void)ctx.store.append_audit(
      {uid, std::move(action), "server:" + std::to_string(server_id), detail.dump(), remote});
}

// The agent's {"error":{"message"}} or its status, as an E_UPSTREAM.
Error agent_error(const http::ClientResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  std::string msg = "status " + std::to_string(r.status);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].value("message", json()).is_string())
    msg = j["error"]["message"].get<std::string>();
  return Error::make(codes::kUpstream, "the container's tailscale addon: " + msg);
}

// Releases the per-server slot when the work ends, whatever the path.
struct Busy {
  TailscaleContext* ts;
  int64_t id;
  ~Busy() {
    if (ts) ts->end(id);
  }
};

// Best effort: a key that cannot be expired runs out at its expiration.
void expire_quietly(const HeadscaleClient& hs, const HeadscaleUser& user, const PreAuthKey& key,
                    int64_t server_id) {
  if (auto r = hs.expire_preauth_key(user, key); !r)
    log::warn(kComponent, "cannot expire a pre-auth key",
              {{"server_id", server_id}, {"key_id", key.id}, {"error", r.error().message}});
}

// The work of POST, off the io thread; the caller holds the server's slot.
Response enable(const TailscaleRouteDeps& ctx, TailscaleContext& ts, const store::Server& s,
                int64_t uid, const std::string& remote) {
  const HeadscaleClient& hs = *ts.headscale();
  const TailscaleSettings& cfg = ts.settings();
  std::string hs_user = headscale_user_name(cfg.user_prefix, uid);
  json detail = {{"headscale_user", hs_user}, {"vmid", *s.vmid}};
  auto failed = [&](const Error& e) {
    detail["error"] = e.message;
    audit(ctx, remote, uid, "server.tailscale_enable_failed", s.id, detail);
    log::warn(kComponent, "tailscale enable failed",
              {{"server_id", s.id}, {"vmid", *s.vmid}, {"error", e.message}});
    return Response::error(e);
  };

  auto user = hs.ensure_user(hs_user);
  if (!user) return failed(user.error());
  auto expiration = std::chrono::system_clock::now() + cfg.key_ttl;
  auto container_key = hs.create_preauth_key({*user, false, false, expiration, cfg.acl_tags});
  if (!container_key) return failed(container_key.error().wrap("container key"));
  auto device_key = hs.create_preauth_key({*user, false, false, expiration, {}});
  if (!device_key) {
    expire_quietly(hs, *user, *container_key, s.id);
    return failed(device_key.error().wrap("device key"));
  }
  detail["container_key_id"] = container_key->id;
  detail["device_key_id"] = device_key->id;
  detail["expires_at"] = device_key->expiration;

  json body = {{"login_server", cfg.login_server}, {"authkey", container_key->key}};
  auto r = ctx.agents.call(s.ip, *s.vmid, "POST", "/addons/tailscale/enable", body.dump(),
                           kAgentTimeout);
  Result<void> agent_ok;
  if (!r)
    agent_ok = fail(r.error().wrap("the container's tailscale addon"));
  else if (r->status < 200 || r->status > 299)
    agent_ok = fail(agent_error(*r));
  if (!agent_ok) {
    // Neither key may linger: the container's never reached a node, and the
    // device's would join a network without the container.
    expire_quietly(hs, *user, *container_key, s.id);
    expire_quietly(hs, *user, *device_key, s.id);
    Error e = agent_ok.error();
    e.code = codes::kUpstream;
    return failed(e);
  }
  ts.remember_keys(s.id, {container_key->id, device_key->id});
  audit(ctx, remote, uid, "server.tailscale_enable", s.id, detail);
  log::info(kComponent, "tailscale enabled",
            {{"server_id", s.id},
             {"vmid", *s.vmid},
             {"headscale_user", hs_user},
             {"container_key_id", container_key->id},
             {"device_key_id", device_key->id}});
  DeviceAccess a;
  a.server_id = s.id;
  a.vmid = *s.vmid;
  a.login_server = cfg.login_server;
  a.headscale_user = hs_user;
  a.authkey = device_key->key;
  a.key_id = device_key->id;
  a.expiration = device_key->expiration.empty() ? rfc3339(expiration) : device_key->expiration;
  auto agent_body = json::parse(r->body, nullptr, false);
  if (agent_body.is_object() && agent_body.value("version", json()).is_string())
    a.addon_version = agent_body["version"].get<std::string>();
  return Response::json(200, enable_response(a));
}

}  // namespace

Result<int> expire_user_keys(TailscaleContext& ts, int64_t server_id, int64_t user_id) {
  if (!ts.headscale()) return 0;
  const HeadscaleClient& hs = *ts.headscale();
  std::optional<Error> error;
  int expired = 0;
  {
    std::set<std::string> ids = ts.keys_of(server_id);
    if (!ids.empty()) {
      std::string hs_user = headscale_user_name(ts.settings().user_prefix, user_id);
      auto user = hs.find_user(hs_user);
      auto keys = user && *user ? hs.list_preauth_keys(**user) : Result<std::vector<PreAuthKey>>{};
      if (!user) {
        error = user.error();
      } else if (!*user) {
        // No Headscale user, so none of the keys are theirs. The server's
        // keys may be other users' (members'): only this user's are touched.
      } else if (!keys) {
        error = keys.error();
      } else {
        std::string now = rfc3339(std::chrono::system_clock::now());
        std::set<std::string> done;
        for (const auto& k : *keys) {
          if (!ids.count(k.id)) continue;
          // Used keys are spent; an expired one needs nothing (RFC 3339 UTC compares as text).
          bool live =
              !k.used && (k.expiration.empty() || k.expiration.substr(0, 19) > now.substr(0, 19));
          if (live) {
            if (auto e = hs.expire_preauth_key(**user, k); !e) {
              error = e.error();
              continue;
            }
            ++expired;
          }
          done.insert(k.id);
        }
        ts.forget_keys(server_id, done);
      }
    }
  }
  if (error) return std::unexpected(*error);
  return expired;
}

namespace {

// The work of DELETE, off the io thread; the caller holds the server's slot.
Response disable(const TailscaleRouteDeps& ctx, TailscaleContext* ts, const store::Server& s,
                 int64_t uid, const std::string& remote) {
  json detail = json::object();
  std::optional<Error> error;
  int expired = 0;
  // The keys first: they are what lets a device in.
  if (ts && ts->headscale()) {
    // The caller's keys, and the owner's when a member disables it.
    for (int64_t who :
         uid == s.owner_id ? std::vector<int64_t>{uid} : std::vector<int64_t>{uid, s.owner_id}) {
      auto n = expire_user_keys(*ts, s.id, who);
      if (n)
        expired += *n;
      else
        error = n.error();
    }
  }
  if (s.vmid && !s.ip.empty()) {
    auto r = ctx.agents.call(s.ip, *s.vmid, "POST", "/addons/tailscale/disable", "", 60s);
    if (!r)
      error = r.error().wrap("the container's tailscale addon");
    else if (r->status < 200 || r->status > 299)
      error = agent_error(*r);
  }
  detail["expired_keys"] = expired;
  if (error) {
    error->code = codes::kUpstream;
    detail["error"] = error->message;
  }
  audit(ctx, remote, uid, error ? "server.tailscale_disable_failed" : "server.tailscale_disable",
        s.id, detail);
  if (error) return Response::error(*error);
  log::info(kComponent, "tailscale disabled", {{"server_id", s.id}, {"expired_keys", expired}});
  return Response::json(
      200, {{"server_id", s.id}, {"tailscale", "disabled"}, {"expired_keys", expired}});
}

// The request's server if the caller may use this route (authz first: a
// server that is not theirs is 404 whatever else holds), for a request
// that has no body.
Result<store::Server> owned_server(const TailscaleRouteDeps& ctx, const Request& req, int64_t uid) {
  (void)uid;                                  // the request's user: authorize reads it from req
  auto a = authz::authorize(ctx.store, req);  // owner, or a member with "ide"
  if (!a) return fail(a.error());
  if (auto b = empty_body(req); !b) return fail(b.error());
  return std::move(a->server);
}

// enable() with the context a configured Headscale guarantees.
Response enable_with(const TailscaleRouteDeps& ctx, TailscaleContext* ts, const store::Server& s,
                     int64_t uid, const std::string& remote) {
  return enable(ctx, *ts, s, uid, remote);
}

using Change = Response (*)(const TailscaleRouteDeps&, TailscaleContext*, const store::Server&,
                            int64_t, const std::string&);

// Runs `change` on the work lane with the server's change slot (taken by
// the caller) held until it is done; 429, the slot freed, when the caller's
// calls fill the lane.
void submit_change(const std::shared_ptr<const TailscaleRouteDeps>& c, TailscaleContext* ts,
                   const store::Server& s, int64_t uid, const std::string& remote,
                   http::Responder res, Change change) {
  const bool queued = c->lane.submit(uid, [c, ts, server = s, uid, remote, res, change] {
    Response out;
    {
      Busy busy{ts, server.id};
      out = change(*c, ts, server, uid, remote);
    }  // the slot is free before the client can ask again
    res.send(std::move(out));
  });
  if (!queued) {
    if (ts) ts->end(s.id);
    res.send_error(Error::make(codes::kRateLimited,
                               "changes of yours are under way; try again when they end"));
  }
}

}  // namespace

void add_tailscale_routes(http::Router& r, const TailscaleRouteDeps& deps) {
  auto c = std::make_shared<const TailscaleRouteDeps>(deps);
  http::RouteOptions opts;
  opts.body_limit = 1024;
  opts.deadline = std::chrono::minutes(5);
  opts.blocking = true;  // Headscale calls

  r.add(
      "POST", "/api/servers/{id}/tailscale",
      [c](Request& req, http::Responder res) {
        int64_t uid = user_id(req);
        auto s = owned_server(*c, req, uid);
        if (!s) return res.send_error(s.error());
        TailscaleContext* ts = c->tailscale;
        if (!ts || !ts->headscale())
          return res.send_error(
              Error::make(codes::kUnavailable,
                          "private network access is not available: Headscale is not configured on "
                          "this zlh-api (--headscale-url)"));
        if (auto ok = check_server(*s); !ok) return res.send_error(ok.error());
        if (!ts->try_begin(s->id))
          return res.send_error(
              Error::make(codes::kConflict, "a tailscale change for this server is under way"));
        submit_change(c, ts, *s, uid, req.remote_addr, std::move(res), enable_with);
      },
      opts);

  r.add(
      "DELETE", "/api/servers/{id}/tailscale",
      [c](Request& req, http::Responder res) {
        int64_t uid = user_id(req);
        auto s = owned_server(*c, req, uid);
        if (!s) return res.send_error(s.error());
        if (s->type != store::ServerType::kDev)
          return res.send_error(
              Error::make(codes::kConflict, "tailscale access is only offered for dev servers"));
        TailscaleContext* ts = c->tailscale;
        if (ts && !ts->try_begin(s->id))
          return res.send_error(
              Error::make(codes::kConflict, "a tailscale change for this server is under way"));
        submit_change(c, ts, *s, uid, req.remote_addr, std::move(res), disable);
      },
      opts);
}

}  // namespace zlh::api::tailscale
