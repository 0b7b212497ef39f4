// Internal to the HTTP server: the reverse proxy behind Router::add_proxy.
// The proxy is http/proxy.cpp, the tunnel an upgraded connection becomes
// http/tunnel.cpp, their per-thread memory http/proxy_memory.hpp, and the
// upstream pool with its deadlines http/upstream_pool.{hpp,cpp}. Only the
// server and those files include this.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "http/http.hpp"
#include "http/upstream_pool.hpp"  // the Asio/Beast aliases, the pool, the deadlines

namespace zlh::http::detail {

// What the server's session lends the proxy for one request whose header
// was read (its body not yet).
struct ProxyIo {
  beast::tcp_stream& client;
  Deadlines::Watch& client_watch;  // the session's, on client.socket(): for writes to the client
  beast::flat_buffer& buffer;      // the session's read buffer (may hold body or frame bytes)
  bhttp::request_parser<bhttp::string_body>& parser;
  const Request& req;
  unsigned version;
  bool keep_alive;
  bool upgrade;  // a WebSocket upgrade request
  size_t body_limit;
  std::chrono::seconds write_timeout;
  Deadlines& deadlines;  // the io thread's
  // The connection's place under the server's caps: an upgraded connection
  // keeps it for as long as its tunnel runs.
  std::shared_ptr<void>& conn_slot;
};

// Held by pointers: the awaitable's result lives in run_proxy's coroutine
// frame, which is kept small (see ProxyScratch in http_proxy.cpp).
struct ProxyOutcome {
  // Set when nothing was sent to the client yet: the session answers with it.
  std::unique_ptr<Response> answer;
  int status = 0;           // what the client got (101 for a tunnel)
  uint64_t bytes = 0;       // response body bytes sent to the client
  bool keep_alive = false;  // the client connection may carry another request
  bool upgraded = false;    // the upstream said 101: the connection is a tunnel now
  // The client's socket went to a tunnel of its own (hand_off_tunnel): the
  // session must not touch its stream again.
  bool handed_off = false;
};

// An upstream address: dotted-quad IPv4 parsed by hand (strictly: four
// decimal octets, no leading zeros), anything else by Asio. Same results as
// asio::ip::make_address.
asio::ip::address parse_address(std::string_view s, boost::system::error_code& ec);

asio::awaitable<ProxyOutcome> run_proxy(ProxyIo& io, ProxyTarget& target, UpstreamPool& pool);
// Copies bytes both ways until both sides closed, an error, or the target's
// idle/total timeout; holds no buffer while idle. Returns the bytes sent to
// the client.
asio::awaitable<uint64_t> run_tunnel(tcp::socket& client, tcp::socket upstream,
                                     const ProxyTarget& target);
// Gives the client's socket and `upstream` to a tunnel coroutine of its own
// on the client's executor, which holds only the two sockets, the target's
// timeouts and the connection's slot: the request's state and the
// session's frame are freed when the caller returns. A server shutdown does
// not wait for tunnels: they close with the io_context.
void hand_off_tunnel(ProxyIo& io, tcp::socket upstream, ProxyTarget& target);

}  // namespace zlh::http::detail
