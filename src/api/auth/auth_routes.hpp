// Accounts and sessions (docs/design.md §10.1, docs/auth.md): the router's
// guard, which authenticates every non-public route (Bearer or the session
// cookie, a JWT whose session is live in the store; cookie-authenticated
// state-changing requests need X-ZLH-CSRF: 1) and puts the user id in
// Request::log_user; and register, login, logout and me. Logins are rate
// limited per account and address before the password is checked, hashes
// run at most 6 at once (503 beyond), registrations per address and hour.
#pragma once

#include <string>

#include "api/auth/password.hpp"
#include "api/auth/rate_limit.hpp"
#include "api/auth/secrets.hpp"
#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api {

class IdeAccess;

// What the routes use; everything referred to must outlive the router.
struct AuthRouteDeps {
  store::Store& store;
  const auth::ApiSecrets& secrets;
  const auth::PasswordHasher& hasher;
  auth::LoginRateLimiter& limiter;
  IdeAccess* ide = nullptr;     // sessions it caches are forgotten at logout
  bool secure_cookies = false;  // https public URL: __Host- cookie, Secure
  std::string registration;     // open | invite | closed
  int registration_limit = 0;   // per address and hour
};

// Sets the router's guard and adds the routes; call before any other
// route is added (they rely on the guard).
void add_auth_routes(http::Router& r, const AuthRouteDeps& deps);

}  // namespace zlh::api
