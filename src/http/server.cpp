// All Beast/Asio server templates live in this translation unit.
#include "http/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "base/cidr.hpp"
#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "http/beast_names.hpp"
#include "http/proxy_detail.hpp"

namespace zlh::http {

using namespace std::string_view_literals;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// A connection lives on one io thread's io_context (one thread each, so its
// executor serialises like a strand, without a strand's cost).
using Exec = asio::io_context::executor_type;
using Clock = std::chrono::steady_clock;

Result<std::pair<std::string, uint16_t>> split_host_port(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return fail(codes::kInvalid, "address: want [v6]:port");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return fail(codes::kInvalid, "address: want host:port");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || p != port.data() + port.size() || v > 65535 || port.empty())
    return fail(codes::kInvalid, "address: bad port");
  if (host.empty()) host = "0.0.0.0";
  return std::pair{std::string(host), uint16_t(v)};
}

// ---- Responder ----

struct Slot {
  explicit Slot(Exec s) : timer(s) {}
  std::optional<Response> response;
  asio::steady_timer timer;
};

struct Responder::Core {
  Exec strand;
  std::shared_ptr<Slot> slot;
  std::atomic<bool> sent{false};
  void deliver(Response r);
  ~Core() {
    if (!sent.load())
      deliver(Response::error(Error::make(codes::kInternal, "handler produced no response")));
  }
};

void Responder::Core::deliver(Response r) {
  if (sent.exchange(true)) return;
  asio::dispatch(strand, [slot = slot, r = std::move(r)]() mutable {
    slot->response = std::move(r);
    slot->timer.cancel();
  });
}

void Responder::send(Response r) const { core_->deliver(std::move(r)); }

// ---- Server implementation ----

namespace {
class WsSession;
}

// Coroutines capture a raw Impl*: the members they touch on destruction
// (conns, flags) are declared before the io_context, and the io_context is
// destroyed first in ~Impl, which destroys every pending coroutine frame while
// those members are still alive.
struct Server::Impl {
  static constexpr int kMaxIoThreads = 64;
  // One io_context per io thread. Worker 0 exists from the start (listen,
  // signals, post); the others are made by run().
  struct Worker {
    detail::Deadlines deadlines;  // outlives ioc: its coroutines' watches unlink on the way out
    // One thread runs it, and its sockets are only ever touched from that
    // thread (handler-pool work never gets a socket; closes are posted), so
    // the reactor's per-socket locks are off: a lock pair less per
    // operation. Registration (accepts come from worker 0) and the
    // scheduler (posts from other threads) stay locked.
    asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    detail::UpstreamPool upstreams;  // sockets registered with ioc; after it, so gone first
    Worker() { deadlines.attach(ioc); }
    ~Worker() { deadlines.detach(); }
  };

  Impl(Router r, ServerOptions o) : router(std::move(r)), opts(std::move(o)) {
    workers.reserve(kMaxIoThreads);  // never reallocated while io threads read it
    workers.push_back(std::make_unique<Worker>());
    acceptor.emplace(main());
    signals.emplace(main());
    if (opts.handler_threads > 0) handler_pool.emplace(opts.handler_threads);
  }
  ~Impl() {
    destroying = true;
    signals.reset();
    acceptor.reset();
    // Handlers still running may post their answer to an io_context.
    if (handler_pool) {
      handler_pool->stop();
      handler_pool->join();
    }
    for (auto& w : workers) w->upstreams.clear();
    workers.clear();
  }

  asio::io_context& main() { return workers.front()->ioc; }
  void stop_all() {
    for (auto& w : workers) w->ioc.stop();
  }

  Router router;
  ServerOptions opts;
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> destroying{false};
  std::vector<std::function<void()>> shutdown_callbacks;

  // Live connections, so a shutdown can close the idle ones.
  struct LiveConn {
    Exec strand;
    std::function<void()> close_if_idle;  // runs on strand
  };
  std::mutex conns_mu;
  std::map<uint64_t, LiveConn> conns;
  uint64_t next_conn = 0;
  std::atomic<int> active{0};

  // Declared after what the coroutines touch, so destroyed before it.
  std::vector<std::unique_ptr<Worker>> workers;
  size_t next_worker = 0;
  std::optional<asio::thread_pool> handler_pool;  // opts.handler_threads > 0
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::signal_set> signals;

  // Runs f() on the handler pool when the route may block and there is a
  // pool (the io thread serves its other connections meanwhile), else inline.
  template <typename F>
  awaitable<std::invoke_result_t<F&>> offload(bool blocking, F f) {
    if (!blocking || !handler_pool) co_return f();
    co_return co_await asio::co_spawn(
        handler_pool->get_executor(),
        [&f]() -> awaitable<std::invoke_result_t<F&>> { co_return f(); }, use_awaitable);
  }

  uint64_t register_conn(Exec s, std::function<void()> close_if_idle) {
    std::lock_guard lk(conns_mu);
    uint64_t id = next_conn++;
    conns.emplace(id, LiveConn{s, std::move(close_if_idle)});
    active++;
    return id;
  }
  void unregister_conn(uint64_t id) {
    {
      std::lock_guard lk(conns_mu);
      conns.erase(id);
    }
    if (--active == 0 && shutting_down && !destroying) asio::post(main(), [this] { stop_all(); });
  }

