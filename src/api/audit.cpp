#include "api/audit.hpp"

#include "api/request_ids.hpp"

namespace zlh::api {

void audit(store::Store& store, const http::Request& req, std::optional<int64_t> uid,
           std::string action, std::string target, const nlohmann::json& detail) {
  (void)store.append_audit(
      {uid, std::move(action), std::move(target), detail.dump(), req.remote_addr});
}

Result<store::User> admin_of(store::Store& store, const http::Request& req) {
  auto u = store.get_user(user_id(req));
  if (!u || !u->is_admin) return fail(codes::kNotFound, "no route");
  return u;
}

}  // namespace zlh::api
