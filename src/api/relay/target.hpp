// Which agent a relayed request goes to (docs/design.md §10.2, §10.3): the
// server named by the route's {id}, looked up with the caller as owner, so a
// server that is not yours is E_NOT_FOUND exactly like one that does not
// exist, before anything reaches an agent. Thread-safe (the store is).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/activity/recorder.hpp"
#include "api/authz/live_sessions.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/store/store.hpp"
#include "base/error.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::api::relay {

inline constexpr uint16_t kAgentPort = 18888;

// What the relays use of zlh-api (copied into their routes; the references
// must outlive the router).
struct RelayDeps {
  store::Store& store;
  const AgentClient& agents;
  metrics::Registry& metrics;
  std::string public_url;      // a console WebSocket's Origin must be this
  int64_t quota_consoles = 0;  // defaults for users without an override; 0 = unlimited
  int64_t quota_uploads = 0;
  // Open console sessions, cut when a user's access goes (may be null).
  authz::LiveSessions* sessions = nullptr;
  // Where the relays write the activity entries they learn of on an I/O
  // thread (a file change's answer, a game console's lines); null: none.
  activity::Recorder* activity = nullptr;
  // This replica's id: the consoles and uploads quotas are counted in the
  // store, across replicas (user_slots.hpp). Empty: in this process.
  std::string replica_id;
};

class UserSlots;
// The places of `kind` ("console", "upload") as `deps` says to count them.
std::shared_ptr<UserSlots> user_slots(const RelayDeps& deps, const char* kind);

struct AgentTarget {
  int64_t server_id = 0;
  int64_t vmid = 0;
  std::string ip;
  int64_t user_id = 0;  // who asked
  store::ServerType type = store::ServerType::kDev;
  // "http://<ip>:18888" (IPv6 in brackets); `scheme` "http" or "ws".
  std::string base(std::string_view scheme) const;
};

// The server of req.params["id"] if req.log_user (set by the auth guard)
// may use this route (authz::authorize: owner, or a member with the
// route's permission).
// E_NOT_FOUND: malformed id, no such server, or neither owner nor member.
// E_FORBIDDEN: a member without the route's permission.
// E_CONFLICT: the server has no container with an address yet.
// E_UNAUTHORIZED: no user on the request (the guard did not run).
// Store failures come back as the store returns them.
Result<AgentTarget> owned_agent(store::Store& store, const http::Request& req);

}  // namespace zlh::api::relay