  void begin_shutdown() {
    if (shutting_down.exchange(true)) return;
    log::info(opts.component, "shutting down", {{"active_connections", active.load()}});
    boost::system::error_code ec;
    acceptor->close(ec);
    signals->cancel(ec);
    for (auto& cb : shutdown_callbacks) cb();
    {
      std::lock_guard lk(conns_mu);
      for (auto& [id, c] : conns) asio::post(c.strand, c.close_if_idle);
    }
    if (active.load() == 0) {
      stop_all();
      return;
    }
    auto grace = std::make_shared<asio::steady_timer>(main(), opts.shutdown_grace);
    grace->async_wait([this, grace](boost::system::error_code ec) {
      if (ec) return;
      log::warn(opts.component, "shutdown grace expired", {{"active_connections", active.load()}});
      stop_all();
    });
  }

  void record(const Request& req, int status, Clock::time_point start, size_t bytes) {
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    const std::string_view route =
        req.route.empty() ? std::string_view("-") : std::string_view(req.route);
    const log::FlatField fields[] = {
        {"method", req.method},      {"route", route},          {"path", req.path},
        {"status", int64_t(status)}, {"duration_ms", ms},       {"request_id", req.request_id},
        {"remote", req.remote_addr}, {"bytes", int64_t(bytes)}, {"user_id", req.log_user}};
    // user_id, last, only when known.
    log::write_flat(log::Level::kInfo, "request", opts.component,
                    std::span(fields, std::size(fields) - (req.log_user.empty() ? 1 : 0)));
    if (opts.metrics) add_request_metrics(*opts.metrics, req, status, ms);
  }

  // The request counters, through a small per-thread cache of the series a
  // (route, method, status) adds to: a hit costs no label string and no
  // map lookup, only the shard's (uncontended) lock.
  // Labels come from closed sets, so no client can mint series: the
  // standard methods or OTHER, the route's pattern (or "unmatched"), and a
  // status the server knows or its class ("2xx").
  // "application/json", any case, optionally followed by parameters.
  static bool is_json_type(std::optional<std::string_view> ct) {
    if (!ct) return false;
    std::string_view t = *ct;
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    constexpr std::string_view kJson = "application/json";
    if (t.size() < kJson.size() || !strings::iequals(t.substr(0, kJson.size()), kJson))
      return false;
    t.remove_prefix(kJson.size());
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    return t.empty() || t.front() == ';';
  }

  static std::string_view metric_method(std::string_view m) {
    static constexpr std::string_view kKnown[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                                  "DELETE", "OPTIONS", "TRACE", "CONNECT"};
    for (auto k : kKnown)
      if (m == k) return k;
    return "OTHER";
  }
  static std::string metric_code(int status) {
    static constexpr int kKnown[] = {101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
                                     400, 401, 403, 404, 405, 408, 409, 410, 411, 413, 414, 415,
                                     416, 422, 429, 431, 499, 500, 501, 502, 503, 504};
    for (int k : kKnown)
      if (status == k) return std::to_string(status);
    if (status >= 100 && status <= 599) return std::to_string(status / 100) + "xx";
    return "other";
  }

  static void add_request_metrics(metrics::Registry& reg, const Request& req, int status,
                                  double ms) {
    struct Entry {
      uint64_t reg = 0;
      int status = 0;
      std::string method, route;
      std::mutex* mu = nullptr;
      std::array<double*, 3> v{};
    };
    thread_local std::array<Entry, 16> cache;
    thread_local size_t next = 0;
    const std::string_view rv =
        req.route.empty() ? std::string_view("unmatched") : std::string_view(req.route);
    const std::string_view method = metric_method(req.method);
    Entry* e = nullptr;
    for (auto& c : cache)
      if (c.mu && c.reg == reg.id() && c.status == status && c.method == method && c.route == rv) {
        e = &c;
        break;
      }
    if (!e) {
      e = &cache[next++ % cache.size()];
      std::string rl = "route=\"";
      if (rv.find_first_of("\\\"\n") == std::string_view::npos)
        rl += rv;
      else
        rl += metrics::label_escape(rv);
      rl += '"';
      const std::string labels =
          "method=\"" + std::string(method) + "\"," + rl + ",code=\"" + metric_code(status) + '"';
      const std::pair<std::string_view, std::string_view> series[] = {
          {"zlh_http_requests_total", labels},
          {"zlh_http_request_duration_seconds_sum", rl},
          {"zlh_http_request_duration_seconds_count", rl}};
      e->mu = &reg.cells(series, e->v);
      e->reg = reg.id();
      e->status = status;
      e->method = method;
      e->route = rv;
    }
    std::lock_guard lk(*e->mu);
    *e->v[0] += 1;
    *e->v[1] += ms / 1000;
    *e->v[2] += 1;
  }

  awaitable<void> accept_loop();

  // Connection caps (ServerOptions::max_connections*): counted at accept,
  // given back when the session ends.
  std::mutex conn_mu;
  size_t conn_total = 0;
  std::unordered_map<std::string, size_t> conn_by_addr;
  bool admit(const std::string& addr) {
    if (opts.max_connections == 0 && opts.max_connections_per_address == 0) return true;
    std::lock_guard lk(conn_mu);
    if (opts.max_connections && conn_total >= opts.max_connections) return false;
    size_t& n = conn_by_addr[addr];
    if (opts.max_connections_per_address && n >= opts.max_connections_per_address) {
      if (n == 0) conn_by_addr.erase(addr);
      return false;
    }
    ++n;
    ++conn_total;
    return true;
  }
  void release(const std::string& addr) {
    if (opts.max_connections == 0 && opts.max_connections_per_address == 0) return;
    std::lock_guard lk(conn_mu);
    --conn_total;
    auto it = conn_by_addr.find(addr);
    if (it != conn_by_addr.end() && --it->second == 0) conn_by_addr.erase(it);
  }
  awaitable<Response> await_handler(Exec strand, Request& req, const RouteOptions& ro,
                                    const Handler& handler);
  awaitable<bool> reply_streamed(beast::tcp_stream& stream, const Request& req, Response r,
                                 unsigned version, bool keep_alive, Clock::time_point start,
                                 bool blocking);
  awaitable<void> linger(beast::tcp_stream& stream);
  // A connection's place under the caps: given back when the last holder
  // (its session, or the tunnel it became) lets go.
  struct ConnSlot {
    Impl* impl;
    std::string addr;
    ~ConnSlot() { impl->release(addr); }
  };
  awaitable<void> session(tcp::socket socket, Worker& worker, std::shared_ptr<ConnSlot> slot);

