// The agent side of the console relay (docs/design.md §7, §10.3): an outgoing
// WebSocket driven asynchronously on one shared I/O thread, so a relayed
// console costs no thread of its own and, once connected, never blocks the
// API's I/O threads.
//
// WsUpstreamIo owns that thread. The relay routes hold one; it must outlive
// every WsUpstream made on it (the router that holds it is destroyed after
// the server's sessions). Its destructor stops and joins the thread and must
// not run on it.
//
// WsUpstream is one connection:
// - connect() blocks the caller until the upgrade succeeded or failed
//   (bounded by `timeout`). A refused upgrade is E_UPSTREAM; `refusal` then
//   gets the agent's status and body (its {"error":…} JSON).
// - start() begins reading. on_message gets every frame unchanged (data,
//   binary or text); then on_close runs exactly once with the close code and
//   reason: when the agent closed (its code), the connection broke or timed
//   out (1011), or after close() (the code given). Callbacks run on the I/O
//   thread, one at a time, in order, and are released after on_close.
// - send() and close() are thread-safe, never block, and may be called
//   before start(); close() is repeatable and sends the close frame after the
//   frames already queued. Frames to the agent are queued; when more than
//   max_queue_bytes wait (the agent stopped reading input), the connection is
//   closed with 1008 instead of growing without bound or dropping keystrokes.
// - Destroying the handle closes the connection like close(1001); a
//   callback may still run until on_close.
// Dead agents are noticed by pings: no answer within the idle timeout (60 s)
// closes the connection (1011).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

class WsUpstreamIo {
 public:
  WsUpstreamIo();
  ~WsUpstreamIo();
  WsUpstreamIo(const WsUpstreamIo&) = delete;
  WsUpstreamIo& operator=(const WsUpstreamIo&) = delete;
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class WsUpstream {
 public:
  struct Callbacks {
    std::function<void(std::string data, bool binary)> on_message;
    std::function<void(uint16_t code, std::string reason)> on_close;
  };
  struct Refusal {
    int status = 0;  // HTTP status of a refused upgrade, 0 when none came
    std::string body;
  };

  static Result<std::unique_ptr<WsUpstream>> connect(WsUpstreamIo& io, std::string_view url,
                                                     const http::Headers& headers,
                                                     std::chrono::milliseconds timeout,
                                                     Refusal* refusal = nullptr,
                                                     size_t max_queue_bytes = 1 << 20);
  ~WsUpstream();
  WsUpstream(const WsUpstream&) = delete;
  WsUpstream& operator=(const WsUpstream&) = delete;

  void start(Callbacks cb);
  void send(std::string data, bool binary);
  void close(uint16_t code = 1000, std::string reason = {});

  // Connections alive in this process (a leak check for tests and metrics).
  static int64_t live();

  struct Impl;

 private:
  explicit WsUpstream(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace zlh::api::relay
