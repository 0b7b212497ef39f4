#include "api/ide/ide_proxy.hpp"

#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/auth/cookies.hpp"
#include "api/authz/authz.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/request_ids.hpp"
#include "api/with_deps.hpp"
#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "base/unix_time.hpp"
#include "http/origin.hpp"

namespace zlh::api {

namespace {

using Clock = CoarseClock;           // cache lifetimes: the tick's resolution is plenty
constexpr uint16_t kIdePort = 6000;  // docs/design.md §6: code-server on <container ip>:6000
constexpr int kAgentPort = 18888;    // never previewed
constexpr size_t kMaxCacheEntries = 20000;

bool platform_cookie(std::string_view name) {
  return name == auth::kSessionCookie || name == auth::kHostSessionCookie || name == kIdeCookie;
}

// A dev server created with enable_code_server (its stored payload).
bool code_server_enabled(const store::Server& s) {
  if (s.type != store::ServerType::kDev) return false;
  auto p = nlohmann::json::parse(s.payload, nullptr, false);
  return p.is_object() && p.value("enable_code_server", false);
}

std::optional<int> parse_int(std::string_view s, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || s.front() == '+' || v < lo ||
      v > hi)
    return std::nullopt;
  return v;
}

}  // namespace

// ---- IdeAccess ----

IdeAccess::IdeAccess(store::Store& store, std::chrono::seconds ticket_ttl,
                     std::chrono::milliseconds ttl)
    : store_(store), ticket_ttl_(ticket_ttl), ttl_(ttl) {}

Result<std::string> IdeAccess::issue_ticket(const store::IdeGrant& grant) {
  std::string ticket = crypto::base64url_encode(crypto::random_bytes(32));
  if (auto r = store_.create_ide_ticket(crypto::sha256_hex(ticket), grant,
                                        store::Clock::now() + ticket_ttl_);
      !r)
    return fail(r.error());
  return ticket;
}

Result<std::string> IdeAccess::redeem_ticket(std::string_view ticket, int vmid) {
  auto g = store_.redeem_ide_ticket(crypto::sha256_hex(ticket), store::Clock::now());
  if (!g) return fail(g.error());
  if (g->vmid != vmid) return fail(codes::kNotFound, "the ticket is for another server");
  std::string cookie = crypto::base64url_encode(crypto::random_bytes(32));
  if (auto r = store_.create_ide_cookie(crypto::sha256_hex(cookie), *g); !r) return fail(r.error());
  return cookie;
}

std::optional<store::IdeGrant> IdeAccess::cookie_grant(std::string_view cookie) {
  const auto now = Clock::now();
  {
    std::shared_lock lk(mu_);
    auto it = cookies_.find(cookie);
    if (it != cookies_.end() && it->second.until > now) return it->second.grant;
  }
  auto g = store_.get_ide_cookie(crypto::sha256_hex(cookie), store::Clock::now());
  if (!g) return std::nullopt;
  std::unique_lock lk(mu_);
  if (cookies_.size() >= kMaxCacheEntries)
    std::erase_if(cookies_, [&](const auto& kv) { return kv.second.until <= now; });
  if (cookies_.size() < kMaxCacheEntries) cookies_[std::string(cookie)] = {*g, now + ttl_};
  return *g;
}