  // ---- the pieces of a session (docs/design.md §13; Beast's do_session) ----
  // What the shutdown closure may touch after the session's frame is gone.
  struct ConnState {
    beast::tcp_stream* stream = nullptr;
    bool idle = true;
  };
  // One connection: its stream, read buffer and deadline, for all its requests.
  struct Conn {
    Worker& worker;
    Exec strand;
    beast::tcp_stream& stream;
    detail::Deadlines::Watch& watch;
    beast::flat_buffer& buffer;
    std::shared_ptr<ConnState> st;
    uint64_t id = 0;
    std::shared_ptr<void> slot;  // the ConnSlot; a tunnel takes a share
    std::string remote;
  };
  // One request on it, from its header to its answer.
  struct Exchange {
    Conn& c;
    bhttp::request_parser<bhttp::string_body>& parser;
    Clock::time_point start;
    Request req{};
    unsigned version = 11;
    bool keep_alive = false;
    bool head = false;
    bool is_ws = false;
    const Router::Route* route = nullptr;  // set once matched
    RouteOptions ro{};
  };
  // After a request: read the next one, close, or the stream is no longer
  // the session's (a tunnel or a WebSocket owns it).
  enum class Next { kNextRequest, kClose, kHandedOff };
  struct SinkFed {
    std::optional<Error> refused;  // the sink or the body limit said no
    bool cut = false;              // the client's body ended early
  };
  awaitable<void> answer_unreadable_head(beast::tcp_stream& stream, boost::system::error_code ec);
  void fill_request(Exchange& x);
  // The guard, 404/405, path parameters, Content-Type and the body limit.
  std::optional<Error> check_route(Exchange& x, Router::Match& m);
  awaitable<Next> serve(Exchange& x);
  awaitable<Next> serve_proxy(Exchange& x);
  awaitable<Next> serve_websocket(Exchange& x);
  awaitable<Next> serve_sink(Exchange& x);
  awaitable<SinkFed> feed_sink(Exchange& x, BodySink& sink);
  awaitable<Next> serve_buffered(Exchange& x);
  awaitable<bool> reply(Exchange& x, Response r);
  awaitable<Next> answer(Exchange& x, Response r, bool body_unread = false);
  // The one place that answers Expect: 100-continue.
  awaitable<void> send_continue(Exchange& x);
};

namespace {

Error body_too_large(size_t limit) {
  return Error::make(codes::kTooLarge, "request body over " + std::to_string(limit) + " bytes");
}

std::string sane_request_id(std::optional<std::string_view> given) {
  if (given && !given->empty() && given->size() <= 64) {
    bool ok = true;
    for (char c : *given)
      if (!(std::isalnum(uint8_t(c)) || c == '-' || c == '_' || c == '.')) ok = false;
    if (ok) return std::string(*given);
  }
  // Unique, not secret: a per-thread generator seeded once from the OS, so a
  // request costs no getrandom(2).
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    auto b = crypto::random_bytes(sizeof seed);
    std::memcpy(&seed, b.data(), std::min(b.size(), sizeof seed));
    return seed;
  }();
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, z >>= 4) id[size_t(i)] = kHex[z & 15];
  return id;
}

bhttp::response<bhttp::string_body> to_beast(Response&& r, unsigned version, bool keep_alive,
                                             const std::string& server, const std::string& rid,
                                             bool head) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  for (auto& [k, v] : r.headers.items()) res.insert(k, v);
  res.set(bhttp::field::server, server);
  res.set("X-Request-Id", rid);
  if (!r.headers.get("Cache-Control")) res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  if (r.is_error && !r.source && rid != "-" && r.body.ends_with("}}")) {
    r.body.insert(r.body.size() - 2, ",\"request_id\":\"" + rid + "\"");  // rid is [A-Za-z0-9._-]
  }
  size_t len = r.source ? size_t(r.source_length.value_or(0)) : r.body.size();
  if (!head) res.body() = std::move(r.body);
  res.content_length(len);
  return res;
}

