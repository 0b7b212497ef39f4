// The HTTP request head and the router (http/http.hpp), the way
// http/server.cpp serves a request: Boost.Beast's request_parser
// with the server's header limit reads the head (then, eagerly, a body of
// at most 1 MiB, chunked or not); the Request is filled from it; the path
// is refused unless it starts with '/' and has no NUL; Router::match picks
// the route (WebSocket routes for an upgrade, else plain ones) in route
// tables with the patterns of zlh-agent, zlh-api and its IDE origin; the path parameters
// are percent-decoded; the query, the bearer token and X-Forwarded-For
// (net::client_address behind a trusted proxy) are read.
//
// The Request is filled by lines copied from Server::Impl::session, which
// does this inline (no function to call); everything else is the
// production code.
//
// Invariants: no exception escapes; match() agrees with a plain
// first-match-wins scan of the route list (the indexed lookup must not
// change the answer), including the Allow list of a 405; a found route's
// literal segments and parameters rebuild the path; decoded parameters
// survive url_encode → url_decode; every query key reads back through
// Request::query_param; a bearer token is never empty nor padded; the
// client address is the peer or one of the X-Forwarded-For entries.
#include <algorithm>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "base/cidr.hpp"
#include "fuzz_input.hpp"
#include "http/http.hpp"

namespace bhttp = boost::beast::http;
namespace http = zlh::http;

