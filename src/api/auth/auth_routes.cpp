#include "api/auth/auth_routes.hpp"

#include <algorithm>
#include <atomic>

#include "api/audit.hpp"
#include "api/auth/cookies.hpp"
#include "api/auth/jwt.hpp"
#include "api/body.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/request_ids.hpp"
#include "api/servers/server_view.hpp"
#include "base/crypto.hpp"
#include "base/unix_time.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {

// Password hashes (register, login) running at once; more are refused (503).
constexpr int kMaxHashing = 6;

// What the routes share: hashes in progress and registrations per address.
struct AuthState {
  // Counted in the store, so every replica shares the budget.
  AuthState(auth::RateLimitConfig registrations_per_hour, store::Store& store)
      : registrations(registrations_per_hour, store, "register") {}
  std::atomic<int> hashing{0};
  auth::LoginRateLimiter registrations;
};

// A place among the kMaxHashing hashes allowed at once (ok), for its scope.
struct HashSlot {
  std::atomic<int>& n;
  bool ok;
  explicit HashSlot(std::atomic<int>& c) : n(c), ok(n.fetch_add(1) < kMaxHashing) {}
  ~HashSlot() { n.fetch_sub(1); }
};

Response busy() {
  Response r = Response::error(
      Error::make(codes::kUnavailable, "too many logins at once; retry in a second"));
  r.headers.set("Retry-After", "1");
  return r;
}

nlohmann::json user_json(const store::User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"username", u.username},
          {"is_admin", u.is_admin},
          {"created_at", iso_time(u.created_at)}};
}

Response with_cookie(Response r, const std::string& cookie) {
  r.headers.add("Set-Cookie", cookie);
  return r;
}

// The session and token of a successful register/login.
Result<Response> open_session(const AuthRouteDeps& d, const store::User& u, int status) {
  auto now = store::Clock::now();
  auto session = d.store.create_session(u.id, now + std::chrono::seconds(auth::kDefaultSessionTtl));
  if (!session) return fail(session.error());
  auto token =
      auth::mint_session_token(d.secrets.jwt, std::to_string(u.id), session->id, unix_now());
  if (!token) return fail(token.error());
  auto cookie = auth::session_cookie(*token, auth::kDefaultSessionTtl, d.secure_cookies);
  if (!cookie) return fail(cookie.error());
  return with_cookie(Response::json(status, {{"token", *token}, {"user", user_json(u)}}), *cookie);
}

std::optional<Error> check_session(const AuthRouteDeps& d, Request& req) {
  auto cred = auth::select_credential(req.headers.get("Authorization"), req.headers.get("Cookie"),
                                      d.secure_cookies);
  if (!cred) return cred.error();
  if (cred->kind == auth::CredentialKind::kNone)
    return Error::make(codes::kUnauthorized, "authentication required");
  auto claims = auth::verify_session_token(d.secrets.jwt, cred->token, unix_now());
  if (!claims) return claims.error();
  auto session = d.store.get_session(claims->sid, store::Clock::now());
  if (!session || std::to_string(session->user_id) != claims->sub)
    return Error::make(codes::kUnauthorized, "session is not valid (logged out or expired)");
  if (auto csrf = auth::check_csrf(req.method, cred->kind, req.headers.get(auth::kCsrfHeader));
      !csrf)
    return csrf.error();
  req.log_user = claims->sub;
  return std::nullopt;
}

Response register_user(const AuthRouteDeps& d, AuthState& st, Request& req) {
  if (d.registration == "closed")
    return Response::error(
        Error::make(codes::kForbidden, "registration is closed here; ask an administrator"));
  if (auto wait = st.registrations.reserve("", auth::address_key(req.remote_addr))) {
    Response r = Response::error(
        Error::make(codes::kRateLimited, "too many registrations from this address; retry in " +
                                             std::to_string(wait->count()) + " s"));
    r.headers.set("Retry-After", std::to_string(wait->count()));
    return r;
  }
  auto body = body::object(req.body, {"email", "username", "password", "invite"});
  if (!body) return Response::error(body.error());
  auto invite = body::string_field(*body, "invite", false);
  if (!invite) return Response::error(invite.error());
  if (d.registration == "invite" && invite->empty())
    return Response::error(
        Error::make(codes::kForbidden, "registration needs an invite code here"));
  auto email = body::string_field(*body, "email");
  if (!email) return Response::error(email.error());
  auto username = body::string_field(*body, "username");
  if (!username) return Response::error(username.error());
  auto password = body::string_field(*body, "password");
  if (!password) return Response::error(password.error());
  if (email->size() > 254 || email->find('@') == std::string::npos ||
      email->find_first_of(" \t\r\n") != std::string::npos)
    return Response::error(Error::invalid("email", "field \"email\": not an email address"));
  if (username->empty() || username->size() > 32 ||
      !std::all_of(username->begin(), username->end(), [](char ch) {
        return std::isalnum(uint8_t(ch)) || ch == '_' || ch == '-' || ch == '.';
      }))
    return Response::error(Error::invalid("username", "field \"username\": 1-32 of a-z 0-9 . _ -"));
  if (auto p = auth::check_password_policy(*password); !p) return Response::error(p.error());
  HashSlot slot(st.hashing);
  if (!slot.ok) return busy();
  auto hash = d.hasher.hash(*password);
  if (!hash) return Response::error(hash.error());
  store::NewUser nu{*email, *username, *hash, false};
  auto u = d.registration == "invite" ? d.store.create_user_with_invite(
                                            nu, crypto::sha256_hex(*invite), store::Clock::now())
                                      : d.store.create_user(nu);
  if (!u) return Response::error(u.error());
  audit(d.store, req, u->id, "auth.register", "user:" + std::to_string(u->id),
        d.registration == "invite" ? nlohmann::json{{"invite", true}} : nlohmann::json::object());
  auto out = open_session(d, *u, 201);
  if (!out) return Response::error(out.error());
  return std::move(*out);
}

