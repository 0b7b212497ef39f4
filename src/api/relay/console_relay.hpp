// GET /api/servers/{id}/console (docs/design.md §7, §10.3): the browser's
// WebSocket relayed to the container agent's /console.
//
// Before the upgrade (plain HTTP answers): an Origin header, when present,
// must be the API's public origin (403 E_FORBIDDEN); the server must be the
// caller's (404 E_NOT_FOUND otherwise, exactly like a missing one) and have
// a container (409). The agent is then dialled with the API's own token
// (never the browser's credentials) and the browser's query string
// (?session=…); an agent that refuses the upgrade has its error passed on
// (its code and message; its 401 becomes 502 E_UPSTREAM), an agent that
// cannot be reached is 502 E_UPSTREAM.
//
// After the upgrade frames pass unchanged both ways, binary and text. Agent
// → browser goes through the server's WsConn, whose slow-client policy
// drops the oldest queued output (never text control frames), so a slow
// browser never holds up the agent's reader. Browser → agent is queued on
// the upstream (WsUpstream: closed with 1008 when the agent stops reading).
// Either side closing closes the other: the agent's close code and reason
// reach the browser (1011 when the agent connection broke); a browser that
// leaves closes the agent side with 1000.
//
// Threads: the factory runs on the API's I/O thread (it blocks for the
// agent's upgrade, at most 5 s); the agent side runs on the shared relay I/O
// thread. No thread per connection.
#pragma once

#include <memory>

#include "api/relay/target.hpp"
#include "api/relay/ws_upstream.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

// `io` is kept alive by the returned factory.
http::WsFactory console_relay(const RelayDeps& deps, std::shared_ptr<WsUpstreamIo> io);

}  // namespace zlh::api::relay
