// Sharing a server (docs/sharing.md): its members and the transfer of its
// ownership.
//
//   GET    /api/servers/{id}/members              owner: the members
//   POST   /api/servers/{id}/members              owner: {"username"|"email", "permissions"}
//   PATCH  /api/servers/{id}/members/{user_id}    owner: {"permissions"}
//   DELETE /api/servers/{id}/members/{user_id}    owner, or the member leaving
//   POST   /api/servers/{id}/transfer             owner: {"username"|"email"}, an offer
//   GET    /api/servers/{id}/transfer             owner: the open offer, or null
//   DELETE /api/servers/{id}/transfer             owner: withdraws the offer
//   GET    /api/transfers                         offers made to the caller
//   POST   /api/transfers/{server_id}/accept      the one offered: becomes the owner
//
// Changes take effect at once. Taking access away (a removal, a permission
// dropped, a new owner) closes the user's open console sessions, revokes
// their IDE tickets and zlh_ide cookies, drops the IDE proxy's cached
// decisions (an open IDE tunnel closes at its next recheck, within 5 s) and
// expires the Tailscale pre-auth keys they made for the server. Every
// change is audited on the server ("member.add", ...).
#pragma once

#include "api/authz/live_sessions.hpp"
#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api {

class IdeAccess;
namespace tailscale {
class TailscaleContext;
}

struct MemberRouteDeps {
  store::Store& store;
  authz::LiveSessions& sessions;
  IdeAccess* ide = nullptr;                          // null: no IDE proxy caches to drop
  tailscale::TailscaleContext* tailscale = nullptr;  // null: no Headscale
  store::QuotaDefaults quotas;                       // a transfer's new owner's defaults
};

void add_member_routes(http::Router& r, const MemberRouteDeps& deps);

}  // namespace zlh::api
