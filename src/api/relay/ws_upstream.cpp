// Beast WebSocket client templates for the console relay live in this
// translation unit.
#include "api/relay/ws_upstream.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <future>
#include <thread>

#include "base/log.hpp"
#include "http/client.hpp"

namespace zlh::api::relay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

namespace {
std::atomic<int64_t> g_live{0};

// Codes an endpoint may put in a close frame (RFC 6455 §7.4).
bool sendable(uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}
}  // namespace

struct WsUpstreamIo::Impl {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::thread thread;
};

WsUpstreamIo::WsUpstreamIo() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([io = impl_.get()] {
    for (;;) {
      try {
        io->ioc.run();
        return;
      } catch (const std::exception& e) {
        // One relay's failure must not end every other console.
        log::error("relay", "console relay handler threw", {{"error", e.what()}});
      }
    }
  });
}

WsUpstreamIo::~WsUpstreamIo() {
  impl_->work.reset();
  impl_->ioc.stop();
  impl_->thread.join();
}

// Lives on the I/O thread: every member below is touched only there.
struct WsUpstream::Impl : std::enable_shared_from_this<WsUpstream::Impl> {
  Impl(asio::io_context& ioc, size_t max_queue) : ws(ioc), max_queue(max_queue) { ++g_live; }
  ~Impl() { --g_live; }

  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer rbuf;
  size_t max_queue;
  Callbacks cb;
  std::deque<std::pair<std::string, bool>> queue;
  size_t queued = 0;
  std::string in_flight;  // off the queue while it is written
  bool reading = false;
  bool writing = false;
  bool close_wanted = false;
  bool close_sent = false;
  bool finished = false;
  uint16_t close_code = 1000;
  std::string close_reason;

  void begin_read() {
    reading = true;
    ws.async_read(rbuf, [self = shared_from_this()](ErrorCode ec, size_t) { self->on_read(ec); });
  }

  void on_read(ErrorCode ec) {
    reading = false;
    if (ec) {
      if (close_sent) return end(close_code, close_reason);
      if (ec == websocket::error::closed)
        return end(ws.reason().code,
                   std::string(ws.reason().reason.data(), ws.reason().reason.size()));
      return end(1011,
                 ec == beast::error::timeout ? "agent stopped answering" : "agent connection lost");
    }
    std::string data = beast::buffers_to_string(rbuf.data());
    rbuf.consume(rbuf.size());
    if (cb.on_message) cb.on_message(std::move(data), ws.got_binary());
    if (!finished) begin_read();
  }

  void end(uint16_t code, std::string reason) {
    if (finished) return;
    finished = true;
    queue.clear();
    queued = 0;
    auto on_close = std::move(cb.on_close);
    cb = {};
    ErrorCode ignored;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws).socket().close(ignored);
    if (on_close) on_close(code, std::move(reason));
  }

  void request_close(uint16_t code, std::string reason) {
    if (finished || close_wanted) return;
    close_wanted = true;
    close_code = sendable(code) ? code : 1000;
    close_reason = reason.substr(0, 120);  // a close frame holds at most 123 bytes of reason
    pump();
  }

  // The write side: queued frames in order, then the close frame.
  void pump() {
    if (writing || finished) return;
    if (!queue.empty()) {
      auto [data, binary] = std::move(queue.front());
      queue.pop_front();
      queued -= data.size();
      in_flight = std::move(data);
      writing = true;
      ws.binary(binary);
      ws.async_write(asio::buffer(in_flight), [self = shared_from_this()](ErrorCode ec, size_t) {
        self->writing = false;
        self->in_flight.clear();
        if (ec)
          return self->end(self->close_sent ? self->close_code : 1011, "agent connection lost");
        self->pump();
      });
      return;
    }
    if (close_wanted && !close_sent) {
      close_sent = true;
      writing = true;
      websocket::close_reason cr(close_code);
      cr.reason = close_reason;
      ws.async_close(cr, [self = shared_from_this()](ErrorCode) {
        self->writing = false;
        // With a read pending, that read sees the agent's answer and ends us.
        if (!self->reading) self->end(self->close_code, self->close_reason);
      });
    }
  }
};

