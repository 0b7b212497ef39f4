// Streams artifact-server files (http://, https://, file://) through libcurl.
//
// fetch() hands the body to `sink` chunk by chunk as it arrives (never the
// whole body in memory); a sink error or `cancel` aborts the transfer and is
// returned. Errors: E_NOT_FOUND (HTTP 404 / missing file), E_UPSTREAM
// (connect, TLS, other HTTP status), E_INVALID (unsupported scheme),
// E_INTERNAL "cancelled". This is the seam unit tests fake.
// Thread-safety: a CurlFetcher may be used by several threads at once (one
// curl easy handle per call).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::agent::runtimes {

using Sink = std::function<Result<void>(std::string_view chunk)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Result<void> fetch(const std::string& url, const Sink& sink,
                             const std::atomic<bool>* cancel = nullptr) = 0;
};

class CurlFetcher : public Fetcher {
 public:
  CurlFetcher();
  Result<void> fetch(const std::string& url, const Sink& sink,
                     const std::atomic<bool>* cancel = nullptr) override;
};

// Whole (small) body into memory; E_TOO_LARGE over max_bytes.
Result<std::string> fetch_small(Fetcher& f, const std::string& url, size_t max_bytes);

// base + "/" + rel, with exactly one slash between them.
std::string join_url(std::string_view base, std::string_view rel);

}  // namespace zlh::agent::runtimes