// One WebSocket connection. Reader runs in the session coroutine; a writer
// coroutine drains the queue. Both live on the connection's strand.
class WsSession : public WsConn, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(beast::tcp_stream stream, Exec strand, size_t max_queue, std::chrono::seconds idle)
      : ws_(std::move(stream)),
        strand_(strand),
        wake_(strand),
        max_queue_(max_queue),
        idle_(idle) {}

  void send_binary(std::string data) override { enqueue(std::move(data), true); }
  void send_text(std::string data) override { enqueue(std::move(data), false); }
  void close(uint16_t code, std::string reason) override {
    asio::dispatch(strand_, [self = shared_from_this(), code, reason = std::move(reason)] {
      if (self->closing_) return;
      self->closing_ = true;
      self->close_code_ = code;
      self->close_reason_ = reason;
      self->wake_.cancel();
    });
  }
  size_t queued_bytes() const override { return queued_.load(); }
  uint64_t dropped_bytes() const override { return dropped_.load(); }

  awaitable<void> run(bhttp::request<bhttp::string_body> req, std::shared_ptr<WsHandler> handler,
                      std::string server_header) {
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = idle_;  // a ping at half of it; closed at all of it
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(
        websocket::stream_base::decorator([server_header](websocket::response_type& res) {
          res.set(bhttp::field::server, server_header);
        }));
    ws_.read_message_max(1 << 20);
    auto [ec] = co_await ws_.async_accept(req, kTuple);
    if (ec) co_return;
    handler_ = std::move(handler);
    handler_->on_open(shared_from_this());
    asio::co_spawn(strand_, writer(), asio::detached);
    beast::flat_buffer buf;
    for (;;) {
      auto [rec, n] = co_await ws_.async_read(buf, kTuple);
      if (rec) break;
      bool binary = ws_.got_binary();
      std::string data = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      handler_->on_message(std::move(data), binary);
    }
    closing_ = true;
    read_done_ = true;
    wake_.cancel();
    handler_->on_close();
    handler_.reset();
  }

 private:
  void enqueue(std::string data, bool binary) {
    asio::dispatch(strand_, [self = shared_from_this(), data = std::move(data), binary]() mutable {
      if (self->closing_) return;
      self->queued_ += data.size();
      self->queue_.push_back({std::move(data), binary});
      // Slow client: drop the oldest queued binary frames (never the newest,
      // never text control frames).
      while (self->queued_ > self->max_queue_) {
        auto it = self->queue_.begin();
        while (it != self->queue_.end() && !it->second) ++it;
        if (it == self->queue_.end() || it + 1 == self->queue_.end()) break;
        self->queued_ -= it->first.size();
        self->dropped_ += it->first.size();
        self->queue_.erase(it);
      }
      self->wake_.cancel();
    });
  }

  awaitable<void> writer() {
    auto self = shared_from_this();
    for (;;) {
      while (queue_.empty() && !closing_) {
        wake_.expires_at(Clock::time_point::max());
        co_await wake_.async_wait(kTuple);
      }
      if (queue_.empty() && closing_) break;
      // Taken off the queue before writing, so the drop policy never touches
      // the frame in flight.
      auto [data, binary] = std::move(queue_.front());
      queue_.pop_front();
      ws_.binary(binary);
      auto [ec, n] = co_await ws_.async_write(asio::buffer(data), kTuple);
      queued_ -= data.size();
      if (ec) {
        closing_ = true;
        co_return;
      }
    }
    if (!read_done_) {
      websocket::close_reason cr(close_code_);
      cr.reason = close_reason_;
      co_await ws_.async_close(cr, kTuple);
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  Exec strand_;
  asio::steady_timer wake_;
  size_t max_queue_;
  std::chrono::seconds idle_;
  std::deque<std::pair<std::string, bool>> queue_;
  std::atomic<size_t> queued_{0};
  std::atomic<uint64_t> dropped_{0};
  bool closing_ = false;
  bool read_done_ = false;
  uint16_t close_code_ = 1000;
  std::string close_reason_;
  std::shared_ptr<WsHandler> handler_;
};

}  // namespace

// Runs the handler (on the handler pool when the route may block), then waits for
// its response (it may answer from another thread) until the route's
// deadline (504 E_TIMEOUT). On the pool, the handler works on its own copy
// of the request, so a deadline passing while it still runs frees nothing
// it uses.
awaitable<Response> Server::Impl::await_handler(Exec strand, Request& req, const RouteOptions& ro,
                                                const Handler& handler) {
  auto slot = std::make_shared<Slot>(strand);
  auto core = std::make_shared<Responder::Core>(strand, slot);
  auto call = [this](const Handler& h, Request& rq, std::shared_ptr<Responder::Core> c) {
    try {
      h(rq, Responder(c));
    } catch (const std::exception& e) {
      log::error(opts.component, "handler threw",
                 {{"error", e.what()}, {"request_id", rq.request_id}});
      c->deliver(Response::error(Error::make(codes::kInternal, "internal error")));
    }
  };
  if (handler_pool && ro.blocking) {
    auto job = std::make_shared<Request>(req);
    asio::post(*handler_pool, [call, h = handler, job, c = std::move(core)]() mutable {
      call(h, *job, std::move(c));
    });
  } else {
    call(handler, req, std::move(core));
  }
  auto deadline = Clock::now() + ro.deadline;
  while (!slot->response && Clock::now() < deadline) {
    slot->timer.expires_at(deadline);
    co_await slot->timer.async_wait(kTuple);
  }
  if (slot->response) co_return std::move(*slot->response);
  co_return Response::error(Error::make(codes::kTimeout, "request deadline exceeded"));
}