IdeAccess::Decision IdeAccess::decide(std::string_view cookie, int vmid, Want want) {
  Decision d;
  if (cookie.empty() || cookie.size() > 128) return d;
  auto grant = cookie_grant(cookie);
  if (!grant || grant->vmid != vmid) return d;
  d.user_id = grant->user_id;
  const auto now = Clock::now();
  const auto key = std::pair{vmid, grant->user_id};
  ServerEntry e;
  bool cached = false;
  {
    std::shared_lock lk(mu_);
    auto it = servers_.find(key);
    if (it != servers_.end() && it->second.until > now) {
      e = it->second;
      cached = true;
    }
  }
  if (cached) {
    hits_.fetch_add(1, std::memory_order_relaxed);
  } else {
    misses_.fetch_add(1, std::memory_order_relaxed);
    e.until = now + ttl_;
    // The owner, or a member holding "ide" (authz's rule of the IDE origin).
    static const authz::Rule* const rule = authz::find_rule("*", "/dev/{vmid}/ide/{rest...}");
    auto acc = store_.get_server_access_by_vmid(vmid, grant->user_id);
    const store::Server* srv = acc && rule && authz::check(*acc, *rule) ? &acc->server : nullptr;
    if (srv && srv->state != store::ServerState::kDeleting &&
        srv->state != store::ServerState::kDeleted) {
      e.live = true;
      e.ip = srv->ip;
      e.ide = code_server_enabled(*srv);
    }
    std::unique_lock lk(mu_);
    if (servers_.size() >= kMaxCacheEntries)
      std::erase_if(servers_, [&](const auto& kv) { return kv.second.until <= now; });
    if (servers_.size() < kMaxCacheEntries) servers_[key] = e;
  }
  if (!e.live || (want == Want::kIde && !e.ide)) {
    d.verdict = Verdict::kNotFound;
  } else if (e.ip.empty()) {
    d.verdict = Verdict::kStarting;
  } else {
    d.verdict = Verdict::kAllowed;
    d.ip = e.ip;
  }
  return d;
}

void IdeAccess::forget_vmid(int vmid) {
  std::unique_lock lk(mu_);
  std::erase_if(servers_, [&](const auto& kv) { return kv.first.first == vmid; });
  std::erase_if(cookies_, [&](const auto& kv) { return kv.second.grant.vmid == vmid; });
}

void IdeAccess::forget_all() {
  std::unique_lock lk(mu_);
  servers_.clear();
  cookies_.clear();
}

void IdeAccess::forget_session(std::string_view sid) {
  std::unique_lock lk(mu_);
  std::erase_if(cookies_, [&](const auto& kv) { return kv.second.grant.session_id == sid; });
}

// ---- pieces ----

namespace ide {

std::string strip_platform_cookies(std::string_view header) {
  std::string out;
  size_t i = 0;
  while (i <= header.size()) {
    size_t j = header.find(';', i);
    if (j == std::string_view::npos) j = header.size();
    std::string_view pair = strings::trim_ows(header.substr(i, j - i));
    auto eq = pair.find('=');
    std::string_view name = strings::trim_ows(pair.substr(0, eq));
    if (!pair.empty() && !platform_cookie(name)) {
      if (!out.empty()) out += "; ";
      out += pair;
    }
    i = j + 1;
  }
  return out;
}

bool sets_platform_cookie(std::string_view set_cookie) {
  auto eq = set_cookie.find('=');
  if (eq == std::string_view::npos) return false;
  return platform_cookie(strings::trim_ows(set_cookie.substr(0, eq)));
}

std::string without_ticket(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q));
  std::string_view query = target.substr(q + 1);
  std::string kept;
  size_t i = 0;
  while (i <= query.size()) {
    size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view pair = query.substr(i, j - i);
    std::string_view name = pair.substr(0, pair.find('='));
    if (!pair.empty() && name != kTicketParam) {
      if (!kept.empty()) kept += '&';
      kept += pair;
    }
    i = j + 1;
  }
  if (!kept.empty()) out += "?" + kept;
  return out;
}

std::string ide_cookie(std::string_view value, int vmid, bool secure) {
  std::string c = std::string(kIdeCookie) + "=" + std::string(value) + "; Path=/dev/" +
                  std::to_string(vmid) + "/; HttpOnly; SameSite=Lax";
  if (secure) c += "; Secure";
  return c;
}

bool previewable_port(int64_t port) { return port >= 1024 && port <= 65535 && port != kAgentPort; }

http::Response starting_page(int vmid) {
  std::string v = std::to_string(vmid);
  http::Response r = http::Response::text(
      502,
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"3\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>Starting</title>"
      "<style>body{font:16px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;"
      "place-items:center;height:100vh;margin:0}main{max-width:32rem;padding:2rem;text-align:"
      "center}"
      "</style></head><body><main><h1>Not answering yet…</h1>"
      "<p>Nothing in container " +
          v +
          " answers on this address yet. This page tries again every 3 "
          "seconds.</p></main></body></html>",
      "text/html; charset=utf-8");
  r.headers.set("Retry-After", "3");
  return r;
}

}  // namespace ide

