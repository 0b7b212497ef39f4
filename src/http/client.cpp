// Beast client templates live in this translation unit.
#include "http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>

#include "http/beast_names.hpp"

namespace zlh::http {

Result<Url> parse_url(std::string_view url) {
  Url u;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return fail(codes::kInvalid, "url: missing scheme");
  u.scheme = std::string(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "ws")
    return fail(codes::kInvalid, "url: only http:// and ws://");
  std::string_view rest = url.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target.front() == '?') u.target = "/" + u.target;
  if (authority.empty()) return fail(codes::kInvalid, "url: missing host");
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(codes::kInvalid, "url: bad IPv6 host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return fail(codes::kInvalid, "url: bad port");
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  u.host = std::string(host);
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
      return fail(codes::kInvalid, "url: bad port");
    u.port = uint16_t(v);
  }
  return u;
}

namespace {
std::string host_header(const Url& u) {
  std::string h = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  return h + ":" + std::to_string(u.port);
}

Error from_ec(std::string_view what, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout)
    return Error::make(codes::kTimeout, std::string(what) + ": timed out");
  return Error::make(codes::kUpstream, std::string(what) + ": " + ec.message());
}
}  // namespace

Result<ClientResponse> request(std::string_view method, std::string_view url,
                               const Headers& headers, std::string body,
                               std::chrono::milliseconds timeout) {
  auto u = parse_url(url);
  if (!u) return fail(u.error());
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  Result<ClientResponse> result = fail(codes::kInternal, "request did not run");

  bhttp::request<bhttp::string_body> req;
  req.method_string(std::string(method));
  req.target(u->target);
  req.version(11);
  req.set(bhttp::field::host, host_header(*u));
  req.set(bhttp::field::user_agent, "zlh");
  for (auto& [k, v] : headers.items()) req.set(k, v);
  req.body() = std::move(body);
  if (!req.body().empty() || method == "POST" || method == "PUT" || method == "PATCH")
    req.prepare_payload();
  req.keep_alive(false);

  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        constexpr auto tok = asio::as_tuple(asio::use_awaitable);
        auto [rec, results] =
            co_await resolver.async_resolve(u->host, std::to_string(u->port), tok);
        if (rec) {
          result = fail(from_ec("resolve", rec));
          co_return;
        }
        stream.expires_after(timeout);
        auto [cec, ep] = co_await stream.async_connect(results, tok);
        if (cec) {
          result = fail(from_ec("connect", cec));
          co_return;
        }
        auto [wec, wn] = co_await bhttp::async_write(stream, req, tok);
        if (wec) {
          result = fail(from_ec("write", wec));
          co_return;
        }
        beast::flat_buffer buf;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(1ull << 32);
        if (bhttp::string_to_verb(method) == bhttp::verb::head) parser.skip(true);
        auto [rdec, rn] = co_await bhttp::async_read(stream, buf, parser, tok);
        if (rdec) {
          result = fail(from_ec("read", rdec));
          co_return;
        }
        ClientResponse out;
        auto& res = parser.get();
        out.status = int(res.result_int());
        for (const auto& f : res)
          out.headers.add(std::string(f.name_string()), std::string(f.value()));
        out.body = std::move(res.body());
        result = std::move(out);
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      },
      asio::detached);
  ioc.run();
  return result;
}

namespace {

constexpr size_t kPiece = 64 * 1024;
constexpr size_t kErrorBodyCap = 64 * 1024;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// One streaming call: its connection and deadlines.
struct Transfer {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  StreamDeadlines d;
  std::chrono::steady_clock::time_point end = std::chrono::steady_clock::time_point::max();

  explicit Transfer(StreamDeadlines dl) : d(dl) {
    if (d.total) end = std::chrono::steady_clock::now() + *d.total;
  }
  // Arms the timer for the next wait: idle, or what is left of total.
  void arm() {
    auto t = std::chrono::duration_cast<std::chrono::milliseconds>(d.idle);
    if (d.total) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      t = std::max(std::chrono::milliseconds(0), std::min(t, left));
    }
    stream.expires_after(t);
  }
  void close() {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }
};

asio::awaitable<Result<void>> connect_to(Transfer& t, const Url& u) {
  tcp::resolver resolver(t.ioc);
  auto [rec, results] = co_await resolver.async_resolve(u.host, std::to_string(u.port), kTok);
  if (rec) co_return fail(from_ec("resolve", rec));
  t.arm();
  auto [cec, ep] = co_await t.stream.async_connect(results, kTok);
  if (cec) co_return fail(from_ec("connect", cec));
  co_return Result<void>{};
}