// Sends a response whose body comes from a BodySource, piece by piece.
// Returns false when the connection cannot be reused.
awaitable<bool> Server::Impl::reply_streamed(beast::tcp_stream& stream, const Request& req,
                                             Response r, unsigned version, bool keep_alive,
                                             Clock::time_point start, bool blocking) {
  bhttp::response<bhttp::buffer_body> res{static_cast<bhttp::status>(r.status), version};
  for (auto& [k, v] : r.headers.items()) res.insert(k, v);
  res.set(bhttp::field::server, opts.server_header);
  res.set("X-Request-Id", req.request_id);
  if (!r.headers.get("Cache-Control")) res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  if (r.source_length)
    res.content_length(*r.source_length);
  else
    res.chunked(true);
  res.body().data = nullptr;
  res.body().more = true;
  bhttp::response_serializer<bhttp::buffer_body> sr{res};
  stream.expires_after(opts.write_timeout);
  auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, kTuple);
  if (hec) {
    record(req, r.status, start, 0);
    co_return false;
  }
  std::vector<char> buf(256 * 1024);
  uint64_t sent = 0;
  bool ok = true;
  for (;;) {
    size_t cap = buf.size();
    if (r.source_length) cap = size_t(std::min<uint64_t>(cap, *r.source_length - sent));
    size_t got = 0;
    if (cap > 0) {
      auto n = co_await offload(blocking, [&] { return r.source->read(buf.data(), cap); });
      if (!n) {
        log::warn(opts.component, "response body failed",
                  {{"error", n.error().message}, {"request_id", req.request_id}});
        ok = false;
        break;
      }
      got = *n;
    }
    res.body().data = got ? buf.data() : nullptr;
    res.body().size = got;
    res.body().more = got > 0;
    stream.expires_after(opts.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, sr, kTuple);
    if (wec == bhttp::error::need_buffer) wec = {};
    if (wec) {
      ok = false;
      break;
    }
    sent += got;
    if (got == 0) break;
  }
  if (r.source_length && sent != *r.source_length) ok = false;  // the source ended early
  record(req, r.status, start, size_t(sent));
  co_return ok&& keep_alive;
}

// After refusing a body mid-way: read and drop a bounded amount of what the
// client is still sending, so it can read the answer before the close
// (closing with unread data would reset the connection and lose it).
awaitable<void> Server::Impl::linger(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(5));
  std::vector<char> sink(64 * 1024);
  size_t drained = 0;
  while (drained < (size_t(64) << 20)) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (rec) break;
    drained += n;
  }
}

awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    Worker& w = *workers[next_worker++ % workers.size()];  // round robin
    auto [ec, socket] = co_await acceptor->async_accept(w.ioc, kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning (L5).
      log::warn(opts.component, "accept failed", {{"error", ec.message()}});
      if (opts.metrics) opts.metrics->add("zlh_http_accept_errors_total", "");
      asio::steady_timer t(main(), std::chrono::milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    std::string addr;
    {
      boost::system::error_code aec;
      auto ep = socket.remote_endpoint(aec);
      if (!aec) addr = ep.address().to_string();
    }
    if (!admit(addr)) {
      boost::system::error_code cec;
      socket.close(cec);
      if (opts.metrics) opts.metrics->add("zlh_http_connections_refused_total", "");
      continue;
    }
    std::shared_ptr<ConnSlot> slot(new ConnSlot{this, addr});
    asio::co_spawn(w.ioc, session(std::move(socket), w, std::move(slot)),
                   [this](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log::error(opts.component, "session failed", {{"error", ex.what()}});
                     }
                   });
  }
}

// ---- one connection: read → route → guard → serve ----------------------

awaitable<void> Server::Impl::session(tcp::socket socket, Worker& worker,
                                      std::shared_ptr<ConnSlot> slot) {
  std::string remote;
  {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
  }
  {
    // Responses may leave in more than one write (streamed bodies, the
    // proxy): without this, Nagle and the peer's delayed ACK add 40 ms.
    boost::system::error_code nec;
    socket.set_option(tcp::no_delay(true), nec);
  }
  beast::tcp_stream stream(std::move(socket));
  detail::Deadlines::Watch watch(worker.deadlines, stream.socket());
  beast::flat_buffer buffer;
  Conn c{worker,           worker.ioc.get_executor(),     stream, watch,
         buffer,           std::make_shared<ConnState>(), 0,      std::move(slot),
         std::move(remote)};
  // Shared with the shutdown closure, which may run on this strand after the
  // coroutine is gone: it only touches the stream while `stream` is set.
  c.st->stream = &stream;
  c.id = register_conn(c.strand, [st = c.st] {
    if (st->stream && st->idle) {
      boost::system::error_code ec;
      st->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      st->stream->socket().close(ec);
    }
  });
  struct Unregister {
    Impl* impl;
    uint64_t id;
    std::shared_ptr<ConnState> st;
    ~Unregister() {
      st->stream = nullptr;
      impl->unregister_conn(id);
    }
  } unregister{this, c.id, c.st};

  for (;;) {
    if (shutting_down) break;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(uint32_t(opts.header_limit));
    parser.body_limit(boost::none);
    c.st->idle = true;
    // The header through the socket's own reads with a deadline: the hot
    // path arms no timer (beast::tcp_stream would, around every read).
    auto ec = co_await detail::read_head(stream.socket(), watch, buffer, parser, opts.idle_timeout);
    c.st->idle = false;
    const auto start = Clock::now();
    if (ec) {
      co_await answer_unreadable_head(stream, ec);
      break;
    }
    Exchange x{c, parser, start};
    const Next next = co_await serve(x);
    if (next == Next::kHandedOff) co_return;  // the stream belongs to a tunnel or a WebSocket
    if (next == Next::kClose) break;
  }
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> Server::Impl::answer_unreadable_head(beast::tcp_stream& stream,
                                                     boost::system::error_code ec) {
  std::optional<Response> r;
  if (ec == bhttp::error::header_limit)
    r = Response::error(Error::make(codes::kTooLarge, "request headers too large"));
  else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
           ec != asio::error::operation_aborted && ec != asio::error::connection_reset &&
           ec != asio::error::eof && ec != asio::error::bad_descriptor)
    r = Response::error(Error::make(codes::kInvalid, "malformed request"));
  if (!r) co_return;  // the peer left or went quiet: nothing to answer
  auto res = to_beast(std::move(*r), 11, false, opts.server_header, "-", false);
  if (ec == bhttp::error::header_limit) res.result(bhttp::status::request_header_fields_too_large);
  stream.expires_after(opts.write_timeout);
  co_await bhttp::async_write(stream, res, kTuple);
}