Response login(const AuthRouteDeps& d, AuthState& st, Request& req) {
  auto body = body::object(req.body, {"identifier", "password"});
  if (!body) return Response::error(body.error());
  auto id = body::string_field(*body, "identifier");
  if (!id) return Response::error(id.error());
  auto password = body::string_field(*body, "password");
  if (!password) return Response::error(password.error());
  // The budget is the user's, whatever name or email names it ("admin" and
  // "admin@localhost" are one account); unknown identifiers by their text.
  auto u = d.store.find_user_by_login(*id);
  std::string account;
  if (u) {
    account = "user:" + std::to_string(u->id);
  } else {
    account = "id:" + *id;
    std::transform(account.begin(), account.end(), account.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
  }
  const std::string address = auth::address_key(req.remote_addr);
  // Counted before the password is checked (M2): parallel guesses cannot
  // all pass a check made before any of them is recorded.
  if (auto wait = d.limiter.reserve(account, address)) {
    Response r = Response::error(auth::rate_limited_error(*wait));
    r.headers.set("Retry-After", std::to_string(wait->count()));
    return r;
  }
  HashSlot slot(st.hashing);
  if (!slot.ok) return busy();
  bool ok = false;
  if (u) {
    auto v = d.hasher.verify(u->password_hash, *password);
    ok = v && *v;
  } else {
    d.hasher.dummy_verify(*password);
  }
  if (!ok) {
    audit(d.store, req, std::nullopt, "auth.login_failed", "", {{"identifier", id->substr(0, 64)}});
    return Response::error(Error::make(codes::kUnauthorized, "wrong username/email or password"));
  }
  d.limiter.succeeded(account, address);
  audit(d.store, req, u->id, "auth.login", "user:" + std::to_string(u->id));
  auto out = open_session(d, *u, 200);
  if (!out) return Response::error(out.error());
  return std::move(*out);
}

Response logout(const AuthRouteDeps& d, Request& req) {
  auto cred = auth::select_credential(req.headers.get("Authorization"), req.headers.get("Cookie"),
                                      d.secure_cookies);
  if (cred) {
    if (auto claims = auth::verify_session_token(d.secrets.jwt, cred->token, unix_now())) {
      (void)d.store.revoke_session(claims->sid);
      if (d.ide) d.ide->forget_session(claims->sid);
    }
  }
  audit(d.store, req, user_id(req), "auth.logout", "user:" + req.log_user);
  return with_cookie(Response::json(200, {{"ok", true}}),
                     auth::clear_session_cookie(d.secure_cookies));
}

Response me(const AuthRouteDeps& d, Request& req) {
  auto u = d.store.get_user(user_id(req));
  if (!u) return Response::error(u.error());
  return Response::json(200, {{"user", user_json(*u)}});
}

}  // namespace

void add_auth_routes(http::Router& r, const AuthRouteDeps& deps) {
  auto d = std::make_shared<const AuthRouteDeps>(deps);
  // Registrations per address and hour (M2); an attempt counts, made or not.
  auto st = std::make_shared<AuthState>(
      auth::RateLimitConfig{0, std::chrono::seconds(1), unsigned(deps.registration_limit),
                            std::chrono::seconds(3600), 100'000},
      deps.store);
  r.set_guard([d](Request& req) { return check_session(*d, req); });

  http::RouteOptions login_opts;
  login_opts.is_public = true;
  login_opts.body_limit = 16 * 1024;
  login_opts.deadline = std::chrono::seconds(30);
  login_opts.json_body = true;  // L1: no login CSRF from a text/plain form
  // argon2id costs ~100 ms: on the handler pool (blocking), never a thread
  // per request; at most kMaxHashing at once, beyond that 503 (M2).
  login_opts.blocking = true;
  r.add_sync(
      "POST", "/api/auth/register", [d, st](Request& req) { return register_user(*d, *st, req); },
      login_opts);
  r.add_sync(
      "POST", "/api/auth/login", [d, st](Request& req) { return login(*d, *st, req); }, login_opts);
  r.add_sync("POST", "/api/auth/logout", [d](Request& req) { return logout(*d, req); });
  r.add_sync("GET", "/api/auth/me", [d](Request& req) { return me(*d, req); });
}

}  // namespace zlh::api