template <class Message>
void set_request_head(Message& req, std::string_view method, const Url& u, const Headers& h) {
  req.method_string(std::string(method));
  req.target(u.target);
  req.version(11);
  req.set(bhttp::field::host, host_header(u));
  req.set(bhttp::field::user_agent, "zlh");
  for (auto& [k, v] : h.items()) req.set(k, v);
  req.keep_alive(false);
}

// Reads the response: its body goes to `sink` when given and the status is
// 2xx, else (capped) into the returned body.
asio::awaitable<Result<ClientResponse>> read_response(Transfer& t, const BodySinkFn* sink) {
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> p;
  p.body_limit(boost::none);
  t.arm();
  if (auto [ec, n] = co_await bhttp::async_read_header(t.stream, buf, p, kTok); ec)
    co_return fail(from_ec("read", ec));
  ClientResponse out;
  out.status = int(p.get().result_int());
  for (const auto& f : p.get())
    out.headers.add(std::string(f.name_string()), std::string(f.value()));
  const bool stream_it = sink && out.status / 100 == 2;
  std::vector<char> piece(kPiece);
  while (!p.is_done()) {
    p.get().body().data = piece.data();
    p.get().body().size = piece.size();
    t.arm();
    auto [ec, n] = co_await bhttp::async_read(t.stream, buf, p, kTok);
    if (ec == bhttp::error::need_buffer) ec = {};
    const size_t got = piece.size() - p.get().body().size;
    if (got > 0 && stream_it) {
      if (auto r = (*sink)(std::string_view(piece.data(), got)); !r) co_return fail(r.error());
    } else if (got > 0 && out.body.size() < kErrorBodyCap) {
      out.body.append(piece.data(), std::min(got, kErrorBodyCap - out.body.size()));
    }
    if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream)
      co_return fail(codes::kUpstream, "read: the response body was cut short");
    if (ec) co_return fail(from_ec("read", ec));
  }
  co_return out;
}

asio::awaitable<Result<ClientResponse>> do_download(Transfer& t, const Url& u,
                                                    std::string_view method, const Headers& h,
                                                    const BodySinkFn& sink) {
  if (auto c = co_await connect_to(t, u); !c) co_return fail(c.error());
  bhttp::request<bhttp::empty_body> req;
  set_request_head(req, method, u, h);
  t.arm();
  if (auto [ec, n] = co_await bhttp::async_write(t.stream, req, kTok); ec)
    co_return fail(from_ec("write", ec));
  co_return co_await read_response(t, &sink);
}

// Sends the chunked body; an error when the connection broke (the caller
// may still find the upstream's answer) or the source failed (`source_err`).
asio::awaitable<Result<void>> send_body(Transfer& t, bhttp::request<bhttp::buffer_body>& req,
                                        bhttp::request_serializer<bhttp::buffer_body>& sr,
                                        const BodySourceFn& source, std::optional<Error>& src_err) {
  std::vector<char> piece(kPiece);
  for (;;) {
    auto n = source(piece.data(), piece.size());
    if (!n) {
      src_err = n.error();
      co_return fail(n.error());
    }
    auto& body = req.body();
    body.data = *n ? piece.data() : nullptr;
    body.size = *n;
    body.more = *n > 0;
    t.arm();
    auto [ec, w] = co_await bhttp::async_write(t.stream, sr, kTok);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return fail(from_ec("write", ec));
    if (*n == 0) co_return Result<void>{};
  }
}

asio::awaitable<Result<ClientResponse>> do_upload(Transfer& t, const Url& u,
                                                  std::string_view method, const Headers& h,
                                                  const BodySourceFn& source) {
  if (auto c = co_await connect_to(t, u); !c) co_return fail(c.error());
  bhttp::request<bhttp::buffer_body> req;
  set_request_head(req, method, u, h);
  req.chunked(true);
  bhttp::request_serializer<bhttp::buffer_body> sr{req};
  t.arm();
  Result<void> sent;
  if (auto [ec, n] = co_await bhttp::async_write_header(t.stream, sr, kTok); ec)
    sent = fail(from_ec("write", ec));
  std::optional<Error> src_err;
  if (sent) sent = co_await send_body(t, req, sr, source, src_err);
  if (src_err) co_return fail(*src_err);  // never send a body we could not read whole
  auto resp = co_await read_response(t, nullptr);
  if (!resp && !sent) co_return fail(sent.error());
  co_return resp;
}