namespace {

// A small HTML page for browsers, the JSON error for everything else.
http::Response page_or_error(const http::Request& req, int status, const Error& err,
                             std::string_view title, std::string_view body_html,
                             std::string_view public_url) {
  auto accept = req.headers.get("Accept");
  if (req.headers.get("Upgrade") || !accept || accept->find("text/html") == std::string::npos)
    return http::Response::error(err);
  return http::Response::text(
      status,
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
          std::string(title) +
          "</title>"
          "<style>body{font:16px "
          "system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;"
          "place-items:center;height:100vh;margin:0}main{max-width:32rem;padding:2rem;text-align:"
          "center}"
          "a{color:#93c5fd}</style></head><body><main><h1>" +
          std::string(title) + "</h1>" + std::string(body_html) + "<p><a href=\"" +
          std::string(public_url) + "/\">Back to your servers</a></p></main></body></html>",
      "text/html; charset=utf-8");
}

http::Response not_found(const http::Request& req, std::string_view public_url) {
  return page_or_error(req, 404, Error::make(codes::kNotFound, "no such IDE"), "Nothing here",
                       "<p>There is nothing for you at this address.</p>", public_url);
}

http::Response redirect(std::string location) {
  http::Response r = http::Response::text(302, "");
  r.headers.set("Location", std::move(location));
  r.headers.set("Cache-Control", "no-store");
  r.headers.set("Referrer-Policy", "no-referrer");
  return r;
}

// The headers a client sends that never reach the container: the user's
// credentials, and forwarding claims the proxy writes itself.
bool forward_client_header(std::string_view k) {
  return !(strings::iequals(k, "Authorization") || strings::iequals(k, "Cookie") ||
           strings::iequals(k, "Forwarded") || strings::iequals(k, auth::kCsrfHeader) ||
           (k.size() > 12 && strings::iequals(k.substr(0, 12), "X-Forwarded-")));
}

struct Parsed {
  int vmid = -1;
  IdeAccess::Want want = IdeAccess::Want::kIde;
  int port = kIdePort;
  std::string prefix;  // "/dev/6001/ide" or "/dev/6001/port/3000"
};

// The vmid (and port) of a matched route, checked against the raw target so
// that an encoded "/" can never shift what is proxied. nullopt: 404.
std::optional<Parsed> parse_route(const http::Request& req, bool port_route) {
  Parsed p;
  auto vmid = parse_int(req.params.at("vmid"), 1, 65535);
  if (!vmid) return std::nullopt;
  p.vmid = *vmid;
  p.prefix = "/dev/" + std::to_string(p.vmid);
  if (port_route) {
    auto n = parse_int(req.params.at("n"), 1, 65535);
    if (!n) return std::nullopt;
    p.want = IdeAccess::Want::kPort;
    p.port = *n;
    p.prefix += "/port/" + std::to_string(p.port);
  } else {
    p.prefix += "/ide";
  }
  if (!req.target.starts_with(p.prefix)) return std::nullopt;
  return p;
}

}  // namespace

namespace {

// One request on the IDE origin: a ticket redeemed, a refusal or the plan
// to proxy it to the container.
struct IdeOriginHandler {
  IdeAccess& access;
  const IdeOrigin& origin;
  std::string public_url;
  std::string proto;  // "https" when the origin is secure
  bool port_route = false;

