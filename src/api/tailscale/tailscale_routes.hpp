// Private network access to a dev container through Headscale (docs/design.md
// §10.6; docs/tailscale.md):
//
//   POST   /api/servers/{id}/tailscale   body empty or {} →
//          200 {server_id, hostname, login_server, headscale_user,
//               device:{authkey, key_id, expires_at, reusable, ephemeral},
//               container:{hostname, addon, version}, instructions:{…},
//               constraints:[…], shown_once:true}
//   DELETE /api/servers/{id}/tailscale →
//          200 {server_id, tailscale:"disabled", expired_keys:N}
//
// POST ensures the Headscale user "<prefix><user id>", creates a single-use,
// non-ephemeral key for the container (with the configured ACL tags) and
// hands it to the agent's tailscale addon (POST /addons/tailscale/enable),
// then creates a second one for the user's own device and returns it once.
// When the agent fails, both keys are expired again. DELETE disables the
// addon and expires the still-unused keys this process created for the
// server (tailscale_context.hpp).
//
// Both: authenticated by the router guard (cookie writes need the CSRF
// header); a server that is not the caller's is 404 with no side effect;
// 503 E_UNAVAILABLE for POST when Headscale is not configured; 409
// E_CONFLICT for a game server, a server that is not ready, or while
// another enable/disable of the server is under way; 502 E_UPSTREAM with
// Headscale's (or the agent's) reason when they fail. Audited as
// server.tailscale_enable / server.tailscale_disable with key ids, never
// keys.
#pragma once

#include "api/jobs/agent_client.hpp"
#include "api/store/store.hpp"
#include "api/work_lane.hpp"
#include "http/http.hpp"

namespace zlh::api::tailscale {

class TailscaleContext;

// What the routes use of zlh-api; everything referred to must outlive the
// router and every request it started.
struct TailscaleRouteDeps {
  store::Store& store;
  const AgentClient& agents;
  TailscaleContext* tailscale = nullptr;  // null: "Headscale not configured" (503)
  WorkLane& lane;                         // Headscale and agent calls block
};

// Adds the routes to `r` (after the guard is set: they rely on
// Request::log_user).
void add_tailscale_routes(http::Router& r, const TailscaleRouteDeps& deps);

// Expires the live pre-auth keys that `user_id` made for the server (in
// their Headscale user) and forgets them; how many were expired. Blocks on
// Headscale. Used when a user's access to the server goes (docs/sharing.md).
Result<int> expire_user_keys(TailscaleContext& ts, int64_t server_id, int64_t user_id);

}  // namespace zlh::api::tailscale

namespace zlh::api {
using tailscale::add_tailscale_routes;
}  // namespace zlh::api