Result<std::unique_ptr<WsUpstream>> WsUpstream::connect(WsUpstreamIo& io, std::string_view url,
                                                        const http::Headers& headers,
                                                        std::chrono::milliseconds timeout,
                                                        Refusal* refusal, size_t max_queue_bytes) {
  auto u = http::parse_url(url);
  if (!u) return fail(u.error());
  if (u->scheme != "ws") return fail(codes::kInvalid, "url: only ws://");
  ErrorCode ec;
  tcp::endpoint ep;
  if (auto addr = asio::ip::make_address(u->host, ec); !ec) {
    ep = tcp::endpoint(addr, u->port);
  } else {
    tcp::resolver resolver(io.impl().ioc);
    auto results = resolver.resolve(u->host, std::to_string(u->port), ec);
    if (ec || results.empty())
      return fail(codes::kUpstream, "resolve " + u->host + ": " + ec.message());
    ep = *results.begin();
  }
  std::string host = (u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host) +
                     ":" + std::to_string(u->port);

  auto impl = std::make_shared<Impl>(io.impl().ioc, max_queue_bytes);
  // Shared with the handlers, which may finish after this call gave up.
  struct State {
    std::promise<ErrorCode> done;
    websocket::response_type res;
  };
  auto st = std::make_shared<State>();
  auto fut = st->done.get_future();
  asio::post(io.impl().ioc, [impl, st, ep, host, target = u->target, headers, timeout] {
    auto& stream = beast::get_lowest_layer(impl->ws);
    stream.expires_after(timeout);
    stream.async_connect(ep, [impl, st, host, target, headers, timeout](ErrorCode ec) {
      if (ec) return st->done.set_value(ec);
      // From here on the WebSocket's own timeouts apply (Beast wants the
      // TCP stream's off): the handshake and the close handshake bounded by
      // `timeout`, and pings to notice an agent that went away silently.
      beast::get_lowest_layer(impl->ws).expires_never();
      websocket::stream_base::timeout t;
      t.handshake_timeout = timeout;
      t.idle_timeout = std::chrono::seconds(60);
      t.keep_alive_pings = true;
      impl->ws.set_option(t);
      impl->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
        for (const auto& [k, v] : headers.items()) r.set(k, v);
        r.set(beast::http::field::user_agent, "zlh-api");
      }));
      impl->ws.read_message_max(8 << 20);
      impl->ws.async_handshake(st->res, host, target,
                               [st](ErrorCode ec) { st->done.set_value(ec); });
    });
  });
  if (fut.wait_for(2 * timeout + std::chrono::seconds(1)) != std::future_status::ready)
    return fail(codes::kTimeout, "agent console: connect timed out");
  ec = fut.get();
  if (ec) {
    if (ec == websocket::error::upgrade_declined) {
      if (refusal) {
        refusal->status = int(st->res.result_int());
        refusal->body = st->res.body();
      }
      return fail(codes::kUpstream,
                  "agent console: upgrade refused with " + std::to_string(st->res.result_int()));
    }
    if (ec == beast::error::timeout)
      return fail(codes::kTimeout, "agent console: connect timed out");
    return fail(codes::kUpstream, "agent console: " + ec.message());
  }
  return std::unique_ptr<WsUpstream>(new WsUpstream(std::move(impl)));
}

WsUpstream::~WsUpstream() { close(1001, "going away"); }

void WsUpstream::start(Callbacks cb) {
  asio::post(impl_->ws.get_executor(), [self = impl_, cb = std::move(cb)]() mutable {
    if (self->finished) return;
    self->cb = std::move(cb);
    // After a close frame went out, Beast's close operation reads the answer.
    if (!self->close_wanted && !self->reading) self->begin_read();
  });
}

void WsUpstream::send(std::string data, bool binary) {
  asio::post(impl_->ws.get_executor(), [self = impl_, data = std::move(data), binary]() mutable {
    if (self->finished || self->close_wanted) return;
    self->queued += data.size();
    self->queue.push_back({std::move(data), binary});
    if (self->queued > self->max_queue) {
      self->queue.clear();
      self->queued = 0;
      return self->request_close(1008, "input backlog: the agent is not reading");
    }
    self->pump();
  });
}

void WsUpstream::close(uint16_t code, std::string reason) {
  asio::post(impl_->ws.get_executor(), [self = impl_, code, reason = std::move(reason)]() mutable {
    self->request_close(code, std::move(reason));
  });
}

int64_t WsUpstream::live() { return g_live.load(); }

}  // namespace zlh::api::relay