  http::ProxyPlan operator()(http::Request& req) const {
    http::ProxyPlan plan;
    auto p = parse_route(req, port_route);
    std::string_view after;
    if (auto refused = check_target(req, p, after)) {
      plan.response = std::move(*refused);
      return plan;
    }
    const bool is_upgrade = req.headers.get("Upgrade").has_value();
    // The handoff: a ticket becomes this origin's cookie.
    if (auto ticket = req.query_param(kTicketParam); ticket && req.method == "GET" && !is_upgrade) {
      plan.response = redeem(req, *p, *ticket);
      return plan;
    }
    const auto cookie_header = req.headers.get("Cookie");
    std::string_view cookie;
    if (cookie_header)
      cookie = auth::find_cookie(*cookie_header, kIdeCookie).value_or(std::string_view{});
    auto d = access.decide(cookie, p->vmid, p->want);
    if (d.user_id) req.log_user = std::to_string(d.user_id);
    if (auto refused = refuse(req, *p, d.verdict, is_upgrade)) {
      plan.response = std::move(*refused);
      return plan;
    }
    if (is_upgrade && !http::origin_allowed(req.headers.get("Origin"), origin.origin(p->vmid))) {
      plan.response =
          http::Response::error(Error::make(codes::kForbidden, "WebSocket from a foreign origin"));
      return plan;
    }
    plan.upstream = upstream(*p, after, cookie_header, std::string(cookie), d.ip, is_upgrade);
    return plan;
  }

  // The route, the host and the port checked, and the path after the
  // prefix (`after`); the response when the request goes no further.
  std::optional<http::Response> check_target(const http::Request& req,
                                             const std::optional<Parsed>& p,
                                             std::string_view& after) const {
    if (!p || !origin.host_matches(req.headers.get("Host").value_or(""), p->vmid))
      return not_found(req, public_url);
    if (port_route && !ide::previewable_port(p->port))
      return http::Response::error(Error::make(
          codes::kForbidden, "port preview covers ports 1024-65535 except the agent's 18888"));
    after = std::string_view(req.target).substr(p->prefix.size());
    if (after.empty() || after.front() == '?') {  // "/dev/6001/ide" → "/dev/6001/ide/"
      http::Response res = http::Response::text(308, "");
      res.headers.set("Location", p->prefix + "/" + std::string(after));
      return res;
    }
    if (after.front() != '/') return not_found(req, public_url);  // "/dev/6001/ide%2F..."
    return std::nullopt;
  }

  // A ticket redeemed: the cookie set and the ticket dropped from the URL.
  http::Response redeem(const http::Request& req, const Parsed& p, std::string_view ticket) const {
    auto cookie = access.redeem_ticket(ticket, p.vmid);
    if (!cookie) {
      http::Response res = page_or_error(
          req, 403,
          Error::make(codes::kForbidden, "this IDE link is not valid (used, expired or not yours)"),
          "This link has expired",
          "<p>IDE links work once, for a minute. Open the IDE again from the portal.</p>",
          public_url);
      res.headers.set("Cache-Control", "no-store");
      res.headers.set("Referrer-Policy", "no-referrer");
      return res;
    }
    http::Response res = redirect(ide::without_ticket(req.target));
    res.headers.add("Set-Cookie", ide::ide_cookie(*cookie, p.vmid, origin.secure()));
    return res;
  }

  // The answer when access is not allowed; nullopt when it is.
  std::optional<http::Response> refuse(const http::Request& req, const Parsed& p,
                                       IdeAccess::Verdict verdict, bool is_upgrade) const {
    switch (verdict) {
      case IdeAccess::Verdict::kNoCookie: {
        if (is_upgrade)
          return http::Response::error(
              Error::make(codes::kUnauthorized, "open the IDE from the portal"));
        // Back to the portal, which asks for a fresh ticket (or a login first).
        auto srv = access.store().get_server_by_vmid(p.vmid);
        if (!srv) return not_found(req, public_url);
        std::string to = public_url + "/servers/" + std::to_string(srv->id) + "/ide?open=1";
        if (port_route) to += "&port=" + std::to_string(p.port);
        return redirect(std::move(to));
      }
      case IdeAccess::Verdict::kNotFound:
        return not_found(req, public_url);
      case IdeAccess::Verdict::kStarting:
        return ide::starting_page(p.vmid);
      case IdeAccess::Verdict::kAllowed:
        break;
    }
    return std::nullopt;
  }

