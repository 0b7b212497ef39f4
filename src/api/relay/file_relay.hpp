// The files and mods relays (docs/design.md §8, §9, §10.3):
//   GET|HEAD|PUT|POST /api/servers/{id}/files/{rest...} → agent /files/{rest}?{query}
//   GET               /api/servers/{id}/mods            → agent /mods
//   POST|DELETE       /api/servers/{id}/mods/{rest...}  → agent /mods/{rest}
// except POST files/{mkdir,rename,delete}: small JSON bodies (≤ 64 KiB)
// relayed whole on the handler pool, so their activity entry can name
// the paths (the answer is the agent's, as below).
//
// A change the agent answers 2xx is written to the server's activity log
// (file_activity.hpp; docs/activity.md): streamed ones through
// RelayDeps::activity from the proxy's status hook, never on an I/O thread.
//
// Before anything reaches the agent: ownership (404 E_NOT_FOUND for a
// server that is not the caller's, 409 without a container), the path
// rules of forwarding.hpp (400 E_BADPATH for dot segments) and the upload
// quota (403 E_QUOTA). The agent gets the API's own token and only the
// headers header_to_agent() allows (never the client's Authorization or
// Cookie); the client gets the agent's status, the headers
// header_to_client() allows and the body unchanged, error bodies included.
// An agent that cannot be reached or breaks off is 502 E_UPSTREAM, and so
// is an agent's 401: it refused the API, not the user.
//
// One async path (M3): these are proxy routes (http::Router::add_proxy).
// Bodies stream both ways on the server's io threads with backpressure, a
// 64 KiB buffer per transfer, no thread held while an agent works or a
// client reads slowly. A request with "Expect: 100-continue" is asked of
// the agent the same way, so a refusal (E_BADPATH, E_TOO_LARGE, E_CONFLICT…)
// reaches the client before any of its body is read; a refusal in the
// middle of a body is passed on too.
#pragma once

#include "api/relay/target.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

// Adds the routes above to `r`; what deps refers to must outlive it. Call
// once per router.
void add_file_relay_routes(http::Router& r, const RelayDeps& deps);

}  // namespace zlh::api::relay
