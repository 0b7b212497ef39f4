// Internal to the HTTP server: the reverse proxy behind Router::add_proxy.
// Only http_server.cpp and http_proxy.cpp include this (Beast templates stay
// in those two translation units).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/http.hpp"

namespace zlh::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Idle upstream connections by "host:port", most recent first. One pool per
// io thread: its sockets stay registered with that thread's io_context, so
// taking one costs no epoll_ctl and no fcntl, at most a non-blocking peek
// that checks the peer has not closed it. A connection is handed out only if it is
// younger than the idle limit; at most max_idle per key are kept. Sockets
// must be taken by the pool's own io thread; idle() may be asked from any.
class UpstreamPool {
 public:
  explicit UpstreamPool(size_t max_idle = 64, std::chrono::seconds idle_limit = std::chrono::seconds(30))
      : max_idle_(max_idle), idle_limit_(idle_limit) {}
  // check_peer: peek first (for requests that could not be replayed on a
  // new connection if this one turns out closed: those with a body).
  std::optional<tcp::socket> take(const std::string& key, bool check_peer = true);
  void give(const std::string& key, tcp::socket s);  // s: no operation pending
  size_t idle() const;
  void clear();  // closes every idle connection (before the io_context goes)

 private:
  struct Idle {
    tcp::socket socket;
    std::chrono::steady_clock::time_point since;
  };
  size_t max_idle_;
  std::chrono::seconds idle_limit_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::deque<Idle>> idle_;
};

// What the server's session lends the proxy for one request whose header
// was read (its body not yet).
struct ProxyIo {
  beast::tcp_stream& client;
  beast::flat_buffer& buffer;  // the session's read buffer (may hold body or frame bytes)
  bhttp::request_parser<bhttp::string_body>& parser;
  const Request& req;
  unsigned version;
  bool keep_alive;
  bool upgrade;  // a WebSocket upgrade request
  size_t body_limit;
  std::chrono::seconds write_timeout;
  std::string server_header;
};

struct ProxyOutcome {
  // Set when nothing was sent to the client yet: the session answers with it.
  std::optional<Response> answer;
  int status = 0;  // what the client got (101 for a tunnel)
  uint64_t bytes = 0;  // response body bytes sent to the client
  bool keep_alive = false;  // the client connection may carry another request
  bool upgraded = false;    // the upstream said 101: the connection is a tunnel now
  // For an upgrade the 101 was sent for: the upstream side of the tunnel,
  // which the session runs with run_tunnel() (after freeing what it can).
  std::optional<tcp::socket> tunnel_upstream;
};

asio::awaitable<ProxyOutcome> run_proxy(ProxyIo& io, ProxyTarget& target, UpstreamPool& pool);
// Copies bytes both ways until both sides closed, an error, or the target's
// idle/total timeout; holds no buffer while idle. Returns the bytes sent to
// the client.
asio::awaitable<uint64_t> run_tunnel(tcp::socket& client, tcp::socket upstream, const ProxyTarget& target);

}  // namespace zlh::http::detail
