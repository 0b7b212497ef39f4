// POST /api/servers/{id}/command {"command":"..."} (docs/activity.md): one
// line on a running game server's console, through its agent's
// POST /console/command, recorded in the server's activity log as
// console.command {"command"} once the agent took it.
//
// Answers: 204; 400 E_INVALID (field command: missing, empty, control
// characters, too long: catalog::check_console_line); 404 not yours; 409
// E_CONFLICT for a dev server (its console is a shell: use the console
// WebSocket) or a server without a container; the agent's refusal passed on
// (409 when the game is not running); 502 E_UPSTREAM when the agent cannot
// be reached. Runs on the handler pool (it waits up to 15 s for the agent).
#pragma once

#include "api/relay/target.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

void add_console_command_route(http::Router& r, const RelayDeps& deps);

}  // namespace zlh::api::relay
