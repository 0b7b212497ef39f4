#include "api/jobs/agent_client.hpp"

#include <unistd.h>

#include <atomic>
#include <ctime>

#include "base/unix_time.hpp"
#include "proto/jws.hpp"

namespace zlh::api {

namespace {
// "api<pid>-<n>": unique per process, and names it in the agent's log.
std::string next_request_id() {
  static const std::string prefix = "api" + std::to_string(::getpid()) + "-";
  static std::atomic<uint64_t> n{0};
  return prefix + std::to_string(n.fetch_add(1, std::memory_order_relaxed) + 1);
}
}  // namespace

Result<http::Headers> AgentClient::auth(int64_t vmid, std::string_view method,
                                        std::string_view target) const {
  auto tok = jws::mint_agent_token(key_, vmid, 60, unix_now(), method, target);
  if (!tok) return fail(tok.error());
  http::Headers h;
  h.add("Authorization", "Bearer " + *tok);
  return h;
}

Result<http::ClientResponse> AgentClient::call(const std::string& ip, int64_t vmid,
                                               const std::string& method, const std::string& path,
                                               std::string body,
                                               std::chrono::milliseconds timeout) const {
  auto h = auth(vmid, method, path);
  if (!h) return fail(h.error());
  h->add("X-Request-Id", next_request_id());
  if (!body.empty()) h->add("Content-Type", "application/json");
  auto r = http::request(method, "http://" + ip + ":18888" + path, *h, std::move(body), timeout);
  if (!r) return fail(codes::kUpstream, "agent " + ip + ": " + r.error().message);
  return r;
}

Result<http::ClientResponse> AgentClient::download(const std::string& ip, int64_t vmid,
                                                   const std::string& path,
                                                   const http::BodySinkFn& sink,
                                                   http::StreamDeadlines deadlines) const {
  auto h = auth(vmid, "GET", path);
  if (!h) return fail(h.error());
  h->add("X-Request-Id", next_request_id());
  auto r = http::download("GET", "http://" + ip + ":18888" + path, *h, sink, deadlines);
  if (!r && (r.error().is(codes::kUpstream) || r.error().is(codes::kTimeout)))
    return fail(r.error().wrap("agent " + ip));
  return r;
}

Result<http::ClientResponse> AgentClient::upload(const std::string& ip, int64_t vmid,
                                                 const std::string& method, const std::string& path,
                                                 const std::string& content_type,
                                                 const http::BodySourceFn& source,
                                                 http::StreamDeadlines deadlines) const {
  auto h = auth(vmid, method, path);
  if (!h) return fail(h.error());
  h->add("X-Request-Id", next_request_id());
  h->add("Content-Type", content_type);
  auto r = http::upload(method, "http://" + ip + ":18888" + path, *h, source, deadlines);
  if (!r && (r.error().is(codes::kUpstream) || r.error().is(codes::kTimeout)))
    return fail(r.error().wrap("agent " + ip));
  return r;
}

Result<nlohmann::json> AgentClient::status(const std::string& ip, int64_t vmid,
                                           std::chrono::milliseconds timeout) const {
  auto r = call(ip, vmid, "GET", "/status", {}, timeout);
  if (!r) return fail(r.error());
  if (r->status != 200)
    return fail(codes::kUpstream, "agent /status answered " + std::to_string(r->status));
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(codes::kUpstream, "agent /status: not a JSON object");
  return j;
}

}  // namespace zlh::api