template <class Coro>
Result<ClientResponse> run_transfer(Transfer& t, Coro coro) {
  Result<ClientResponse> result = fail(codes::kInternal, "transfer did not run");
  asio::co_spawn(
      t.ioc,
      [&]() -> asio::awaitable<void> {
        result = co_await coro();
        t.close();
      },
      asio::detached);
  t.ioc.run();
  return result;
}

}  // namespace

Result<ClientResponse> download(std::string_view method, std::string_view url,
                                const Headers& headers, const BodySinkFn& sink,
                                StreamDeadlines deadlines) {
  auto u = parse_url(url);
  if (!u) return fail(u.error());
  Transfer t(deadlines);
  return run_transfer(t, [&] { return do_download(t, *u, method, headers, sink); });
}

Result<ClientResponse> upload(std::string_view method, std::string_view url, const Headers& headers,
                              const BodySourceFn& source, StreamDeadlines deadlines) {
  auto u = parse_url(url);
  if (!u) return fail(u.error());
  Transfer t(deadlines);
  return run_transfer(t, [&] { return do_upload(t, *u, method, headers, source); });
}

struct WsClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buf;
  bool reading = false;  // an async_read is outstanding
  bool done = false;
  Result<WsClient::Message> result = fail(codes::kInternal, "no read");
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() = default;

Result<std::unique_ptr<WsClient>> WsClient::connect(std::string_view url, const Headers& headers,
                                                    std::chrono::milliseconds timeout,
                                                    int* status) {
  auto u = parse_url(url);
  if (!u) return fail(u.error());
  std::unique_ptr<WsClient> c(new WsClient());
  auto& ws = c->impl_->ws;
  boost::system::error_code ec;
  tcp::resolver resolver(c->impl_->ioc);
  auto results = resolver.resolve(u->host, std::to_string(u->port), ec);
  if (ec) return fail(from_ec("resolve", ec));
  beast::get_lowest_layer(ws).expires_after(timeout);
  Result<void> out;
  websocket::response_type res;
  beast::get_lowest_layer(ws).async_connect(
      results, [&](boost::system::error_code e, const tcp::endpoint&) {
        if (e) {
          out = fail(from_ec("connect", e));
          return;
        }
        ws.set_option(websocket::stream_base::decorator([&headers](websocket::request_type& r) {
          for (auto& [k, v] : headers.items()) r.set(k, v);
        }));
        ws.async_handshake(res, host_header(*u), u->target, [&](boost::system::error_code e2) {
          if (e2) out = fail(from_ec("handshake", e2));
        });
      });
  c->impl_->ioc.run();
  c->impl_->ioc.restart();
  if (status) *status = int(res.result_int());
  if (!out) return fail(out.error());
  beast::get_lowest_layer(ws).expires_never();
  return c;
}

Result<void> WsClient::send(std::string data, bool binary) {
  auto& ws = impl_->ws;
  ws.binary(binary);
  boost::system::error_code ec;
  ws.write(asio::buffer(data), ec);
  if (ec) return fail(from_ec("ws write", ec));
  return {};
}

Result<WsClient::Message> WsClient::read(std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  // A read that timed out stays pending (cancelling a WebSocket read would
  // break the stream); the next call waits for that same read.
  if (!impl_->reading) {
    impl_->reading = true;
    impl_->done = false;
    ws.async_read(impl_->buf, [this](boost::system::error_code ec, size_t) {
      impl_->done = true;
      auto& ws = impl_->ws;
      if (ec) {
        Error e = from_ec("ws read", ec);
        if (ec == websocket::error::closed) {
          e.cause = "closed";
          close_code_ = ws.reason().code;
        }
        impl_->result = fail(e);
        return;
      }
      Message m;
      m.binary = ws.got_binary();
      m.data = beast::buffers_to_string(impl_->buf.data());
      impl_->buf.consume(impl_->buf.size());
      impl_->result = std::move(m);
    });
  }
  impl_->ioc.restart();
  impl_->ioc.run_for(timeout);
  if (!impl_->done) return fail(codes::kTimeout, "ws read: timed out");
  impl_->reading = false;
  return std::move(impl_->result);
}

void WsClient::close() {
  boost::system::error_code ec;
  if (impl_->reading) {
    // The close handshake would need the pending read; just hang up.
    beast::get_lowest_layer(impl_->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(impl_->ws).socket().close(ec);
    return;
  }
  // The close handshake, bounded: a peer that answers the close frame but
  // keeps the TCP connection open must not hang us.
  beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(2));
  impl_->ws.async_close(websocket::close_code::normal, [](boost::system::error_code) {});
  impl_->ioc.restart();
  impl_->ioc.run_for(std::chrono::seconds(3));
  beast::get_lowest_layer(impl_->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

}  // namespace zlh::http
