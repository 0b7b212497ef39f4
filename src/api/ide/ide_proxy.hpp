// The browser IDE proxy /dev/{vmid}/ide (DESIGN.md §10.4; docs/ide.md).
//
// /dev/{vmid}/ide → 308 to /dev/{vmid}/ide/; everything below is proxied,
// HTTP and WebSocket through the server's one matcher (Router::add_proxy), to
// http://<container ip>:6000/ with the prefix stripped. Authentication is the
// zlh_session cookie only (a browser navigation has no bearer): no valid
// session → 302 to the portal login with next=; not the owner, not a dev
// server, code-server not enabled, or a server being deleted → 404, exactly
// like a vmid that does not exist. A WebSocket upgrade whose Origin is not
// the public origin → 403.
//
// IdeAccess caches who may reach what for a few seconds, so the hot path
// does no database work per request: verified session cookies (until the
// TTL or the token's exp) and per-(user, vmid) decisions. Anything that
// changes them invalidates at once: logout (forget_session), DELETE of a
// server and every release of a vmid by the job runner (forget_vmid), so a
// vmid handed to another user never reaches its old owner's cache entry.
//
// Thread-safety: IdeAccess is safe to share between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/auth/jwt.hpp"
#include "api/store/store.hpp"
#include "common/coarse_clock.hpp"
#include "common/http.hpp"

namespace zlh::api {

struct Options;

class IdeAccess {
 public:
  enum class Verdict {
    kNoSession,  // no cookie, or not a valid session
    kNotFound,   // not yours / not a dev server / code-server off / gone
    kStarting,   // yours, but the container has no address yet
    kAllowed,
  };
  struct Decision {
    Verdict verdict = Verdict::kNoSession;
    std::string ip;  // kAllowed
    int64_t user_id = 0;
  };

  IdeAccess(store::Store& store, const auth::JwtKey& jwt,
            std::chrono::milliseconds ttl = std::chrono::seconds(5));

  // `session_token` is the zlh_session cookie value ("" when absent).
  Decision decide(std::string_view session_token, int vmid);
  void forget_vmid(int vmid);
  void forget_session(std::string_view sid);
  // Cache hits and misses (metrics, tests).
  uint64_t hits() const { return hits_.load(); }
  uint64_t misses() const { return misses_.load(); }

 private:
  struct SessionEntry {
    int64_t user_id = 0;
    std::string sid;
    CoarseClock::time_point until;
  };
  struct ServerEntry {
    Verdict verdict = Verdict::kNotFound;
    std::string ip;
    CoarseClock::time_point until;
  };
  // The user of a valid session cookie (cached), else nullopt.
  std::optional<int64_t> session_user(std::string_view token);

  store::Store& store_;
  const auth::JwtKey& jwt_;
  std::chrono::milliseconds ttl_;
  // Shared on the hot path (cache hits from every io thread at once),
  // exclusive to change the caches.
  mutable std::shared_mutex mu_;
  // Looked up by string_view (no copy of the cookie per request).
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, SessionEntry, TokenHash, std::equal_to<>> sessions_;  // by cookie value
  std::map<std::pair<int, int64_t>, ServerEntry> servers_;       // by (vmid, user)
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

// Registers /dev/{vmid}/ide and /dev/{vmid}/ide/... on `r`.
void add_ide_routes(http::Router& r, const Options& opts, IdeAccess& access);

// The pieces of the route, exposed for unit tests.
namespace ide {
// The Cookie header without the zlh_session cookie(s); "" when nothing is left.
std::string strip_session_cookie(std::string_view cookie_header);
// Whether a Set-Cookie value sets the zlh_session cookie.
bool sets_session_cookie(std::string_view set_cookie);
// The portal login URL that comes back to `target` after login.
std::string login_redirect(std::string_view public_url, std::string_view target);
// The page shown while code-server does not answer (retries by itself).
http::Response starting_page(int vmid);
}  // namespace ide

}  // namespace zlh::api
