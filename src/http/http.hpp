// HTTP/1.1 + WebSocket server types, free of Boost headers so that only
// http_server.cpp / http_client.cpp instantiate Beast and Asio templates.
//
// Model (STYLE §8): one listen coroutine spawns one session per connection;
// every read and write has a deadline; every request has a body limit
// (413 E_TOO_LARGE); handlers get a parsed Request and answer through a
// Responder, synchronously or later from any thread. A WebSocket upgrade that
// matches a WebSocket route is handed to a WebSocket session, exactly once.
#pragma once

#include <boost/container/small_vector.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.hpp"
#include "base/strings.hpp"

namespace zlh::http {

// Case-insensitive header list that keeps order and duplicates.
class Headers {
 public:
  void add(std::string name, std::string value) {
    items_.push_back({std::move(name), std::move(value)});
  }
  void reserve(size_t n) { items_.reserve(n); }
  void set(std::string name, std::string value);  // replaces all with that name
  void remove(std::string_view name);
  std::optional<std::string_view> get(std::string_view name) const;  // first match
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Percent-decoding; '+' is decoded as space only when form is true. Fails on
// malformed escapes and on an encoded NUL.
Result<std::string> url_decode(std::string_view s, bool form);

// The non-empty '/'-separated segments of a path, in order: "/a//b/" gives
// "a" then "b" (an empty segment is not a resource of its own). Views into
// `path`, which must outlive the reader; no allocation (the router runs it
// on every request).
class SegmentReader {
 public:
  explicit SegmentReader(std::string_view path) : path_(path) {}
  // The next segment, or nullopt after the last.
  std::optional<std::string_view> next() {
    while (pos_ < path_.size() && path_[pos_] == '/') ++pos_;
    if (pos_ >= path_.size()) return std::nullopt;
    size_t end = path_.find('/', pos_);
    if (end == std::string_view::npos) end = path_.size();
    std::string_view seg = path_.substr(pos_, end - pos_);
    pos_ = end;
    return seg;
  }

 private:
  std::string_view path_;
  size_t pos_ = 0;
};
std::string url_encode(std::string_view s);
// Parses "a=1&b=x%20y" into a map (last value wins). Malformed → E_INVALID.
Result<std::map<std::string, std::string>> parse_query(std::string_view q);

// Path parameters by name. A route has a few at most, so a small flat list
// (no allocation for up to four) with the map operations handlers use.
class Params {
 public:
  using value_type = std::pair<std::string, std::string>;
  using Items = boost::container::small_vector<value_type, 4>;
  using iterator = Items::iterator;
  using const_iterator = Items::const_iterator;
  std::string& operator[](std::string_view name) {
    if (auto it = find(name); it != end()) return it->second;
    return items_.emplace_back(std::string(name), std::string()).second;
  }
  const std::string& at(std::string_view name) const {
    if (auto it = find(name); it != end()) return it->second;
    throw std::out_of_range("no path parameter " + std::string(name));
  }
  size_t count(std::string_view name) const { return find(name) == end() ? 0 : 1; }
  iterator find(std::string_view name) {
    for (auto it = items_.begin(); it != items_.end(); ++it)
      if (it->first == name) return it;
    return items_.end();
  }
  const_iterator find(std::string_view name) const {
    for (auto it = items_.begin(); it != items_.end(); ++it)
      if (it->first == name) return it;
    return items_.end();
  }
  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  Items items_;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, may contain a query (never log it)
  std::string path;    // target without the query
  std::string query;   // raw query string without '?'
  Headers headers;
  std::string body;
  std::string remote_addr;  // peer IP
  std::string request_id;   // from a sane X-Request-Id or generated
  std::string route;        // matched pattern, "" when none (used in logs/metrics)
  Params params;            // path parameters, percent-decoded
  std::string log_user;     // handlers may set it; logged as user_id