  // Where and how an allowed request goes to the container.
  http::ProxyTarget upstream(const Parsed& p, std::string_view after,
                             std::optional<std::string_view> cookie_header, std::string cookie,
                             const std::string& ip, bool is_upgrade) const {
    http::ProxyTarget t;
    t.host = ip;
    t.port = uint16_t(p.port);
    t.target = std::string(after);
    t.forward_client_header = forward_client_header;
    if (cookie_header) {
      std::string rest = ide::strip_platform_cookies(*cookie_header);
      if (!rest.empty()) t.headers.add("Cookie", rest);
    }
    t.set_forwarded = true;
    t.forwarded_proto = proto;
    t.forwarded_prefix = p.prefix;
    // The container cannot plant or overwrite the platform's cookies.
    t.keep_response_header = [](std::string_view k, std::string_view v) {
      return !(strings::iequals(k, "Set-Cookie") && ide::sets_platform_cookie(v));
    };
    const int vmid = p.vmid;
    t.on_upstream_error = [vmid](const Error&) { return ide::starting_page(vmid); };
    // An open WebSocket ends soon after logout or a change of owner.
    if (is_upgrade)
      t.still_allowed = [&access = access, c = std::move(cookie), vmid, want = p.want, ip] {
        auto again = access.decide(c, vmid, want);
        return again.verdict == IdeAccess::Verdict::kAllowed && again.ip == ip;
      };
    return t;
  }
};

}  // namespace

void add_ide_origin_routes(http::Router& r, const IdeOrigin& origin, const std::string& public_url,
                           IdeAccess& access) {
  http::RouteOptions o;
  o.is_public = true;       // its own cookie: a redirect to the portal, never a 401 page
  o.body_limit = SIZE_MAX;  // streamed; an IDE uploads files of any size
  const std::string proto = origin.secure() ? "https" : "http";
  for (bool port_route : {false, true})
    r.add_proxy(port_route ? "/dev/{vmid}/port/{n}/{rest...}" : "/dev/{vmid}/ide/{rest...}",
                IdeOriginHandler{access, origin, public_url, proto, port_route}, o);
}

// ---- the API side ----

namespace {

// The caller's server of path {id}: E_NOT_FOUND when missing or not theirs.
Result<store::Server> owned_server(const IdeApiDeps& deps, const http::Request& req) {
  auto a = authz::authorize(deps.store, req);  // owner, or a member with "ide"
  if (!a) return fail(a.error());
  return std::move(a->server);
}

// A server whose container has been made, with an address.
Result<void> has_container(const store::Server& s) {
  if (!s.vmid || s.ip.empty())
    return fail(codes::kConflict, "the server has no running container yet");
  return {};
}

// The ticket request's body: {} or {"port": n}; nullopt port: the IDE.
Result<std::optional<int>> ticket_port(const std::string& body) {
  std::optional<int> port;
  if (body.empty()) return port;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return std::unexpected(Error::invalid("body", "body must be a JSON object"));
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "port")
      return std::unexpected(Error::invalid(it.key(), "field \"" + it.key() + "\": unknown field"));
  if (j.contains("port") && !j["port"].is_null()) {
    if (!j["port"].is_number_integer() || !ide::previewable_port(j["port"].get<int64_t>()))
      return std::unexpected(Error::invalid(
          "port", "field \"port\": must be 1024..65535 and not 18888 (the agent's)"));
    port = j["port"].get<int>();
  }
  return port;
}

// Whether a ticket to `port` (nullopt: the IDE) of `s` may be issued now.
Result<void> ticket_allowed(const IdeApiDeps& deps, const store::Server& s,
                            std::optional<int> port) {
  if (!deps.origin)
    return fail(codes::kUnavailable,
                "the IDE origin is not configured on this "
                "installation (--ide-listen, --ide-origin)");
  if (s.state == store::ServerState::kDeleting || s.state == store::ServerState::kDeleted)
    return fail(codes::kNotFound, "no such server");
  if (!port && !code_server_enabled(s))
    return fail(codes::kConflict, "code-server is not enabled on this server");
  return has_container(s);
}

