#include "api/relay/target.hpp"

#include <cstdlib>

#include "api/request_ids.hpp"

namespace zlh::api::relay {

std::string AgentTarget::base(std::string_view scheme) const {
  std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  return std::string(scheme) + "://" + host + ":" + std::to_string(kAgentPort);
}

Result<AgentTarget> owned_agent(store::Store& store, const http::Request& req) {
  auto sid = path_id(req);
  if (!sid) return fail(sid.error());
  const int64_t owner = user_id(req);
  if (owner <= 0) return fail(codes::kUnauthorized, "authentication required");
  auto s = store.get_server_for_owner(*sid, owner);  // AUTHZ: console, files.read/write
  if (!s) return fail(s.error());
  if (!s->vmid || s->ip.empty())
    return fail(codes::kConflict, "the server has no running container yet");
  return AgentTarget{s->id, *s->vmid, s->ip, s->type};
}

}  // namespace zlh::api::relay