  std::optional<std::string> query_param(std::string_view name) const;
  std::optional<std::string_view> bearer_token() const;
};

// A response body produced while it is sent (a large file, a .tar.gz of a
// directory), so it never sits whole in memory. read() is called one call at
// a time until it returns 0 (the end), on the server's handler pool when it
// has one (ServerOptions::handler_threads), else on the connection's io
// thread, where it should not block for long (local file reads are fine). An Error ends
// the response early: the connection is closed, and the client sees a
// truncated body (with Content-Length) or a missing final chunk (chunked).
// The source is destroyed when the response is done or the client went away.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual Result<size_t> read(char* buf, size_t cap) = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, the body comes from `source` instead of `body`: with
  // Content-Length when source_length is set, else chunked.
  std::shared_ptr<BodySource> source;
  std::optional<uint64_t> source_length;
  // Made by error(): the server adds the request's id to the error object
  // ("request_id"), so a user can quote it and an operator find the log
  // lines that carry the detail (host paths, upstream errors: L7).
  bool is_error = false;

  static Response json(int status, const nlohmann::json& body);
  static Response error(const Error& e);  // status from http_status_for(e.code)
  static Response text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
};

// Delivers the response of one request. Copyable; any copy may be used from
// any thread; only the first send() counts, later ones are ignored. If every
// copy is destroyed without a send, the client gets 500 E_INTERNAL. A send
// after the request's deadline is ignored. Copies must not outlive the Server.
class Responder {
 public:
  struct Core;
  explicit Responder(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  void send(Response r) const;
  void send_error(const Error& e) const { send(Response::error(e)); }

 private:
  std::shared_ptr<Core> core_;
};

using Handler = std::function<void(Request&, Responder)>;

// A request body consumed while it arrives (uploads), so it never sits whole
// in memory. The server calls write() with each piece of the (de-chunked)
// body in order, then finish() once the body is complete. The calls come one
// at a time, on the handler pool when the server has one, else on the
// connection's io thread. An Error from write() stops
// reading: the server answers with it (its status), drains a bounded amount
// of the rest and closes the connection. A sink destroyed without finish()
// means the body was cut off (client went away, read timeout, body limit):
// the sink must undo its partial work in its destructor (temp files...).
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual Result<void> write(std::string_view chunk) = 0;
  // Answers the request (now or later, from any thread), like a Handler.
  virtual void finish(Request& req, Responder res) = 0;
};
// Decides before the body is read: an Error is answered at once (400, 404,
// 409...) and the body is never looked at. req.body is empty.
using SinkFactory = std::function<Result<std::unique_ptr<BodySink>>(Request&)>;

// A sink that collects a small body (over `limit` → 413 E_TOO_LARGE) into
// req.body and then runs `h`, for streaming routes that also take JSON.
std::unique_ptr<BodySink> buffered_sink(size_t limit, Handler h);
using SyncHandler = std::function<Response(Request&)>;

// ---- WebSocket ----

// The server side of one WebSocket connection. Owned by the server; handlers
// keep a shared_ptr as long as they want to send. All methods are thread-safe
// and never block: sends are queued. When more than max_queue_bytes of binary
// frames are queued (a slow client), the oldest queued binary frames are
// dropped (counted in dropped_bytes); text frames (control messages) are never
// dropped. Sends after close are ignored.
class WsConn {
 public:
  virtual ~WsConn() = default;
  virtual void send_binary(std::string data) = 0;
  virtual void send_text(std::string data) = 0;
  virtual void close(uint16_t code = 1000, std::string reason = {}) = 0;
  virtual size_t queued_bytes() const = 0;
  virtual uint64_t dropped_bytes() const = 0;
};

// Application side. Callbacks run on the connection's strand, one at a time,
// in order: on_open, on_message*, on_close (exactly once).
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void on_open(std::shared_ptr<WsConn> conn) {}
  virtual void on_message(std::string data, bool binary) = 0;
  virtual void on_close() {}
};

// Decides before the upgrade; an Error is answered as plain HTTP (401, 404...).
using WsFactory = std::function<Result<std::shared_ptr<WsHandler>>(Request&)>;

// ---- Reverse proxy ----

