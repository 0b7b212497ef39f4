// What a relayed request becomes on the agent's side and what its answer
// becomes on the client's (docs/design.md §8, §9, §10.3): the agent path, the
// headers that may cross in each direction, and how an agent's error body
// becomes an Error. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

// The agent request target for an API request: the raw `api_path` without
// its first `skip` segments, plus the raw query. "/api/servers/7/files/read"
// with query "path=a%20b" and skip 3 → "/files/read?path=a%20b".
// Each remaining segment is percent-decoded and refused (E_BADPATH) when it
// is empty after decoding, ".", "..", or holds '/', '\' or NUL (so no encoded
// dot segment can reach another agent route), then encoded again. Empty
// segments from "//" and a trailing '/' are dropped. The query is the
// agent's to parse (it resolves every path it names).
Result<std::string> agent_target(std::string_view api_path, std::string_view query, size_t skip);

// Request headers passed to the agent: Content-Type, Range, If-Range,
// Accept. Never Authorization or Cookie (the agent gets the API's own
// token), nor hop-by-hop or length headers (the proxy sets its own framing).
// A plain function, for http::ProxyTarget::forward_client_header.
bool header_to_agent(std::string_view name);

// Response headers passed back to the client: Content-Type, Content-Range,
// Content-Disposition, Accept-Ranges, Last-Modified, ETag, Retry-After and
// X-ZLH-Restart-Required. Length and framing are the API server's to set.
bool header_to_client(std::string_view name);

// An agent's answer that the client must not see as such: 401 means the
// agent refused the API's own token (a key mismatch, a clock skew), which is
// a failure of the platform, not of the user's session → E_UPSTREAM.
bool agent_refused_api(int status);

// The Error an agent's error answer carries ({"error":{"code","message"
// [,"field"]}}), so a refusal that has to be answered as an Error (before
// or during a streamed request body) reaches the client with the agent's
// code and message. Anything else, and a 401, is E_UPSTREAM naming the status.
Error error_from_agent(int status, std::string_view body);

}  // namespace zlh::api::relay
