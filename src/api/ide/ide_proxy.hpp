// The browser IDE and port preview on their own origin (docs/design.md §10.4 as
// amended in docs/ide.md).
//
// The IDE origin (--ide-listen, --ide-origin; ide_origin.hpp) serves only
//   /dev/{vmid}/ide/...        → http://<container ip>:6000/...   (code-server)
//   /dev/{vmid}/port/{n}/...   → http://<container ip>:<n>/...    (1024-65535, not 18888)
// HTTP and WebSocket, prefix stripped, X-Forwarded-Prefix set. Its only
// credential is the zlh_ide cookie: a random opaque value (never a JWT),
// HttpOnly, Path=/dev/<vmid>/, Secure on https, which the browser gets by
// trading a ticket:
//   1. the portal calls POST /api/servers/{id}/ide-ticket (session + CSRF
//      header) and gets {"url": "<ide origin>/dev/<vmid>/ide/?zlh_ticket=…"};
//   2. the IDE origin redeems the ticket (single use, 60 s, bound to the
//      session, its user and the vmid), sets zlh_ide and answers 302 to the
//      same URL without the ticket.
// A request without a valid zlh_ide goes to <public-url>/servers/<id>/ide?open=1
// (302), where the portal asks for a fresh ticket. The cookie lives as long as
// its session: logout revokes it at once on this process (forget_session)
// and the open WebSockets it carries are closed within seconds (the tunnel
// re-checks its access every few seconds). Not the owner, not a dev server
// with code-server (for the IDE), or a server being deleted → 404, like a
// vmid that does not exist. The request's Host must be the vmid's own origin,
// and a WebSocket's Origin must equal it (403 otherwise). Neither zlh_ide nor
// zlh_session, nor Authorization, ever reaches the container.
//
// The API origin never proxies /dev/: it redirects there (302).
//
// IdeAccess caches who may reach what for a few seconds, so the hot path does
// no database work per request: verified cookies and per-(vmid, user)
// decisions. forget_session (logout), forget_vmid (DELETE, a vmid released by
// the job runner) invalidate at once, on this replica directly and on every
// replica through the store's change notifications (app/invalidation.hpp).
//
// Thread-safety: IdeAccess is safe to share between threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/auth/jwt.hpp"
#include "api/ide/ide_origin.hpp"
#include "api/store/store.hpp"
#include "base/coarse_clock.hpp"
#include "http/http.hpp"

namespace zlh::api {

class AgentClient;

inline constexpr std::string_view kIdeCookie = "zlh_ide";
inline constexpr std::string_view kTicketParam = "zlh_ticket";

class IdeAccess {
 public:
  enum class Verdict {
    kNoCookie,  // no zlh_ide, or not valid (unknown, session ended, other vmid)
    kNotFound,  // not yours / not a dev server with code-server / gone
    kStarting,  // yours, but the container has no address yet
    kAllowed,
  };
  enum class Want { kIde, kPort };
  struct Decision {
    Verdict verdict = Verdict::kNoCookie;
    std::string ip;  // kAllowed
    int64_t user_id = 0;
  };

  // `ticket_ttl`: how long a ticket may wait to be redeemed (60 s; tests
  // shorten it); `ttl`: how long a decision is cached.
  explicit IdeAccess(store::Store& store,
                     std::chrono::seconds ticket_ttl = std::chrono::seconds(60),
                     std::chrono::milliseconds ttl = std::chrono::seconds(5));
  std::chrono::seconds ticket_ttl() const { return ticket_ttl_; }

  // A new ticket for `grant` (its raw value: goes into the URL once).
  Result<std::string> issue_ticket(const store::IdeGrant& grant);
  // Redeems a ticket presented on vmid's origin; the new zlh_ide cookie
  // value. E_NOT_FOUND when the ticket is unknown, used, expired, of an
  // ended session or of another vmid.
  Result<std::string> redeem_ticket(std::string_view ticket, int vmid);
  // `ide_cookie` is the zlh_ide cookie value ("" when absent).
  Decision decide(std::string_view ide_cookie, int vmid, Want want);
  // Drops the cached decisions and cookies of `vmid`.
  void forget_vmid(int vmid);
  void forget_session(std::string_view sid);
  // Drops everything cached (the store's "*": changes may have been missed).
  void forget_all();
  // Cache hits and misses (metrics, tests).
  uint64_t hits() const { return hits_.load(); }
  uint64_t misses() const { return misses_.load(); }
  store::Store& store() { return store_; }

 private:
  struct CookieEntry {
    store::IdeGrant grant;
    CoarseClock::time_point until;
  };
  struct ServerEntry {
    bool live = false;  // the user may open its IDE (authz), not being deleted
    bool ide = false;   // a dev server with code-server
    std::string ip;
    CoarseClock::time_point until;
  };
  std::optional<store::IdeGrant> cookie_grant(std::string_view cookie);

  store::Store& store_;
  std::chrono::seconds ticket_ttl_;
  std::chrono::milliseconds ttl_;
  // Shared on the hot path (cache hits from every io thread at once),
  // exclusive to change the caches.
  mutable std::shared_mutex mu_;
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, CookieEntry, TokenHash, std::equal_to<>>
      cookies_;                                             // by cookie value
  std::map<std::pair<int, int64_t>, ServerEntry> servers_;  // by (vmid, user)
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

// The IDE origin's whole route table (its own listener).
void add_ide_origin_routes(http::Router& r, const IdeOrigin& origin, const std::string& public_url,
                           IdeAccess& access);

// On the API router: POST /api/servers/{id}/ide-ticket, GET
// /api/servers/{id}/ports (the container's previewable ports, from its
// agent), and /dev/... redirected to the IDE origin. `origin` null: no IDE
// origin configured (tickets 503, /dev/ 404).
struct IdeApiDeps {
  store::Store& store;
  const auth::JwtKey& jwt;
  const IdeOrigin* origin = nullptr;
  IdeAccess& access;
  const AgentClient& agents;
  bool secure = false;  // the public URL is https: the session cookie is __Host-zlh_session
};
void add_ide_api_routes(http::Router& r, IdeApiDeps deps);

// The pieces of the routes, exposed for unit tests.
namespace ide {
// The Cookie header without the platform's cookies (zlh_session, zlh_ide);
// "" when nothing is left.
std::string strip_platform_cookies(std::string_view cookie_header);
// Whether a Set-Cookie value sets one of the platform's cookies.
bool sets_platform_cookie(std::string_view set_cookie);
// The target without the zlh_ticket query parameter.
std::string without_ticket(std::string_view target);
// "zlh_ide=<v>; Path=/dev/<vmid>/; HttpOnly; SameSite=Lax[; Secure]".
std::string ide_cookie(std::string_view value, int vmid, bool secure);
// Whether port preview may reach `port`: 1024-65535 but the agent's 18888.
bool previewable_port(int64_t port);
// The page shown while code-server does not answer (retries by itself).
http::Response starting_page(int vmid);
}  // namespace ide

}  // namespace zlh::api
