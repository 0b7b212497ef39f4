// Blocking HTTP/1.1 and WebSocket clients for loopback calls (API → agent,
// tests, zlhctl). Plain http:// / ws:// only; TLS and remote fetches go
// through libcurl elsewhere.
//
// Each call runs its own small io_context on the calling thread; every call
// has an overall deadline. Errors: E_INVALID (bad URL), E_UPSTREAM
// (connect/read/write failed), E_TIMEOUT (deadline passed).
//
// Thread-safety: request(), download() and upload() are reentrant. A WsClient is used by one
// thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "http/http.hpp"

namespace zlh::http {

struct Url {
  std::string scheme;  // "http" or "ws"
  std::string host;
  uint16_t port = 80;
  std::string target;  // path + query, "/" at least
};
Result<Url> parse_url(std::string_view url);

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

Result<ClientResponse> request(std::string_view method, std::string_view url,
                               const Headers& headers = {}, std::string body = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Streaming transfers (backups): the body passes through callbacks in
// pieces of at most 64 KiB, so memory stays flat whatever the size.
// `idle` bounds each wait (connect, a write, the response header, the next
// piece of body); `total`, when set, bounds the whole call. A callback's
// error ends the transfer (the connection is closed) and is returned as it
// is. A non-2xx response's body is not streamed: up to 64 KiB of it lands in
// ClientResponse::body (so callers can read the error), the rest is dropped.
struct StreamDeadlines {
  std::chrono::milliseconds idle = std::chrono::seconds(60);
  std::optional<std::chrono::milliseconds> total;
};
// Receives each piece of a 2xx response body, in order.
using BodySinkFn = std::function<Result<void>(std::string_view piece)>;
// Fills `buf` with up to `cap` bytes of the request body; 0 = the end.
using BodySourceFn = std::function<Result<size_t>(char* buf, size_t cap)>;

// A request (no body) whose 2xx response body goes to `sink`. A body cut
// short (connection closed early, chunked body without its last chunk) is
// E_UPSTREAM, after the sink saw what arrived.
Result<ClientResponse> download(std::string_view method, std::string_view url,
                                const Headers& headers, const BodySinkFn& sink,
                                StreamDeadlines deadlines = {});
// A request whose body is read from `source` and sent chunked; the response
// is read whole (bounded as above). An upstream that answers before it has
// read the whole body (a refusal) has that answer returned.
Result<ClientResponse> upload(std::string_view method, std::string_view url, const Headers& headers,
                              const BodySourceFn& source, StreamDeadlines deadlines = {});

class WsClient {
 public:
  struct Message {
    std::string data;
    bool binary = false;
  };
  // Connects and upgrades. A refused upgrade is E_UPSTREAM with the HTTP
  // status in `status` (so tests can see 401 vs 404).
  static Result<std::unique_ptr<WsClient>> connect(
      std::string_view url, const Headers& headers = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(10), int* status = nullptr);
  ~WsClient();
  Result<void> send(std::string data, bool binary);
  // Waits up to timeout for one message. E_TIMEOUT when none came (the read
  // stays pending and the next call continues it, so no message is lost);
  // E_UPSTREAM with cause "closed" when the peer closed (close_code() then
  // tells why).
  Result<Message> read(std::chrono::milliseconds timeout);
  void close();
  int close_code() const { return close_code_; }

 private:
  WsClient();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int close_code_ = 0;
};

}  // namespace zlh::http
