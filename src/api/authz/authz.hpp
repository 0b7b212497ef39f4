// Who may do what to a server (docs/sharing.md): the one authorization
// function every server route calls, and the one table it reads.
//
// A server is used by its owner (every permission) or by a member (the
// permissions the owner gave them). rules() maps each route that names a
// server — method and pattern, exactly as registered on the router — to
// what it needs:
//   kMember      any member reads it (detail, stats, activity);
//   kPermission  a member holding `permission`;
//   kOwner       only the owner (delete, transfer, members);
//   kOwnerOrSelf the owner, or the member the path's {user_id} names
//                (a member leaving).
// authorize() reads the request's matched route (Request::route), finds its
// rule and answers, before the handler touches anything:
//   not the owner nor a member → 404 E_NOT_FOUND, exactly as for a server
//     that does not exist;
//   a member without what the rule needs → 403 E_FORBIDDEN naming it, and
//     an "authz.denied" audit entry;
//   a route missing from the table → 500 E_INTERNAL (fail closed).
// unruled() lists server routes of a router missing from the table;
// make_api_router refuses to build a router with any (so no route can be
// added without deciding who may call it), and the permission matrix test
// is generated from rules().
//
// Thread-safety: the table is constant; authorize() is safe from any thread
// (the store serialises its calls).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api::authz {

using store::Permission;
using store::PermSet;

enum class Need : uint8_t { kMember, kPermission, kOwner, kOwnerOrSelf };

struct Rule {
  std::string_view method;  // "GET", "POST", ...; a WebSocket route is "GET"; "*": any
  std::string_view pattern;
  Need need = Need::kMember;
  Permission permission = Permission::kConsole;  // kPermission only
};

// Every rule; a (method, pattern) pair appears once.
std::span<const Rule> rules();

// The rule of a route; HEAD is looked up as GET. nullptr when none.
const Rule* find_rule(std::string_view method, std::string_view pattern);

// {} when `a` satisfies `rule`, else 403 E_FORBIDDEN saying what is missing.
// `self`: whether the path names the caller (kOwnerOrSelf).
Result<void> check(const store::ServerAccess& a, const Rule& rule, bool self = false);

// The server of path parameter `id_param` as the request's user may use it
// on this route (see the top of this file). The request must have passed
// the auth guard (Request::log_user).
Result<store::ServerAccess> authorize(store::Store& store, const http::Request& req,
                                      std::string_view id_param = "id");

// The same for a route that names the server by vmid (the IDE origin),
// with the rule given.
Result<store::ServerAccess> authorize_vmid(store::Store& store, int vmid, int64_t user_id,
                                           const Rule& rule, const std::string& remote_addr);

// "METHOD pattern" of each route of `r` under /api/servers/{id} without a rule.
std::vector<std::string> unruled(const http::Router& r);

// "permission \"files.read\" is required" and the like.
std::string denial_message(const Rule& rule);

}  // namespace zlh::api::authz