// Where a proxy route sends one request (HTTP or WebSocket upgrade), decided
// before its body is read. The proxy streams the body both ways with
// backpressure (one 64 KiB buffer per request in flight, nothing whole in
// memory), reuses upstream connections (a keep-alive pool per host:port) and,
// for a WebSocket upgrade the upstream accepts with 101, becomes a byte tunnel
// that holds no buffer while idle.
struct ProxyTarget {
  std::string host;  // an IP address literal
  uint16_t port = 0;
  std::string target;  // request target sent upstream (path and query)
  // The request headers sent upstream, as the route wants them. The proxy
  // removes hop-by-hop headers (Connection, Keep-Alive, TE, Trailer,
  // Transfer-Encoding, Upgrade, Proxy-*, Expect) and sets the framing itself;
  // for an upgrade it forwards Connection: Upgrade and Upgrade.
  Headers headers;
  // The client's own request headers also go upstream, before `headers`:
  // all but the hop-by-hop ones and those this returns false for (a plain
  // function: no state, and no copy of the headers per request). The
  // client's X-Request-Id is replaced by the request's sane one
  // (Request::request_id). Null: only `headers` are sent.
  bool (*forward_client_header)(std::string_view name) = nullptr;
  // When set, the proxy writes X-Forwarded-For (the client's address),
  // X-Forwarded-Host (its Host), X-Forwarded-Proto and X-Forwarded-Prefix
  // (these two as given) itself, after `headers`. Any X-Forwarded-* the
  // client sent are its own claims: drop them with forward_client_header.
  bool set_forwarded = false;
  std::string forwarded_proto;   // "http" or "https"
  std::string forwarded_prefix;  // the path prefix the route strips, e.g. "/dev/4500/ide"
  // Asked for each upstream response header that would be sent on (after
  // hop-by-hop removal): false drops it, e.g. a Set-Cookie. Optional.
  std::function<bool(std::string_view name, std::string_view value)> keep_response_header;
  // The answer when the upstream cannot be reached or fails before its
  // response header arrived (a 502 page). Optional: default 502 E_UPSTREAM.
  std::function<Response(const Error&)> on_upstream_error;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds response_timeout{120000};        // until the response header
  std::chrono::milliseconds read_timeout{300000};            // between body reads/writes
  std::chrono::milliseconds tunnel_idle_timeout{3600000};    // upgraded: no byte either way
  std::chrono::milliseconds tunnel_total_timeout{86400000};  // upgraded: whole life
  // Upgraded: asked every `recheck_interval` while the tunnel is open, on
  // the io thread (so it must be quick, e.g. a cache lookup); false closes
  // both sides (access revoked: logout, a new owner). Optional.
  std::function<bool()> still_allowed;
  std::chrono::milliseconds recheck_interval{5000};
  // When the client sent "Expect: 100-continue" with its body, ask the
  // upstream the same and pass its 100 on: an upstream that refuses the
  // body (413, 400, 409...) is answered before a byte of it is read. No
  // answer within continue_timeout: the body goes anyway (RFC 9110 10.1.1).
  // Also, an upstream that stops reading a body it has answered (a refusal
  // in the middle) has that answer sent on instead of a 502.
  bool expect_continue = false;
  std::chrono::milliseconds continue_timeout{5000};
  // Asked with the upstream's status when its response header arrived,
  // before anything goes to the client: a Response answers instead (the
  // upstream's body is dropped with its connection). E.g. an agent's 401,
  // which refused the caller itself, not the user: 502. Optional.
  std::function<std::optional<Response>(unsigned status)> replace_response;
  // Kept until the exchange ends, then released (a quota slot...).
  std::shared_ptr<void> hold;
};

// A ProxyTarget, or a Response to answer instead (redirect, 404...).
struct ProxyPlan {
  std::optional<ProxyTarget> upstream;
  Response response;
};
using ProxyFactory = std::function<ProxyPlan(Request&)>;

// ---- Routing ----

