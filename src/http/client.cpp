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