void Server::Impl::fill_request(Exchange& x) {
  auto& hdr = x.parser.get();
  Request& req = x.req;
  req.method = std::string(hdr.method_string());
  req.target = std::string(hdr.target());
  auto qpos = req.target.find('?');
  req.path = req.target.substr(0, qpos);
  if (qpos != std::string::npos) req.query = req.target.substr(qpos + 1);
  req.headers.reserve(size_t(std::distance(hdr.begin(), hdr.end())));
  for (const auto& f : hdr) req.headers.add(std::string(f.name_string()), std::string(f.value()));
  req.remote_addr = opts.trusted_proxies
                        ? net::client_address(x.c.remote, req.headers.get("X-Forwarded-For"),
                                              *opts.trusted_proxies)
                        : x.c.remote;
  req.request_id = sane_request_id(req.headers.get("X-Request-Id"));
  x.keep_alive = hdr.keep_alive() && !shutting_down;
  x.version = hdr.version();
  x.head = hdr.method() == bhttp::verb::head;
  x.is_ws = websocket::is_upgrade(hdr);
}

std::optional<Error> Server::Impl::check_route(Exchange& x, Router::Match& m) {
  const bool found = m.kind == Router::MatchKind::kFound;
  if (!(found && x.ro.is_public) && router.guard())
    if (auto e = router.guard()(x.req)) return e;
  if (m.kind == Router::MatchKind::kNotFound)
    return Error::make(codes::kNotFound, "no route for " + x.req.method + " " + x.req.path);
  if (m.kind == Router::MatchKind::kMethodNotAllowed)
    return Error::make(codes::kMethodNotAllowed, "method " + x.req.method + " not allowed");
  // Decoded in place, then handed over (no copy of the names).
  for (auto& [k, v] : m.params) {
    auto d = url_decode(v, false);
    if (!d) return Error::make(codes::kBadPath, "path parameter " + k + ": " + d.error().message);
    v = std::move(*d);
  }
  x.req.params = std::move(m.params);
  if (x.ro.json_body && !x.parser.is_done() && !is_json_type(x.req.headers.get("Content-Type")))
    return Error::make(codes::kUnsupportedMedia,
                       "the body must be JSON (Content-Type: application/json)");
  if (x.parser.content_length() && *x.parser.content_length() > x.ro.body_limit)
    return body_too_large(x.ro.body_limit);
  return std::nullopt;
}

awaitable<Server::Impl::Next> Server::Impl::serve(Exchange& x) {
  fill_request(x);
  const Request& req = x.req;
  if (req.path.empty() || req.path.front() != '/' || req.path.find('\0') != std::string::npos) {
    x.keep_alive = false;
    co_return co_await answer(x,
                              Response::error(Error::make(codes::kInvalid, "bad request target")));
  }
  auto m = router.match(req.method, req.path, x.is_ws);
  if (x.is_ws && m.kind != Router::MatchKind::kFound) {
    // A non-WebSocket route asked for an upgrade: answer it as plain HTTP.
    m = router.match(req.method, req.path, false);
    x.is_ws = false;
  }
  if (m.kind == Router::MatchKind::kFound) {
    x.route = m.route;
    x.req.route = m.route->pattern;
    x.ro = m.route->options;
  }
  if (auto early = check_route(x, m)) {
    // The body was not read; the connection cannot be reused unless it had none.
    const bool has_body = !x.parser.is_done();
    if (has_body) x.keep_alive = false;
    Response r = Response::error(*early);
    if (early->code == codes::kMethodNotAllowed) r.headers.set("Allow", m.allow);
    co_return co_await answer(x, std::move(r), has_body);
  }
  if (x.route->proxy) co_return co_await serve_proxy(x);
  if (x.is_ws) co_return co_await serve_websocket(x);
  if (x.route->sink) co_return co_await serve_sink(x);
  co_return co_await serve_buffered(x);
}

awaitable<bool> Server::Impl::reply(Exchange& x, Response r) {
  if (r.source && !x.head)
    co_return co_await reply_streamed(x.c.stream, x.req, std::move(r), x.version, x.keep_alive,
                                      x.start, x.ro.blocking);
  const int status = r.status;
  const size_t bytes = r.body.size();
  auto res =
      to_beast(std::move(r), x.version, x.keep_alive, opts.server_header, x.req.request_id, x.head);
  x.c.stream.expires_after(opts.write_timeout);
  auto [wec, wn] = co_await bhttp::async_write(x.c.stream, res, kTuple);
  record(x.req, status, x.start, bytes);
  co_return !wec;
}

// A client still sending a refused body reads the answer only if the close
// does not reset the connection first, so what it sends is drained after
// the answer (body_unread).
awaitable<Server::Impl::Next> Server::Impl::answer(Exchange& x, Response r, bool body_unread) {
  const bool sent = co_await reply(x, std::move(r));
  if (sent && body_unread) co_await linger(x.c.stream);
  co_return sent&& x.keep_alive ? Next::kNextRequest : Next::kClose;
}

