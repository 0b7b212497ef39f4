// Requests from zlh-api to a container's zlh-agent (docs/design.md §3.3): every
// one carries a fresh EdDSA token signed with the API's key and bound to the
// container's vmid (60 s). The API's own requests (call, download, upload:
// jobs, the poller, backups) carry X-Request-Id "api<pid>-<n>", which the
// agent logs with the request (its access log's request_id), so an agent's
// log names the zlh-api process that called: with replicas (issue 25),
// which replica polled or provisioned it. Relays pass the browser request's
// id instead. Thread-safe; holds the key by reference.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/crypto.hpp"
#include "base/error.hpp"
#include "http/client.hpp"

namespace zlh::api {

class AgentClient {
 public:
  explicit AgentClient(const crypto::Ed25519SecretKey& key) : key_(key) {}
  // "Authorization: Bearer <token>" for one request to `vmid`'s agent:
  // `method` and `target` (path and query, exactly as they will be sent).
  // The token is good for that request, once (M5).
  Result<http::Headers> auth(int64_t vmid, std::string_view method, std::string_view target) const;
  // A request to http://<ip>:18888<path>. Transport failures are E_UPSTREAM.
  Result<http::ClientResponse> call(
      const std::string& ip, int64_t vmid, const std::string& method, const std::string& path,
      std::string body = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Streaming (backups): GET `path` with a 2xx body passed to `sink` piece
  // by piece, and `method` `path` with the body read from `source` (sent
  // chunked as `content_type`). Transport failures are E_UPSTREAM or
  // E_TIMEOUT (deadlines); a callback's error is returned as it is.
  Result<http::ClientResponse> download(const std::string& ip, int64_t vmid,
                                        const std::string& path, const http::BodySinkFn& sink,
                                        http::StreamDeadlines deadlines) const;
  Result<http::ClientResponse> upload(const std::string& ip, int64_t vmid,
                                      const std::string& method, const std::string& path,
                                      const std::string& content_type,
                                      const http::BodySourceFn& source,
                                      http::StreamDeadlines deadlines) const;
  // GET /status as a JSON object (anything else is E_UPSTREAM).
  Result<nlohmann::json> status(const std::string& ip, int64_t vmid,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  const crypto::Ed25519SecretKey& key_;
};

}  // namespace zlh::api
