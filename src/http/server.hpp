// The HTTP/WebSocket server (Boost.Beast behind a pimpl).
//
// Lifecycle: construct with a Router, listen(), then run() on the calling
// thread (plus `threads - 1` helpers). Each io thread has an io_context of
// its own; connections are dealt to them in turn and stay on theirs. run() returns after a graceful
// shutdown: SIGTERM/SIGINT (when handle_signals) or stop() stops accepting,
// closes idle keep-alive connections, lets in-flight requests finish (up to
// shutdown_grace), closes WebSockets with 1001, then returns. on_shutdown
// callbacks run once when shutdown starts, on an io thread.
//
// Every request gets one access-log line (method, route, path without query,
// status, duration_ms, request_id, user_id, bytes) and updates
// zlh_http_requests_total / zlh_http_request_duration_seconds in `metrics`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::net {
class CidrSet;
}

namespace zlh::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  // A listening TCP socket handed over by the parent (socket activation, the
  // lxc driver's init): listen() adopts it instead of binding `listen`, which
  // then only names the address in logs. -1: bind `listen`.
  int listen_fd = -1;
  std::string component = "http";
  std::string server_header = "zlh";
  size_t header_limit = 16 * 1024;
  std::chrono::seconds read_timeout{30};  // headers and body of one request
  std::chrono::seconds idle_timeout{75};  // keep-alive wait for the next request
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds shutdown_grace{10};
  // A served WebSocket (not a proxied tunnel) with no frame from the peer
  // for half this long gets a ping; with nothing, not even the pong, for
  // all of it, it is closed (L5: a dead or silent client does not hold its
  // session and connection slot forever).
  std::chrono::seconds ws_idle_timeout{300};
  metrics::Registry* metrics = nullptr;  // optional, not owned
  // Threads for the work of routes marked RouteOptions::blocking: handlers,
  // sink factories and writes, WebSocket factories, body-source reads. 0
  // runs everything on the io thread. The auth guard and WebSocket
  // messages always run on the io thread, and so do proxy routes' plans
  // unless the route is blocking.
  int handler_threads = 0;
  // Open client connections at once (L5), in all and per peer address; a
  // connection over either is closed at accept, before a byte is read.
  // A connection upgraded to a proxied tunnel keeps its place until the
  // tunnel ends. 0: no cap.
  size_t max_connections = 0;
  size_t max_connections_per_address = 0;
  // Peers whose X-Forwarded-For names the client (--trusted-proxies): the
  // request's remote_addr (logs, rate limits, audit) is then that client
  // (net::client_address). Null or empty: the peer, always. Not owned.
  const net::CidrSet* trusted_proxies = nullptr;
};

class Server {
 public:
  Server(Router router, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (or adopts listen_fd). E_INVALID for a malformed
  // address, E_IO if bind fails or listen_fd is not a listening socket.
  Result<void> listen();
  uint16_t port() const;  // the bound port (after listen)

  void run(int threads = 1, bool handle_signals = true);
  void stop();  // thread-safe; starts the graceful shutdown
  void on_shutdown(std::function<void()> f);
  // Runs f on an io thread (for timers the app does not want to own).
  void post(std::function<void()> f);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / "[v6]:port". E_INVALID when malformed.
Result<std::pair<std::string, uint16_t>> split_host_port(std::string_view s);

}  // namespace zlh::http
