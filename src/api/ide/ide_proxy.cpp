#include "api/ide/ide_proxy.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/auth/cookies.hpp"
#include "api/options.hpp"
#include "api/relay/origin.hpp"

namespace zlh::api {

namespace {

using Clock = CoarseClock;  // cache lifetimes: the tick's resolution is plenty
constexpr uint16_t kIdePort = 6000;  // DESIGN §6: code-server on <container ip>:6000
constexpr size_t kMaxCacheEntries = 20000;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

IdeAccess::IdeAccess(store::Store& store, const auth::JwtKey& jwt, std::chrono::milliseconds ttl)
    : store_(store), jwt_(jwt), ttl_(ttl) {}

std::optional<int64_t> IdeAccess::session_user(std::string_view token) {
  const auto now = Clock::now();
  {
    std::shared_lock lk(mu_);
    auto it = sessions_.find(token);
    if (it != sessions_.end()) {
      if (it->second.until > now) return it->second.user_id;  // an expired one is replaced below
    }
  }
  auto claims = auth::verify_session_token(jwt_, token, unix_now());
  if (!claims) return std::nullopt;
  auto s = store_.get_session(claims->sid, store::Clock::now());
  if (!s || std::to_string(s->user_id) != claims->sub) return std::nullopt;
  SessionEntry e{s->user_id, claims->sid, now + ttl_};
  // Never past the token's own expiry.
  auto left = std::chrono::seconds(claims->exp - unix_now());
  if (now + left < e.until) e.until = now + left;
  std::unique_lock lk(mu_);
  if (sessions_.size() >= kMaxCacheEntries) std::erase_if(sessions_, [&](const auto& kv) { return kv.second.until <= now; });
  if (sessions_.size() < kMaxCacheEntries) sessions_[std::string(token)] = e;
  return e.user_id;
}

IdeAccess::Decision IdeAccess::decide(std::string_view session_token, int vmid) {
  Decision d;
  if (session_token.empty()) return d;
  auto user = session_user(session_token);
  if (!user) return d;
  d.user_id = *user;
  const auto now = Clock::now();
  const auto key = std::pair{vmid, *user};
  {
    std::shared_lock lk(mu_);
    auto it = servers_.find(key);
    if (it != servers_.end() && it->second.until > now) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      d.verdict = it->second.verdict;
      d.ip = it->second.ip;
      return d;
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
  }
  ServerEntry e;
  e.until = now + ttl_;
  auto srv = store_.get_server_by_vmid_for_owner(vmid, *user);
  if (srv && srv->type == store::ServerType::kDev && srv->state != store::ServerState::kDeleting &&
      srv->state != store::ServerState::kDeleted) {
    auto p = nlohmann::json::parse(srv->payload, nullptr, false);
    bool code_server = p.is_object() && p.value("enable_code_server", false);
    if (code_server) {
      e.verdict = srv->ip.empty() ? Verdict::kStarting : Verdict::kAllowed;
      e.ip = srv->ip;
    }
  }
  {
    std::unique_lock lk(mu_);
    if (servers_.size() >= kMaxCacheEntries) std::erase_if(servers_, [&](const auto& kv) { return kv.second.until <= now; });
    if (servers_.size() < kMaxCacheEntries) servers_[key] = e;
  }
  d.verdict = e.verdict;
  d.ip = e.ip;
  return d;
}

void IdeAccess::forget_vmid(int vmid) {
  std::unique_lock lk(mu_);
  std::erase_if(servers_, [&](const auto& kv) { return kv.first.first == vmid; });
}

void IdeAccess::forget_session(std::string_view sid) {
  std::unique_lock lk(mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.sid == sid; });
}

namespace ide {

std::string strip_session_cookie(std::string_view header) {
  std::string out;
  size_t i = 0;
  while (i <= header.size()) {
    size_t j = header.find(';', i);
    if (j == std::string_view::npos) j = header.size();
    std::string_view pair = trim(header.substr(i, j - i));
    auto eq = pair.find('=');
    std::string_view name = trim(pair.substr(0, eq));
    if (!pair.empty() && name != auth::kSessionCookie) {
      if (!out.empty()) out += "; ";
      out += pair;
    }
    i = j + 1;
  }
  return out;
}

bool sets_session_cookie(std::string_view set_cookie) {
  auto eq = set_cookie.find('=');
  if (eq == std::string_view::npos) return false;
  return trim(set_cookie.substr(0, eq)) == auth::kSessionCookie;
}

std::string login_redirect(std::string_view public_url, std::string_view target) {
  return std::string(public_url) + "/login?next=" + http::url_encode(target);
}

http::Response starting_page(int vmid) {
  std::string v = std::to_string(vmid);
  http::Response r = http::Response::text(
      502,
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"3\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>IDE starting</title>"
      "<style>body{font:16px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;"
      "place-items:center;height:100vh;margin:0}main{max-width:32rem;padding:2rem;text-align:center}"
      "</style></head><body><main><h1>The IDE is starting…</h1>"
      "<p>code-server in container " +
          v +
          " is not answering yet. This page tries again every 3 seconds.</p></main></body></html>",
      "text/html; charset=utf-8");
  r.headers.set("Retry-After", "3");
  return r;
}

// The 404 for a browser that navigates to an IDE it may not open (not
// yours, gone, not a dev server with code-server): a page with a way back,
// saying no more than the JSON does. API clients keep the JSON error.
http::Response not_found(const http::Request& req, std::string_view public_url) {
  auto accept = req.headers.get("Accept");
  if (req.headers.get("Upgrade") || !accept || accept->find("text/html") == std::string::npos)
    return http::Response::error(Error::make(codes::kNotFound, "no such IDE"));
  http::Response r = http::Response::text(
      404,
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>No such IDE</title>"
      "<style>body{font:16px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;"
      "place-items:center;height:100vh;margin:0}main{max-width:32rem;padding:2rem;text-align:center}"
      "a{color:#93c5fd}</style></head><body><main><h1>No such IDE</h1>"
      "<p>There is no browser IDE for you at this address.</p>"
      "<p><a href=\"" + std::string(public_url) + "/\">Back to your servers</a></p></main></body></html>",
      "text/html; charset=utf-8");
  return r;
}

}  // namespace ide

void add_ide_routes(http::Router& r, const Options& opts, IdeAccess& access) {
  http::RouteOptions o;
  o.is_public = true;  // its own cookie auth: a redirect to the login, not a 401
  o.body_limit = SIZE_MAX;  // streamed; an IDE uploads files of any size
  const std::string public_url = opts.public_url;
  const std::string proto = public_url.starts_with("https://") ? "https" : "http";
  r.add_proxy("/dev/{vmid}/ide/{rest...}", [&access, public_url, proto](http::Request& req) {
    http::ProxyPlan plan;
    const std::string& raw = req.params["vmid"];
    int vmid = -1;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), vmid);
    const std::string prefix = "/dev/" + std::to_string(vmid) + "/ide";
    const bool is_upgrade = req.headers.get("Upgrade").has_value();
    if (ec != std::errc() || p != raw.data() + raw.size() || vmid < 0 || !req.target.starts_with(prefix)) {
      plan.response = http::Response::error(Error::make(codes::kNotFound, "no such IDE"));
      return plan;
    }
    std::string_view after = std::string_view(req.target).substr(prefix.size());
    if (after.empty() || after.front() == '?') {
      plan.response = http::Response::text(308, "");
      plan.response.headers.set("Location", prefix + "/" + std::string(after));
      return plan;
    }
    if (after.front() != '/') {  // "/dev/6000/ide%2F..." and the like
      plan.response = http::Response::error(Error::make(codes::kNotFound, "no such IDE"));
      return plan;
    }
    const auto cookie = req.headers.get("Cookie");
    std::string_view token;
    if (cookie) token = auth::find_cookie(*cookie, auth::kSessionCookie).value_or(std::string_view{});
    auto d = access.decide(token, vmid);
    if (d.user_id) req.log_user = std::to_string(d.user_id);
    switch (d.verdict) {
      case IdeAccess::Verdict::kNoSession:
        if (is_upgrade) {
          plan.response = http::Response::error(Error::make(codes::kUnauthorized, "log in first"));
        } else {
          plan.response = http::Response::text(302, "");
          plan.response.headers.set("Location", ide::login_redirect(public_url, req.target));
        }
        return plan;
      case IdeAccess::Verdict::kNotFound:
        plan.response = ide::not_found(req, public_url);
        return plan;
      case IdeAccess::Verdict::kStarting:
        plan.response = ide::starting_page(vmid);
        return plan;
      case IdeAccess::Verdict::kAllowed:
        break;
    }
    if (is_upgrade && !relay::origin_allowed(req.headers.get("Origin"), public_url)) {
      plan.response = http::Response::error(Error::make(codes::kForbidden, "WebSocket from a foreign origin"));
      return plan;
    }
    http::ProxyTarget t;
    t.host = d.ip;
    t.port = kIdePort;
    t.target = std::string(after);
    // The client's headers go on as they are (no copy here), but never the
    // user's credentials and never forwarding claims made by the client.
    t.forward_client_header = [](std::string_view k) {
      return !(http::iequals(k, "Authorization") || http::iequals(k, "Cookie") || http::iequals(k, "Forwarded") ||
               http::iequals(k, auth::kCsrfHeader) ||
               (k.size() > 12 && http::iequals(k.substr(0, 12), "X-Forwarded-")));
    };
    if (cookie) {
      std::string rest = ide::strip_session_cookie(*cookie);
      if (!rest.empty()) t.headers.add("Cookie", rest);
    }
    // X-Forwarded-For, -Host, -Proto and -Prefix, written by the proxy (the
    // client's own were dropped above).
    t.set_forwarded = true;
    t.forwarded_proto = proto;
    t.forwarded_prefix = prefix;
    // The IDE cannot plant or overwrite the platform's session cookie.
    t.keep_response_header = [](std::string_view k, std::string_view v) {
      return !(http::iequals(k, "Set-Cookie") && ide::sets_session_cookie(v));
    };
    t.on_upstream_error = [vmid](const Error&) { return ide::starting_page(vmid); };
    plan.upstream = std::move(t);
    return plan;
  }, o);
}

}  // namespace zlh::api
