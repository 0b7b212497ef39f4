// zlh-api's relays to container agents (docs/design.md §7–§10): the console
// WebSocket (console_relay.hpp) and the files and mods routes
// (file_relay.hpp). The browser never talks to an agent: every relayed
// request is authenticated by the router guard, checked for ownership, and
// reaches the agent with the API's own short-lived token.
//
// Also publishes zlh_relay_console_upstreams (agent console connections
// alive) in deps.metrics.
#pragma once

#include "api/relay/target.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

// Adds the relay routes to `r` (after the auth guard is set: they rely on
// Request::log_user). Call once per router, from the thread that builds it.
// What deps refers to must outlive the router. The routes own the relay I/O
// thread; it ends when the router is destroyed.
void add_relay_routes(http::Router& r, const RelayDeps& deps);

}  // namespace zlh::api::relay

namespace zlh::api {
using relay::add_relay_routes;
}  // namespace zlh::api
