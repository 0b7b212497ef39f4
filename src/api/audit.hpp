// The audit log as the routes write it: who (the user, or nobody for a
// failed login), what, on which target, from which address. A failed write
// is not the request's failure (the store logs it).
// Thread-safety: as the store.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api {

void audit(store::Store& store, const http::Request& req, std::optional<int64_t> uid,
           std::string action, std::string target,
           const nlohmann::json& detail = nlohmann::json::object());

// The caller when an admin; otherwise E_NOT_FOUND, like any route that is
// not theirs.
Result<store::User> admin_of(store::Store& store, const http::Request& req);

}  // namespace zlh::api
