#include "api/relay/target.hpp"

#include <cstdlib>

namespace zlh::api::relay {

std::string AgentTarget::base(std::string_view scheme) const {
  std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  return std::string(scheme) + "://" + host + ":" + std::to_string(kAgentPort);
}

Result<AgentTarget> owned_agent(ApiContext& ctx, const http::Request& req) {
  auto it = req.params.find("id");
  const std::string id = it == req.params.end() ? std::string() : it->second;
  char* end = nullptr;
  long long sid = std::strtoll(id.c_str(), &end, 10);
  if (id.empty() || *end != '\0' || sid <= 0) return fail(codes::kNotFound, "no such resource");
  char* uend = nullptr;
  long long owner = std::strtoll(req.log_user.c_str(), &uend, 10);
  if (req.log_user.empty() || *uend != '\0' || owner <= 0)
    return fail(codes::kUnauthorized, "authentication required");
  auto s = ctx.store.get_server_for_owner(sid, owner);
  if (!s) return fail(s.error());
  if (!s->vmid || s->ip.empty())
    return fail(codes::kConflict, "the server has no running container yet");
  return AgentTarget{s->id, *s->vmid, s->ip};
}

}  // namespace zlh::api::relay
