#include "api/authz/authz.hpp"

#include <algorithm>
#include <chrono>

#include "api/audit.hpp"
#include "api/request_ids.hpp"

namespace zlh::api::authz {

const Rule* find_rule(std::string_view method, std::string_view pattern) {
  if (method == "HEAD") method = "GET";
  for (const Rule& r : rules())
    if (r.pattern == pattern && (r.method == method || r.method == "*")) return &r;
  return nullptr;
}

std::string denial_message(const Rule& rule) {
  if (rule.need == Need::kOwner || rule.need == Need::kOwnerOrSelf)
    return "only the server's owner may do this";
  return "permission \"" + std::string(store::to_string(rule.permission)) + "\" is required";
}

Result<void> check(const store::ServerAccess& a, const Rule& rule, bool self) {
  switch (rule.need) {
    case Need::kMember:
      return {};
    case Need::kOwner:
      if (a.owner) return {};
      break;
    case Need::kOwnerOrSelf:
      if (a.owner || self) return {};
      break;
    case Need::kPermission:
      if (a.permissions.has(rule.permission)) return {};
      break;
  }
  return fail(codes::kForbidden, denial_message(rule));
}

namespace {

// At most kDenialsAudited "authz.denied" entries per user, server and
// minute: a hostile member retrying a refused call must not fill the audit
// log. Counted in the store (so across replicas too); the refusal itself is
// answered every time.
constexpr int kDenialsAudited = 30;

bool audit_this_denial(store::Store& store, int64_t server_id, int64_t uid) {
  auto n = store.count_recent_audit(server_id, uid, "authz.denied", std::chrono::minutes(1));
  return n && *n < kDenialsAudited;
}

// A refusal of a member: audited (who, what, where), then the 403.
Result<store::ServerAccess> denied(store::Store& store, const store::ServerAccess& a,
                                   const Rule& rule, int64_t uid, const std::string& remote,
                                   const Error& e) {
  nlohmann::json detail = {{"route", std::string(rule.method) + " " + std::string(rule.pattern)}};
  if (rule.need == Need::kPermission) detail["permission"] = store::to_string(rule.permission);
  if (rule.need == Need::kOwner || rule.need == Need::kOwnerOrSelf) detail["needs"] = "owner";
  if (audit_this_denial(store, a.server.id, uid))
    (void)store.append_audit(
        {uid, "authz.denied", "server:" + std::to_string(a.server.id), detail.dump(), remote});
  return std::unexpected(e);
}

}  // namespace

Result<store::ServerAccess> authorize(store::Store& store, const http::Request& req,
                                      std::string_view id_param) {
  const Rule* rule = find_rule(req.method, req.route);
  if (!rule)
    return fail(codes::kInternal, "no authorization rule for " + req.method + " " + req.route);
  const int64_t uid = user_id(req);
  if (uid <= 0) return fail(codes::kUnauthorized, "authentication required");
  auto id = path_id(req, id_param);
  if (!id) return fail(codes::kNotFound, "server not found");
  auto a = store.get_server_access(*id, uid);
  if (!a) return fail(a.error());
  bool self = false;
  if (rule->need == Need::kOwnerOrSelf)
    if (auto named = path_id(req, "user_id")) self = *named == uid;
  if (auto ok = check(*a, *rule, self); !ok)
    return denied(store, *a, *rule, uid, req.remote_addr, ok.error());
  return a;
}

Result<store::ServerAccess> authorize_vmid(store::Store& store, int vmid, int64_t user_id,
                                           const Rule& rule, const std::string& remote_addr) {
  auto a = store.get_server_access_by_vmid(vmid, user_id);
  if (!a) return fail(a.error());
  if (auto ok = check(*a, rule); !ok)
    return denied(store, *a, rule, user_id, remote_addr, ok.error());
  return a;
}

std::vector<std::string> unruled(const http::Router& r) {
  static const std::vector<std::string> kAny = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  std::vector<std::string> out;
  for (const auto& route : r.routes()) {
    if (!route.pattern.starts_with("/api/servers/{id}")) continue;
    std::vector<std::string> methods;
    if (route.is_ws)
      methods = {"GET"};
    else if (route.is_proxy)
      methods = route.methods.empty() ? kAny : route.methods;
    else
      methods = {route.method};
    for (const auto& m : methods)
      if (m != "HEAD" && !find_rule(m, route.pattern)) out.push_back(m + " " + route.pattern);
  }
  return out;
}

}  // namespace zlh::api::authz