namespace {

// zlh-agent's routes (src/agent/routes.cpp, files/file_routes.cpp,
// mods/mod_routes.cpp) and zlh-api's (src/api/app/api.cpp, relay/, ide/),
// in their order, with the kind of each.
struct Pattern {
  const char* method;  // "WS" WebSocket, "*" proxy, else a plain route
  const char* pattern;
  std::vector<std::string> methods = {};  // a proxy route's methods; empty: any
};
const std::vector<Pattern> kAgent = {
    {"GET", "/health"},
    {"GET", "/status"},
    {"POST", "/config"},
    {"GET", "/runtimes"},
    {"POST", "/runtimes/install"},
    {"POST", "/runtimes/{id}/use"},
    {"POST", "/runtimes/{id}/rollback"},
    {"DELETE", "/runtimes/{id}/{version}"},
    {"POST", "/start"},
    {"POST", "/stop"},
    {"POST", "/restart"},
    {"POST", "/kill"},
    {"GET", "/addons"},
    {"POST", "/addons/{id}/enable"},
    {"POST", "/addons/{id}/disable"},
    {"WS", "/console"},
    {"GET", "/files/list"},
    {"GET", "/files/read"},
    {"GET", "/files/download"},
    {"PUT", "/files/write"},
    {"POST", "/files/upload"},
    {"POST", "/files/mkdir"},
    {"POST", "/files/rename"},
    {"POST", "/files/delete"},
    {"GET", "/mods"},
    {"POST", "/mods/install"},
    {"POST", "/mods/{id}/enable"},
    {"POST", "/mods/{id}/disable"},
    {"DELETE", "/mods/{id}"},
    {"GET", "/metrics"},
};
const std::vector<Pattern> kApi = {
    {"GET", "/healthz"},
    {"GET", "/api/openapi.json"},
    {"POST", "/api/auth/register"},
    {"POST", "/api/auth/login"},
    {"POST", "/api/auth/logout"},
    {"GET", "/api/auth/me"},
    {"GET", "/api/catalog/runtimes"},
    {"GET", "/api/servers"},
    {"POST", "/api/servers"},
    {"GET", "/api/servers/{id}"},
    {"DELETE", "/api/servers/{id}"},
    {"GET", "/api/servers/{id}/ports"},
    {"*", "/api/servers/{id}/start"},
    {"*", "/api/servers/{id}/kill"},
    {"POST", "/api/servers/{id}/host/start"},
    {"POST", "/api/servers/{id}/ide-ticket"},
    {"GET", "/api/jobs/{id}"},
    {"WS", "/api/servers/{id}/console"},
    {"*", "/api/servers/{id}/files/{rest...}", {"GET", "PUT", "POST"}},
    {"*", "/api/servers/{id}/mods", {"GET"}},
    {"*", "/api/servers/{id}/mods/{rest...}", {"POST", "DELETE"}},
    {"GET", "/api/admin/audit"},
    {"GET", "/api/admin/users/{id}/quotas"},
    {"PUT", "/api/admin/users/{id}/quotas"},
    {"POST", "/api/admin/invites"},
    {"*", "/dev/{vmid}/{rest...}"},
    {"GET", "/artifacts/{path...}"},
    {"GET", "/metrics"},
    {"GET", "/{path...}"},
};
// The IDE origin's own listener (src/api/ide/ide_proxy.cpp).
const std::vector<Pattern> kIde = {
    {"*", "/dev/{vmid}/ide/{rest...}"},
    {"*", "/dev/{vmid}/port/{n}/{rest...}"},
    {"GET", "/"},
};

http::Router make(const std::vector<Pattern>& table) {
  http::Router r;
  for (const auto& p : table) {
    std::string m = p.method;
    if (m == "WS")
      r.add_ws(p.pattern, [](http::Request&) -> zlh::Result<std::shared_ptr<http::WsHandler>> {
        return zlh::fail(zlh::codes::kInternal, "not served");
      });
    else if (m == "*")
      r.add_proxy(
          p.pattern, [](http::Request&) { return http::ProxyPlan{}; }, {}, p.methods);
    else
      r.add(m, p.pattern, [](http::Request&, http::Responder) {});
  }
  return r;
}

const http::Router& agent_router() {
  static const http::Router r = make(kAgent);
  return r;
}
const http::Router& api_router() {
  static const http::Router r = make(kApi);
  return r;
}
const http::Router& ide_router() {
  static const http::Router r = make(kIde);
  return r;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Router::match as its header describes it, by walking every route in order.
http::Router::Match reference_match(const http::Router& router, std::string_view method,
                                    std::string_view path, bool websocket) {
  using Seg = http::Router::Route::Seg;
  http::Router::Match m;
  auto segs = segments(path);
  const bool trailing = path.size() > 1 && path.back() == '/';
  std::string allow;
  for (const auto& r : router.routes()) {
    if (!r.is_proxy && r.is_ws != websocket) continue;
    const size_t fixed = r.segments.size() - (r.rest ? 1 : 0);
    if (segs.size() < fixed || (!r.rest && (segs.size() != fixed || trailing))) continue;
    bool ok = true;
    for (size_t i = 0; i < fixed; ++i)
      if (r.kinds[i] == Seg::kLiteral && r.segments[i] != segs[i]) ok = false;
    if (!ok) continue;
    if (!websocket && !r.is_proxy && r.method != method &&
        !(r.method == "GET" && method == "HEAD")) {
      if (!allow.empty()) allow += ", ";
      allow += r.method;
      continue;
    }
    if (r.is_proxy && !r.methods.empty() &&
        std::none_of(r.methods.begin(), r.methods.end(), [&](const std::string& x) {
          return x == method || (x == "GET" && method == "HEAD");
        })) {
      for (const auto& x : r.methods) {
        if (!allow.empty()) allow += ", ";
        allow += x;
      }
      continue;
    }
    m.kind = http::Router::MatchKind::kFound;
    m.route = &r;
    for (size_t i = 0; i < fixed; ++i)
      if (r.kinds[i] == Seg::kParam)
        m.params[r.segments[i].substr(1, r.segments[i].size() - 2)] = std::string(segs[i]);
    if (r.rest) {
      std::string rest;
      for (size_t k = fixed; k < segs.size(); ++k) {
        if (k > fixed) rest += '/';
        rest += segs[k];
      }
      if (trailing && !rest.empty()) rest += '/';
      const auto& ps = r.segments.back();
      m.params[ps.substr(1, ps.size() - 5)] = std::move(rest);
    }
    return m;
  }
  if (!allow.empty()) {
    m.kind = http::Router::MatchKind::kMethodNotAllowed;
    m.allow = allow;
  }
  return m;
}

bool same_params(const http::Params& a, const http::Params& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a)
    if (auto it = b.find(k); it == b.end() || it->second != v) return false;
  return true;
}

void route(const http::Router& router, http::Request& req, bool websocket) {
  auto m = router.match(req.method, req.path, websocket);
  auto ref = reference_match(router, req.method, req.path, websocket);
  ZLH_FUZZ_CHECK(m.kind == ref.kind && m.route == ref.route && m.allow == ref.allow &&
                     same_params(m.params, ref.params),
                 req.method + " " + req.path);
  if (m.kind != http::Router::MatchKind::kFound) return;

  // The pattern's literals and the raw parameters give the path's segments back.
  using Seg = http::Router::Route::Seg;
  const auto& r = *m.route;
  std::string rebuilt;
  for (size_t i = 0; i < r.segments.size(); ++i) {
    std::string_view name = r.segments[i];
    if (r.kinds[i] == Seg::kLiteral)
      rebuilt += "/" + r.segments[i];
    else if (r.kinds[i] == Seg::kParam)
      rebuilt += "/" + m.params.at(name.substr(1, name.size() - 2));
    else if (auto rest = m.params.at(name.substr(1, name.size() - 5)); !rest.empty())
      rebuilt += "/" + rest;
  }
  std::string want;
  for (auto s : segments(req.path)) want += "/" + std::string(s);
  std::string got;
  for (auto s : segments(rebuilt)) got += "/" + std::string(s);
  ZLH_FUZZ_CHECK(got == want, req.path + " rebuilt as " + rebuilt);

  // As the server does: decoded in place, a bad escape refuses the request.
  for (auto& [k, v] : m.params) {
    auto d = http::url_decode(v, false);
    if (!d) return;
    ZLH_FUZZ_CHECK(d->find('\0') == std::string::npos);
    auto back = http::url_decode(http::url_encode(*d), false);
    ZLH_FUZZ_CHECK(back && *back == *d, *d);
    v = std::move(*d);
  }
  req.route = r.pattern;
  req.params = std::move(m.params);
}

const zlh::net::CidrSet& trusted() {
  static const zlh::net::CidrSet s = *zlh::net::CidrSet::parse("10.0.0.0/8,fd00::/8,127.0.0.1");
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);  // ServerOptions::header_limit
  parser.body_limit(boost::none);
  boost::system::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  auto& hdr = parser.get();