struct RouteOptions {
  size_t body_limit = 1 << 20;                // bytes; over → 413 E_TOO_LARGE
  std::chrono::milliseconds deadline{30000};  // handler must answer within
  bool is_public = false;                     // skips the guard (e.g. /health)
  size_t ws_max_queue_bytes = 4 << 20;        // WebSocket slow-client bound
  // The route's handler, sink (factory and writes), WebSocket factory or
  // response body source may block (network calls, long work): they run on
  // the server's handler pool (ServerOptions::handler_threads), so the io
  // thread keeps serving its other connections. Quick routes stay inline:
  // a hop to the pool and back costs two thread wake-ups.
  bool blocking = false;
  // The body, when there is one, must be declared JSON (Content-Type
  // application/json, parameters allowed), else 415 E_UNSUPPORTED_MEDIA
  // before it is read: an HTML form can send text/plain but not JSON, so
  // a cross-site form cannot reach the route (login CSRF).
  bool json_body = false;
};

// One table per binary. Patterns are literal segments, "{name}" for one
// segment and a final "{name...}" for the rest of the path. Not thread-safe
// to modify; read-only once the server runs.
class Router {
 public:
  void add(std::string method, std::string pattern, Handler h, RouteOptions o = {});
  void add_sync(std::string method, std::string pattern, SyncHandler h, RouteOptions o = {});
  void add_ws(std::string pattern, WsFactory f, RouteOptions o = {});
  // A plain route whose body is streamed into a sink; o.body_limit bounds the
  // whole body (413 when the declared length or the bytes read pass it).
  void add_streaming(std::string method, std::string pattern, SinkFactory f, RouteOptions o = {});
  // A reverse-proxy route: any method, and WebSocket upgrades too, with the
  // same matching (an upgrade is routed exactly once, like plain HTTP).
  // o.body_limit bounds request bodies (SIZE_MAX: unbounded, streamed).
  // `methods`, when given, are the only ones it takes (HEAD with GET):
  // others are 405 with Allow, before the factory runs.
  void add_proxy(std::string pattern, ProxyFactory f, RouteOptions o = {},
                 std::vector<std::string> methods = {});
  // Runs before every request that does not match a public route (including
  // unmatched paths, so an unauthenticated client cannot probe for routes).
  void set_guard(std::function<std::optional<Error>(Request&)> g) { guard_ = std::move(g); }

  struct Route {
    std::string method;  // "GET", ... ; "WS" for WebSocket routes; "*" for proxy routes
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    WsFactory ws;
    SinkFactory sink;                  // set for streaming routes (handler is empty then)
    ProxyFactory proxy;                // set for proxy routes
    std::vector<std::string> methods;  // a proxy route's methods; empty: any
    RouteOptions options;
    // Worked out once by add*(), for match(): each segment's kind, and
    // whether the pattern ends in {name...}.
    enum class Seg : uint8_t { kLiteral, kParam, kRest };
    std::vector<Seg> kinds;
    bool rest = false;
    bool is_proxy = false;  // method "*"
    bool is_ws = false;     // method "WS"
  };
  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    const Route* route = nullptr;
    Params params;      // raw (not yet decoded)
    std::string allow;  // for 405
  };
  // websocket=true matches only WebSocket routes, else only plain routes;
  // proxy routes match both.
  Match match(std::string_view method, std::string_view path, bool websocket) const;
  const std::function<std::optional<Error>(Request&)>& guard() const { return guard_; }
  const std::vector<Route>& routes() const { return routes_; }

 private:
  // Appends a route with its method, pattern (split once) and options; the
  // caller sets the one kind of target (handler, ws, sink or proxy).
  Route& push(std::string method, std::string pattern, RouteOptions o);
  std::vector<Route> routes_;
  // Which routes can match a path, by its first segment: the indexes of
  // the routes whose pattern starts with that literal, and of those that
  // start with a parameter (or have no segment), each list in the order
  // the routes were added. match() walks only the two lists, merged, so a
  // request is not compared with every route (first match still wins).
  struct SegmentHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<uint32_t>, SegmentHash, std::equal_to<>> by_first_;
  std::vector<uint32_t> any_first_;
  std::function<std::optional<Error>(Request&)> guard_;
};

}  // namespace zlh::http