awaitable<void> Server::Impl::send_continue(Exchange& x) {
  auto expect = x.req.headers.get("Expect");
  if (!expect || !strings::iequals(*expect, "100-continue")) co_return;
  bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, x.version};
  x.c.stream.expires_after(opts.write_timeout);
  co_await bhttp::async_write(x.c.stream, cont, kTuple);
}

awaitable<Server::Impl::Next> Server::Impl::serve_proxy(Exchange& x) {
  // A route whose factory waits (a store lookup, an audit write) runs it on
  // the handler pool (RouteOptions::blocking); the proxying itself stays on
  // this io thread.
  ProxyPlan plan = co_await offload(x.ro.blocking, [&]() -> ProxyPlan {
    try {
      return x.route->proxy(x.req);
    } catch (const std::exception& e) {
      log::error(opts.component, "proxy route threw",
                 {{"error", e.what()}, {"request_id", x.req.request_id}});
      ProxyPlan p;
      p.response = Response::error(Error::make(codes::kInternal, "internal error"));
      return p;
    }
  });
  if (!plan.upstream) {
    const bool has_body = !x.parser.is_done();
    if (has_body || x.is_ws) x.keep_alive = false;
    co_return co_await answer(x, std::move(plan.response), has_body);
  }
  Conn& c = x.c;
  detail::ProxyIo io{
      c.stream,           c.watch,      c.buffer, x.parser,        x.req,
      x.version,          x.keep_alive, x.is_ws,  x.ro.body_limit, opts.write_timeout,
      c.worker.deadlines, c.slot};
  auto out = co_await detail::run_proxy(io, *plan.upstream, c.worker.upstreams);
  if (out.answer) {
    x.keep_alive = out.keep_alive;
    co_return co_await answer(x, std::move(*out.answer));
  }
  if (out.handed_off) {
    record(x.req, 101, x.start, 0);
    co_return Next::kHandedOff;
  }
  record(x.req, out.status ? out.status : 502, x.start, size_t(out.bytes));
  co_return out.upgraded || !out.keep_alive ? Next::kClose : Next::kNextRequest;
}

awaitable<Server::Impl::Next> Server::Impl::serve_websocket(Exchange& x) {
  auto handler = co_await offload(x.ro.blocking, [&] { return x.route->ws(x.req); });
  if (!handler) {
    x.keep_alive = false;
    co_return co_await answer(x, Response::error(handler.error()));
  }
  record(x.req, 101, x.start, 0);
  Conn& c = x.c;
  c.stream.expires_never();
  c.st->stream = nullptr;
  auto ws = std::make_shared<WsSession>(std::move(c.stream), c.strand, x.ro.ws_max_queue_bytes,
                                        opts.ws_idle_timeout);
  {
    // Shutdown closes WebSockets with 1001 "going away".
    std::lock_guard lk(conns_mu);
    conns.at(c.id).close_if_idle = [weak = std::weak_ptr<WsSession>(ws)] {
      if (auto s = weak.lock()) s->close(1001, "server shutting down");
    };
  }
  if (shutting_down) ws->close(1001, "server shutting down");
  co_await ws->run(x.parser.release(), std::move(*handler), opts.server_header);
  co_return Next::kHandedOff;
}

awaitable<Server::Impl::Next> Server::Impl::serve_sink(Exchange& x) {
  // Streaming body: refuse before reading it, else feed the sink as it comes.
  auto sink = co_await offload(x.ro.blocking, [&] { return x.route->sink(x.req); });
  if (!sink) {
    const bool has_body = !x.parser.is_done();
    if (has_body) x.keep_alive = false;
    co_return co_await answer(x, Response::error(sink.error()), has_body);
  }
  co_await send_continue(x);
  const auto fed = co_await feed_sink(x, **sink);
  if (fed.cut) {
    sink->reset();  // undoes the partial work before anyone sees an answer
    record(x.req, 400, x.start, 0);
    co_return Next::kClose;
  }
  if (fed.refused) {
    sink->reset();
    x.keep_alive = false;
    co_return co_await answer(x, Response::error(*fed.refused), true);
  }
  // The handler may outlive this frame (a deadline passing): it owns the sink.
  std::shared_ptr<BodySink> done_sink(std::move(*sink));
  // A named handler, not a temporary in the co_await expression: GCC 12
  // destroyed that temporary twice (ASan: the sink's count released one
  // time too many).
  const Handler finish = [done_sink](Request& rq, Responder res) {
    done_sink->finish(rq, std::move(res));
  };
  auto r = co_await await_handler(x.c.strand, x.req, x.ro, finish);
  if (r.status == 504 && !r.source) x.keep_alive = false;
  co_return co_await answer(x, std::move(r));
}

awaitable<Server::Impl::SinkFed> Server::Impl::feed_sink(Exchange& x, BodySink& sink) {
  Conn& c = x.c;
  bhttp::request_parser<bhttp::buffer_body> bp{std::move(x.parser)};
  bp.body_limit(x.ro.body_limit);
  // Beast reads at most the buffer's free space (512 bytes after a small
  // header); give it room for 64 KiB reads, and give it back afterwards.
  c.buffer.reserve(c.buffer.size() + 64 * 1024);
  struct Shrink {
    beast::flat_buffer& b;
    ~Shrink() { b.shrink_to_fit(); }
  } shrink{c.buffer};
  std::vector<char> chunk(256 * 1024);
  SinkFed fed;
  while (!bp.is_done()) {
    bp.get().body().data = chunk.data();
    bp.get().body().size = chunk.size();
    c.stream.expires_after(opts.read_timeout);
    auto [bec, bn] = co_await bhttp::async_read_some(c.stream, c.buffer, bp, kTuple);
    if (bec == bhttp::error::need_buffer) bec = {};
    if (const size_t got = chunk.size() - bp.get().body().size) {
      auto w = co_await offload(x.ro.blocking, [&] { return sink.write({chunk.data(), got}); });
      if (!w) {
        fed.refused = w.error();
        co_return fed;
      }
    }
    if (bec == bhttp::error::body_limit) {
      fed.refused = body_too_large(x.ro.body_limit);
      co_return fed;
    }
    if (bec) {
      fed.cut = true;
      co_return fed;
    }
  }
  co_return fed;
}