// POST /api/servers/{id}/ide-ticket {} | {"port": n}
http::Response issue_ide_ticket(const IdeApiDeps& deps, http::Request& req) {
  auto s = owned_server(deps, req);
  if (!s) return http::Response::error(s.error());
  const int64_t uid = std::strtoll(req.log_user.c_str(), nullptr, 10);
  auto port = ticket_port(req.body);
  if (!port) return http::Response::error(port.error());
  if (auto ok = ticket_allowed(deps, *s, *port); !ok) return http::Response::error(ok.error());
  // The ticket is bound to the session the request came with.
  auto cred = auth::select_credential(req.headers.get("Authorization"), req.headers.get("Cookie"),
                                      deps.secure);
  if (!cred || cred->kind == auth::CredentialKind::kNone)
    return http::Response::error(Error::make(codes::kUnauthorized, "authentication required"));
  auto claims = auth::verify_session_token(deps.jwt, cred->token, unix_now());
  if (!claims) return http::Response::error(claims.error());
  auto t = deps.access.issue_ticket({claims->sid, uid, *s->vmid});
  if (!t) return http::Response::error(t.error());
  std::string url = deps.origin->origin(*s->vmid) + "/dev/" + std::to_string(*s->vmid) +
                    (*port ? "/port/" + std::to_string(**port) : std::string("/ide")) + "/?" +
                    std::string(kTicketParam) + "=" + *t;
  (void)deps.store.append_audit(
      {uid, "ide.ticket", "server:" + std::to_string(s->id),
       nlohmann::json{{"vmid", *s->vmid}, {"port", *port ? **port : kIdePort}}.dump(),
       req.remote_addr});
  http::Response res =
      http::Response::json(200, {{"url", url}, {"expires_in", deps.access.ticket_ttl().count()}});
  res.headers.set("Cache-Control", "no-store");
  return res;
}

// GET /api/servers/{id}/ports: what port preview can open now.
http::Response list_preview_ports(const IdeApiDeps& deps, http::Request& req) {
  auto s = owned_server(deps, req);
  if (!s) return http::Response::error(s.error());
  if (auto c = has_container(*s); !c) return http::Response::error(c.error());
  auto st = deps.agents.status(s->ip, *s->vmid);
  if (!st)
    return http::Response::error(
        Error::make(codes::kUpstream, "the server's agent does not answer"));
  const bool ide = code_server_enabled(*s);
  nlohmann::json ports = nlohmann::json::array();
  if (auto it = st->find("ports_listening"); it != st->end() && it->is_array())
    for (const auto& v : *it)
      if (v.is_number_integer() && ide::previewable_port(v.get<int64_t>()) &&
          !(ide && v.get<int>() == kIdePort))
        ports.push_back(v.get<int>());
  return http::Response::json(200, {{"ports", ports}, {"preview", deps.origin != nullptr}});
}

}  // namespace

void add_ide_api_routes(http::Router& r, IdeApiDeps deps) {
  const WithDeps with(deps);
  http::RouteOptions ticket_opts;
  ticket_opts.body_limit = 1024;
  ticket_opts.json_body = true;
  r.add_sync("POST", "/api/servers/{id}/ide-ticket", with(issue_ide_ticket), ticket_opts);
  http::RouteOptions ports_opts;
  ports_opts.blocking = true;  // asks the agent
  r.add_sync("GET", "/api/servers/{id}/ports", with(list_preview_ports), ports_opts);

  // The API origin never proxies /dev/: the IDE origin does.
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_proxy(
      "/dev/{vmid}/{rest...}",
      [deps](http::Request& req) {
        http::ProxyPlan plan;
        auto vmid = parse_int(req.params.at("vmid"), 1, 65535);
        if (!deps.origin || !vmid || req.headers.get("Upgrade")) {
          plan.response = http::Response::error(Error::make(codes::kNotFound, "no such IDE"));
          return plan;
        }
        plan.response = redirect(deps.origin->origin(*vmid) + ide::without_ticket(req.target));
        return plan;
      },
      pub);
}

}  // namespace zlh::api
