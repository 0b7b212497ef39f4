// The HTTP seam of the Headscale client (STYLE.md §6): one blocking request
// out, one status and body back. CurlTransport is the real one (http and
// https through libcurl, TLS verified against the system CA store); unit
// tests put a recording fake in its place.
//
// Errors: E_UPSTREAM when no HTTP answer came (connect, TLS, read),
// E_TIMEOUT when the deadline passed. An HTTP error status is not an error
// here: the caller reads it. Header values (the bearer key) never appear in
// an error.
//
// Thread-safety: perform() may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::tailscale {

struct HttpCall {
  std::string method;  // GET, POST
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
};

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual Result<HttpReply> perform(const HttpCall& call) = 0;
};

// libcurl, linked (zlh-api is not the per-container agent that loads it
// lazily). No redirects are followed: a redirected POST would resend the
// bearer key somewhere else. Bodies over 4 MiB are cut off as E_UPSTREAM.
class CurlTransport : public HttpTransport {
 public:
  CurlTransport();
  Result<HttpReply> perform(const HttpCall& call) override;
};

}  // namespace zlh::api::tailscale