awaitable<Server::Impl::Next> Server::Impl::serve_buffered(Exchange& x) {
  Conn& c = x.c;
  if (!x.parser.is_done()) {
    co_await send_continue(x);
    x.parser.body_limit(x.ro.body_limit);
    if (x.parser.content_length().value_or(65536) >= 65536)
      c.buffer.reserve(c.buffer.size() + 64 * 1024);
    c.stream.expires_after(opts.read_timeout);
    auto [bec, bn] = co_await bhttp::async_read(c.stream, c.buffer, x.parser, kTuple);
    if (bec == bhttp::error::body_limit) {
      x.keep_alive = false;
      co_return co_await answer(x, Response::error(body_too_large(x.ro.body_limit)), true);
    }
    if (bec) {
      record(x.req, 400, x.start, 0);
      co_return Next::kClose;
    }
  }
  x.req.body = std::move(x.parser.get().body());
  if (c.buffer.capacity() > 16 * 1024) c.buffer.shrink_to_fit();
  Response r = co_await await_handler(c.strand, x.req, x.ro, x.route->handler);
  if (r.status == 504 && !r.source) x.keep_alive = false;
  co_return co_await answer(x, std::move(r));
}

Server::Server(Router router, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(router), std::move(options))) {
  if (impl_->opts.metrics) {
    impl_->opts.metrics->describe("zlh_http_requests_total", "counter",
                                  "HTTP requests by route and status");
    impl_->opts.metrics->describe("zlh_http_request_duration_seconds_sum", "counter",
                                  "Total seconds spent answering requests");
    impl_->opts.metrics->describe("zlh_http_request_duration_seconds_count", "counter",
                                  "Requests answered");
  }
}

Server::~Server() = default;

Result<void> Server::listen() {
  if (impl_->opts.listen_fd >= 0) {
    int fd = impl_->opts.listen_fd;
    int accepting = 0;
    socklen_t len = sizeof accepting;
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0)
      return fail(codes::kIo, "listen fd " + std::to_string(fd) + ": not a listening socket");
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // never handed on to the services the agent starts
    boost::system::error_code ec;
    impl_->acceptor->assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) return fail(codes::kIo, "listen fd " + std::to_string(fd) + ": " + ec.message());
    return {};
  }
  auto hp = split_host_port(impl_->opts.listen);
  if (!hp) return fail(hp.error());
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp->first, ec);
  if (ec) return fail(codes::kInvalid, "address: bad host " + hp->first);
  tcp::endpoint ep(addr, hp->second);
  auto& a = *impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(codes::kIo, "listen " + impl_->opts.listen + ": " + ec.message());
  return {};
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::run(int threads, bool handle_signals) {
  Impl* impl = impl_.get();
  if (handle_signals) {
    impl->signals->add(SIGTERM);
    impl->signals->add(SIGINT);
    impl->signals->async_wait([impl](boost::system::error_code ec, int sig) {
      if (ec) return;
      log::info(impl->opts.component, "signal received", {{"signal", sig}});
      impl->begin_shutdown();
    });
  }
  threads = std::clamp(threads, 1, Impl::kMaxIoThreads);
  while (impl->workers.size() < size_t(threads))
    impl->workers.push_back(std::make_unique<Impl::Worker>());
  // Until the shutdown stops them, io threads wait for connections to come.
  std::vector<asio::executor_work_guard<Exec>> keep;
  for (auto& w : impl->workers) keep.emplace_back(w->ioc.get_executor());
  asio::co_spawn(impl->main(), impl->accept_loop(), asio::detached);
  // An io thread batches its log records (the access log): the first record
  // of a batch posts a flush behind the handlers that are ready then, so a
  // busy server hands the writer one batch per turn of ready work and an
  // idle one is never behind. The thread stays in run(): each poll() or
  // run_one() call made Asio drop its per-thread cache of freed coroutine
  // frames and handler memory on return, so every request went back to
  // malloc for them.
  auto serve = [](asio::io_context& ioc) {
    log::ThreadBuffer batched([&ioc] { asio::post(ioc, [] { log::flush_thread(); }); });
    ioc.run();
  };
  std::vector<std::thread> pool;
  for (size_t i = 1; i < impl->workers.size(); ++i)
    pool.emplace_back([w = impl->workers[i].get(), serve] { serve(w->ioc); });
  serve(impl->main());
  impl->stop_all();
  for (auto& t : pool) t.join();
}

void Server::stop() {
  asio::post(impl_->main(), [impl = impl_.get()] { impl->begin_shutdown(); });
}

void Server::on_shutdown(std::function<void()> f) {
  impl_->shutdown_callbacks.push_back(std::move(f));
}

void Server::post(std::function<void()> f) { asio::post(impl_->main(), std::move(f)); }

}  // namespace zlh::http
