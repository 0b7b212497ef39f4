// The files and mods relays (DESIGN.md §8, §9, §10.3):
//   GET|PUT|POST /api/servers/{id}/files/{rest...} → agent /files/{rest}?{query}
//   GET          /api/servers/{id}/mods            → agent /mods
//   POST|DELETE  /api/servers/{id}/mods/{rest...}  → agent /mods/{rest}
//
// Before anything reaches the agent: ownership (404 E_NOT_FOUND for a
// server that is not the caller's, 409 without a container) and the path
// rules of forwarding.hpp (400 E_BADPATH for dot segments). The agent gets
// the API's own token and only the headers of headers_to_agent() (never the
// client's Authorization or Cookie); the client gets the agent's status,
// the headers of headers_to_client() and the body unchanged, error bodies
// included. An agent that cannot be reached or breaks off is 502 E_UPSTREAM.
//
// Streaming, bounded memory: a request body is forwarded piece by piece as
// it arrives (a BodySink writing to a StreamingRequest), a response body is
// read from the agent as the client takes it (a BodySource), so transfers
// of many GiB hold at most a few hundred KiB per request.
// A request with a body is sent to the agent with "Expect: 100-continue"
// before any of it is read from the client: when the agent refuses it
// (E_BADPATH, E_TOO_LARGE, E_CONFLICT…) the client gets the agent's code
// and message without the body being transferred. A refusal in the middle of
// a body is passed on the same way. (Both are answered as an Error, which
// rebuilds the agent's {"error":{code,message,field}}; a 401 from the agent
// is 502 E_UPSTREAM: it refused the API, not the user.)
//
// Threads: ownership, the agent connect and the body forwarding run on the
// API's I/O thread and block it for at most one agent read/write (bounded by
// a 60 s timeout; the agent is on the container network). Waiting for the
// agent's answer (fsync + rename of an upload, a mod install) happens on a
// short-lived worker thread per request, which also reads small answers
// (≤ 64 KiB) whole; larger bodies are then read on the I/O thread as they
// are sent.
#pragma once

#include "api/app/api.hpp"
#include "common/http.hpp"

namespace zlh::api::relay {

// Adds the routes above to `r`; `ctx` must outlive it. Call once per router.
void add_file_relay_routes(http::Router& r, ApiContext& ctx);

}  // namespace zlh::api::relay
