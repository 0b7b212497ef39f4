// Blocking HTTP/1.1 and WebSocket clients for loopback calls (API → agent,
// tests, zlhctl). Plain http:// / ws:// only; TLS and remote fetches go
// through libcurl elsewhere.
//
// Each call runs its own small io_context on the calling thread; every call
// has an overall deadline. Errors: E_INVALID (bad URL), E_UPSTREAM
// (connect/read/write failed), E_TIMEOUT (deadline passed).
//
// Thread-safety: request() is reentrant. A WsClient is used by one thread.
#pragma once

#include <chrono>
#include <memory>
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