  // ---- as Server::Impl::session fills the Request ----
  http::Request req;
  req.method = std::string(hdr.method_string());
  req.target = std::string(hdr.target());
  auto qpos = req.target.find('?');
  req.path = req.target.substr(0, qpos);
  if (qpos != std::string::npos) req.query = req.target.substr(qpos + 1);
  for (const auto& f : hdr) req.headers.add(std::string(f.name_string()), std::string(f.value()));
  const bool is_ws = boost::beast::websocket::is_upgrade(hdr);
  if (req.path.empty() || req.path.front() != '/' || req.path.find('\0') != std::string::npos)
    return 0;
  // ---- end of the copied lines ----

  std::string_view peer = (size % 2) ? "10.1.2.3" : "203.0.113.7";
  std::string client =
      zlh::net::client_address(peer, req.headers.get("X-Forwarded-For"), trusted());
  if (client != peer) {
    auto xff = req.headers.get("X-Forwarded-For");
    ZLH_FUZZ_CHECK(xff && xff->find(client) != std::string_view::npos, client);
  }

  for (const http::Router* router : {&agent_router(), &api_router(), &ide_router()}) {
    http::Request r = req;
    if (is_ws) route(*router, r, true);
    route(*router, r, false);
  }

  if (auto q = http::parse_query(req.query)) {
    for (const auto& [k, v] : *q) {
      auto got = req.query_param(k);
      ZLH_FUZZ_CHECK(got && *got == v, k);
    }
  }
  if (auto tok = req.bearer_token()) {
    ZLH_FUZZ_CHECK(!tok->empty() && tok->front() != ' ' && tok->back() != ' ', std::string(*tok));
  }

  // The body, as the server reads it after the head (de-chunked, bounded):
  // a declared length over the route's limit is answered with 413 first.
  constexpr uint64_t kBodyLimit = 1 << 20;  // RouteOptions::body_limit
  if (parser.content_length() && *parser.content_length() > kBodyLimit) return 0;
  if (!parser.is_done()) {
    parser.body_limit(kBodyLimit);
    parser.eager(true);
    auto rest = boost::asio::buffer(data + used, size - used);
    while (rest.size() > 0 && !parser.is_done()) {
      size_t n = parser.put(rest, ec);
      if (ec || n == 0) break;
      rest += n;
    }
    if (!ec && !parser.is_done()) parser.put_eof(ec);
  }
  return 0;
}
