// Test support: a blocking HTTP/1.1 client request whose bodies are
// streamed both ways, for driving the relays from tests the way a client
// does (byte by byte, slow, chunked, with Expect). zlh-api itself streams
// through its async proxy (http/proxy); neither the request body nor the
// response body is ever held whole, so many-GiB transfers use bounded memory
// (one 64 KiB read buffer per request).
//
// Sequence: open() connects and sends the head (with expect_continue it then
// waits for "100 Continue" or an early final answer) → write()* → finish() →
// read_head() → read()* until it returns 0. One request per connection
// (Connection: close). Plain http:// only.
//
// Blocking: each call runs the request's own io_context on the calling thread
// and returns within its timeout (connect_timeout for the connect, io_timeout
// for each write or read, the one given to read_head). A timeout or a failed
// read/write closes the connection; later calls fail.
//
// Thread-safety: not thread-safe. Calls may come from different threads one
// after another (the body written on an I/O thread, the answer read on a
// worker). Destroying a request closes its connection: a body not finished
// is cut off, which an HTTP server treats as an aborted request.
//
// Errors: E_INVALID (bad URL; misuse: writing past content_length, finishing
// short of it, reading before read_head), E_UPSTREAM (connect, read or write
// failed; the peer closed), E_TIMEOUT.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "http/http.hpp"

namespace zlh::http {

struct ResponseHead {
  int status = 0;
  Headers headers;                         // as received, without hop-by-hop processing
  std::optional<uint64_t> content_length;  // nullopt: chunked or until close
};

class StreamingRequest {
 public:
  struct Options {
    // The request body: none (default), exactly content_length bytes, or of
    // unknown length (chunked = true → Transfer-Encoding: chunked).
    std::optional<uint64_t> content_length;
    bool chunked = false;
    // Sends "Expect: 100-continue" and has open() wait (io_timeout) for the
    // server's go-ahead, so a request the server refuses before its body
    // (400, 404, 413 ...) is known before a byte of the body is sent. A
    // server that answers neither within io_timeout is E_TIMEOUT.
    bool expect_continue = false;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds io_timeout{60000};
  };

  // `headers` are sent as given; Host, Connection, Content-Length /
  // Transfer-Encoding and Expect are set from the URL and `o`.
  static Result<std::unique_ptr<StreamingRequest>> open(std::string_view method,
                                                        std::string_view url,
                                                        const Headers& headers, const Options& o);
  ~StreamingRequest();
  StreamingRequest(const StreamingRequest&) = delete;
  StreamingRequest& operator=(const StreamingRequest&) = delete;

  // True when the server has already begun its answer while the body is
  // unfinished (an early final response instead of 100 Continue, or a
  // refusal mid-body). Never blocks. Read that answer with read_head().
  bool answered();

  // Sends the next piece of the body (empty pieces are ignored). After a
  // failed write (the server refused the body and hung up) no more body can
  // be sent, but what the server answered may still be read with read_head().
  Result<void> write(std::string_view data);
  // Ends the body (the final chunk when chunked). Repeatable; a no-op when
  // there is no body.
  Result<void> finish();

  // Waits up to `timeout` for the final response head (1xx are skipped).
  // Repeatable: later calls return the same head.
  Result<ResponseHead> read_head(std::chrono::milliseconds timeout);
  // The next piece of the response body, at most `cap` bytes, waiting up to
  // io_timeout; 0 at its end. Returns 0 at once for HEAD requests.
  Result<size_t> read(char* buf, size_t cap);
  // The rest of the body as a string; E_TOO_LARGE when it passes `limit`.
  Result<std::string> read_all(size_t limit);
  // True once the whole response body was read.
  bool body_done() const;

 private:
  StreamingRequest();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlh::http
