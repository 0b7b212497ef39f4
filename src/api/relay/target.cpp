#include "api/relay/target.hpp"

#include <cstdlib>

#include "api/authz/authz.hpp"
#include "api/relay/user_slots.hpp"
#include "api/request_ids.hpp"

namespace zlh::api::relay {

std::string AgentTarget::base(std::string_view scheme) const {
  std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  return std::string(scheme) + "://" + host + ":" + std::to_string(kAgentPort);
}

std::shared_ptr<UserSlots> user_slots(const RelayDeps& deps, const char* kind) {
  if (deps.replica_id.empty()) return std::make_shared<UserSlots>();
  return std::make_shared<UserSlots>(deps.store, kind, deps.replica_id);
}

Result<AgentTarget> owned_agent(store::Store& store, const http::Request& req) {
  auto a = authz::authorize(store, req);
  if (!a) return fail(a.error());
  const store::Server& s = a->server;
  if (!s.vmid || s.ip.empty())
    return fail(codes::kConflict, "the server has no running container yet");
  return AgentTarget{s.id, *s.vmid, s.ip, user_id(req), s.type};
}

}  // namespace zlh::api::relay
