#include "api/app/api.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <map>

#include "api/app/server_view.hpp"
#include "api/app/work_lane.hpp"
#include "api/auth/cookies.hpp"
#include "api/body.hpp"
#include "api/ide/ide_proxy.hpp"
#include "api/relay/relay.hpp"
#include "api/request_ids.hpp"
#include "api/servers/create_request.hpp"
#include "api/tailscale/tailscale_routes.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/safe_path.hpp"
#include "base/strings.hpp"
#include "base/unix_time.hpp"
#include "http/file_source.hpp"
#include "proto/catalog.hpp"
#include "version.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

// ---- catalog ----

Result<std::shared_ptr<const CatalogSource::Loaded>> CatalogSource::load() {
  std::string dir = artifacts_;
  if (dir.starts_with("file://")) dir = dir.substr(7);
  if (dir.empty() || dir.find("://") != std::string::npos)
    return fail(codes::kUnavailable,
                "the catalog is only read from a directory store in this build");
  auto text = fs::read_file(fs::join(dir, "catalog.json"), 16 << 20);
  if (!text) return fail(codes::kUnavailable, "catalog.json: " + text.error().message);
  std::string sha = crypto::sha256_hex(*text);
  {
    std::lock_guard lk(mu_);
    if (cached_ && cached_->sha256 == sha) return cached_;
  }
  auto sig = fs::read_file(fs::join(dir, "catalog.json.sig"), 4096);
  if (!sig) return fail(codes::kBadSignature, "catalog.json.sig: " + sig.error().message);
  auto key = crypto::load_public_key(key_file_);
  if (!key) return fail(codes::kUnavailable, "catalog key: " + key.error().message);
  if (auto v = catalog::verify_catalog_signature(*text, *sig, *key); !v) return fail(v.error());
  auto c = catalog::parse_catalog(*text);
  if (!c) return fail(c.error());
  auto loaded = std::make_shared<Loaded>(Loaded{std::move(*c), sha});
  std::lock_guard lk(mu_);
  cached_ = loaded;
  return cached_;
}

namespace {

// Password hashes (register, login) running at once; more are refused (503).
constexpr int kMaxHashing = 6;

// gmtime_r inside: std::gmtime's shared buffer raced between the io threads.
std::string iso(store::Time t) { return iso_time(t); }

nlohmann::json user_json(const store::User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"username", u.username},
          {"is_admin", u.is_admin},
          {"created_at", iso(u.created_at)}};
}

nlohmann::json server_json(const ApiContext& ctx, const store::Server& s) {
  (void)ctx;
  return api::server_json(s);  // the one definition of the document: app/server_view
}

nlohmann::json job_json(const store::Job& j) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : j.steps)
    steps.push_back({{"name", s.name},
                     {"state", to_string(s.state)},
                     {"detail", s.detail},
                     {"started_at",
                      s.started_at ? nlohmann::json(iso(*s.started_at)) : nlohmann::json(nullptr)},
                     {"finished_at", s.finished_at ? nlohmann::json(iso(*s.finished_at))
                                                   : nlohmann::json(nullptr)}});
  return {{"id", j.id},
          {"server_id", j.server_id},
          {"kind", to_string(j.kind)},
          {"state", to_string(j.state)},
          {"error", j.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(j.error)},
          {"steps", steps},
          {"created_at", iso(j.created_at)},
          {"updated_at", iso(j.updated_at)}};
}

Result<nlohmann::json> json_object(const Request& req,
                                   std::initializer_list<std::string_view> allowed) {
  return body::object(req.body, allowed);
}

void audit(ApiContext& ctx, const Request& req, std::optional<int64_t> uid, std::string action,
           std::string target, nlohmann::json detail = nlohmann::json::object()) {
  (void)ctx.store.append_audit(
      {uid, std::move(action), std::move(target), detail.dump(), req.remote_addr});
}

// The caller when an admin; otherwise 404, like any route that is not theirs.
Result<store::User> admin_of(ApiContext& ctx, const Request& req) {
  auto u = ctx.store.get_user(user_id(req));
  if (!u || !u->is_admin) return fail(codes::kNotFound, "no route");
  return u;
}

Response with_cookie(Response r, const std::string& cookie) {
  r.headers.add("Set-Cookie", cookie);
  return r;
}

// The session and token of a successful register/login.
Result<Response> open_session(ApiContext& ctx, const store::User& u, int status) {
  auto now = store::Clock::now();
  auto session =
      ctx.store.create_session(u.id, now + std::chrono::seconds(auth::kDefaultSessionTtl));
  if (!session) return fail(session.error());
  auto token =
      auth::mint_session_token(ctx.secrets.jwt, std::to_string(u.id), session->id, unix_now());
  if (!token) return fail(token.error());
  auto cookie = auth::session_cookie(*token, auth::kDefaultSessionTtl,
                                     auth::secure_for_public_url(ctx.opts.public_url));
  if (!cookie) return fail(cookie.error());
  return with_cookie(Response::json(status, {{"token", *token}, {"user", user_json(u)}}), *cookie);
}

// A create request checked against the driver's limits and the pinned
// catalog, with the owner and the owner's quotas.
Result<store::NewServer> validate_create(ApiContext& ctx, const Request& req) {
  auto cat = ctx.catalog.load();
  if (!cat) return fail(cat.error());
  auto ns =
      servers::parse_create_request(req.body, ctx.driver.limits(), (*cat)->catalog, (*cat)->sha256);
  if (!ns) return fail(ns.error());
  ns->owner_id = user_id(req);
  // M4: the owner's quotas, checked by the store inside the create.
  auto q = ctx.store.get_quotas(ns->owner_id);
  if (!q) return fail(q.error());
  ns->quota_servers = q->servers.value_or(ctx.opts.quota_servers);
  ns->quota_memory_mb = q->memory_mb.value_or(ctx.opts.quota_memory_mb);
  ns->quota_disk_gb = q->disk_gb.value_or(ctx.opts.quota_disk_gb);
  return ns;
}

}  // namespace

Result<std::optional<std::pair<std::string, bool>>> ensure_admin(ApiContext& ctx,
                                                                 const std::string& password_file) {
  auto n = ctx.store.count_users();
  if (!n) return fail(n.error());
  if (*n > 0) return std::optional<std::pair<std::string, bool>>{};
  std::string password;
  bool generated = false;
  if (const char* p = std::getenv("ZLH_ADMIN_PASSWORD"); p && *p) {
    password = p;
  } else {
    password = crypto::base64url_encode(crypto::random_bytes(18));
    generated = true;
  }
  if (auto pol = auth::check_password_policy(password); !pol) return fail(pol.error());
  auto hash = ctx.hasher.hash(password);
  if (!hash) return fail(hash.error());
  if (generated)
    if (auto w = fs::write_file_atomic(password_file, password + "\n", 0600); !w)
      return fail(w.error());
  auto u = ctx.store.create_user({"admin@localhost", "admin", *hash, true});
  if (!u) {
    if (generated) ::unlink(password_file.c_str());
    return fail(u.error());
  }
  (void)ctx.store.append_audit(
      {u->id, "auth.admin_created", "user:" + std::to_string(u->id), "{}", ""});
  return std::optional{std::pair{std::string("admin"), generated}};
}

void add_metrics_route(http::Router& r, metrics::Registry& registry) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/metrics",
      [&registry](Request&) {
        return Response::text(200, registry.render(), "text/plain; version=0.0.4; charset=utf-8");
      },
      pub);
}

void add_artifact_routes(http::Router& r, const std::string& dir) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/artifacts/{path...}",
      [dir](Request& req) {
        int root = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
          return Response::error(Error::make(codes::kUnavailable, "artifact store unavailable"));
        safe_path::UniqueFd root_fd(root);
        auto fd = safe_path::open_beneath(root, req.params["path"], O_RDONLY);
        if (!fd) return Response::error(fd.error());
        safe_path::UniqueFd file(*fd);
        struct stat st {};
        if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode))
          return Response::error(Error::make(codes::kNotFound, "not a file"));
        Response res;
        res.headers.set("Content-Type", "application/octet-stream");
        res.source = std::make_shared<http::FileSource>(std::move(file), 0, uint64_t(st.st_size));
        res.source_length = uint64_t(st.st_size);
        return res;
      },
      pub);
}

http::Router make_api_router(ApiContext& ctx) {
  http::Router r;
  ApiContext* c = &ctx;
  r.set_guard([c](Request& req) -> std::optional<Error> {
    auto cred = auth::select_credential(req.headers.get("Authorization"), req.headers.get("Cookie"),
                                        auth::secure_for_public_url(c->opts.public_url));
    if (!cred) return cred.error();
    if (cred->kind == auth::CredentialKind::kNone)
      return Error::make(codes::kUnauthorized, "authentication required");
    auto claims = auth::verify_session_token(c->secrets.jwt, cred->token, unix_now());
    if (!claims) return claims.error();
    auto session = c->store.get_session(claims->sid, store::Clock::now());
    if (!session || std::to_string(session->user_id) != claims->sub)
      return Error::make(codes::kUnauthorized, "session is not valid (logged out or expired)");
    if (auto csrf = auth::check_csrf(req.method, cred->kind, req.headers.get(auth::kCsrfHeader));
        !csrf)
      return csrf.error();
    req.log_user = claims->sub;
    return std::nullopt;
  });

  http::RouteOptions pub;
  pub.is_public = true;
  http::RouteOptions pub_body = pub;
  pub_body.body_limit = 16 * 1024;

  r.add_sync(
      "GET", "/healthz",
      [](Request&) {
        return Response::json(200, {{"ok", true}, {"version", kVersion}});
      },
      pub);
  // Admins only here (others: 404 like any route that is not theirs); an
  // unauthenticated scrape goes to --metrics-listen (add_metrics_route).
  r.add_sync("GET", "/metrics", [c](Request& req) {
    auto u = admin_of(*c, req);
    if (!u) return Response::error(u.error());
    return Response::text(200, c->metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  // ---- auth ----
  http::RouteOptions login_opts = pub_body;
  login_opts.deadline = std::chrono::seconds(30);
  login_opts.json_body = true;  // L1: no login CSRF from a text/plain form
  // argon2id costs ~100 ms: on the handler pool (blocking), never a thread
  // per request; at most kMaxHashing at once, beyond that 503 (M2).
  login_opts.blocking = true;
  auto hashing = std::make_shared<std::atomic<int>>(0);
  struct HashSlot {
    std::shared_ptr<std::atomic<int>> n;
    bool ok;
    explicit HashSlot(std::shared_ptr<std::atomic<int>> c)
        : n(std::move(c)), ok(n->fetch_add(1) < kMaxHashing) {}
    ~HashSlot() { n->fetch_sub(1); }
  };
  auto busy = [] {
    Response r = Response::error(
        Error::make(codes::kUnavailable, "too many logins at once; retry in a second"));
    r.headers.set("Retry-After", "1");
    return r;
  };
  // Registrations per address and hour (M2); an attempt counts, made or not.
  auto registrations = std::make_shared<auth::LoginRateLimiter>(
      auth::RateLimitConfig{0, std::chrono::seconds(1), unsigned(ctx.opts.registration_limit),
                            std::chrono::seconds(3600), 100'000});
  r.add_sync(
      "POST", "/api/auth/register",
      [c, hashing, busy, registrations](Request& req) {
        if (c->opts.registration == "closed")
          return Response::error(
              Error::make(codes::kForbidden, "registration is closed here; ask an administrator"));
        if (auto wait = registrations->reserve("", auth::address_key(req.remote_addr))) {
          Response r = Response::error(Error::make(
              codes::kRateLimited, "too many registrations from this address; retry in " +
                                       std::to_string(wait->count()) + " s"));
          r.headers.set("Retry-After", std::to_string(wait->count()));
          return r;
        }
        auto body = json_object(req, {"email", "username", "password", "invite"});
        if (!body) return Response::error(body.error());
        auto invite = body::string_field(*body, "invite", false);
        if (!invite) return Response::error(invite.error());
        if (c->opts.registration == "invite" && invite->empty())
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
          return Response::error(
              Error::invalid("username", "field \"username\": 1-32 of a-z 0-9 . _ -"));
        if (auto p = auth::check_password_policy(*password); !p) return Response::error(p.error());
        HashSlot slot(hashing);
        if (!slot.ok) return busy();
        auto hash = c->hasher.hash(*password);
        if (!hash) return Response::error(hash.error());
        store::NewUser nu{*email, *username, *hash, false};
        auto u = c->opts.registration == "invite"
                     ? c->store.create_user_with_invite(nu, crypto::sha256_hex(*invite),
                                                        store::Clock::now())
                     : c->store.create_user(nu);
        if (!u) return Response::error(u.error());
        audit(*c, req, u->id, "auth.register", "user:" + std::to_string(u->id),
              c->opts.registration == "invite" ? nlohmann::json{{"invite", true}}
                                               : nlohmann::json::object());
        auto out = open_session(*c, *u, 201);
        if (!out) return Response::error(out.error());
        return std::move(*out);
      },
      login_opts);

  r.add_sync(
      "POST", "/api/auth/login",
      [c, hashing, busy](Request& req) {
        auto body = json_object(req, {"identifier", "password"});
        if (!body) return Response::error(body.error());
        auto id = body::string_field(*body, "identifier");
        if (!id) return Response::error(id.error());
        auto password = body::string_field(*body, "password");
        if (!password) return Response::error(password.error());
        // The budget is the user's, whatever name or email names it ("admin" and
        // "admin@localhost" are one account); unknown identifiers by their text.
        auto u = c->store.find_user_by_login(*id);
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
        if (auto wait = c->limiter.reserve(account, address)) {
          Response r = Response::error(auth::rate_limited_error(*wait));
          r.headers.set("Retry-After", std::to_string(wait->count()));
          return r;
        }
        HashSlot slot(hashing);
        if (!slot.ok) return busy();
        bool ok = false;
        if (u) {
          auto v = c->hasher.verify(u->password_hash, *password);
          ok = v && *v;
        } else {
          c->hasher.dummy_verify(*password);
        }
        if (!ok) {
          audit(*c, req, std::nullopt, "auth.login_failed", "",
                {{"identifier", id->substr(0, 64)}});
          return Response::error(
              Error::make(codes::kUnauthorized, "wrong username/email or password"));
        }
        c->limiter.succeeded(account, address);
        audit(*c, req, u->id, "auth.login", "user:" + std::to_string(u->id));
        auto out = open_session(*c, *u, 200);
        if (!out) return Response::error(out.error());
        return std::move(*out);
      },
      login_opts);

  r.add_sync("POST", "/api/auth/logout", [c](Request& req) {
    auto cred = auth::select_credential(req.headers.get("Authorization"), req.headers.get("Cookie"),
                                        auth::secure_for_public_url(c->opts.public_url));
    if (cred) {
      if (auto claims = auth::verify_session_token(c->secrets.jwt, cred->token, unix_now())) {
        (void)c->store.revoke_session(claims->sid);
        if (c->ide) c->ide->forget_session(claims->sid);
      }
    }
    audit(*c, req, user_id(req), "auth.logout", "user:" + req.log_user);
    return with_cookie(Response::json(200, {{"ok", true}}),
                       auth::clear_session_cookie(auth::secure_for_public_url(c->opts.public_url)));
  });

  r.add_sync("GET", "/api/auth/me", [c](Request& req) {
    auto u = c->store.get_user(user_id(req));
    if (!u) return Response::error(u.error());
    return Response::json(200, {{"user", user_json(*u)}});
  });

  // ---- catalog ----
  for (std::string kind : {"dev", "game"}) {
    r.add_sync("GET", "/api/catalog/" + kind, [c, kind](Request& req) {
      std::string channel = req.query_param("channel").value_or("stable");
      if (!catalog::valid_channel(channel))
        return Response::error(Error::invalid("channel", "channel must be dev, beta or stable"));
      auto cat = c->catalog.load();
      if (!cat) return Response::error(cat.error());
      return Response::json(200, kind == "dev"
                                     ? dev_catalog_view((*cat)->catalog, channel, (*cat)->sha256)
                                     : game_catalog_view((*cat)->catalog, channel, (*cat)->sha256));
    });
  }

  // ---- servers ----
  http::RouteOptions create_opts;
  create_opts.body_limit = 64 * 1024;
  create_opts.json_body = true;
  r.add_sync(
      "POST", "/api/servers",
      [c](Request& req) {
        auto v = validate_create(*c, req);
        if (!v) return Response::error(v.error());
        auto created = c->store.create_server(*v, kCreateSteps);
        if (!created) return Response::error(created.error());
        if (c->ide && created->server.vmid) c->ide->forget_vmid(*created->server.vmid);
        audit(*c, req, user_id(req), "server.create",
              "server:" + std::to_string(created->server.id),
              {{"type", to_string(created->server.type)},
               {"vmid", created->server.vmid.value_or(0)}});
        c->jobs.submit(created->job.id);
        return Response::json(202, {{"id", created->server.id},
                                    {"job", created->job.id},
                                    {"server", server_json(*c, created->server)}});
      },
      create_opts);

  r.add_sync("GET", "/api/servers", [c](Request& req) {
    auto list = c->store.list_servers_for_owner(user_id(req));
    if (!list) return Response::error(list.error());
    // Written directly, not through a JSON tree: the list is the hot path.
    return Response::text(200, server_list_json(*list), "application/json");
  });

  r.add_sync("GET", "/api/servers/{id}", [c](Request& req) {
    auto id = path_id(req, "id");
    if (!id) return Response::error(id.error());
    auto s = c->store.get_server_for_owner(*id, user_id(req));
    if (!s) return Response::error(s.error());
    auto out = server_json(*c, *s);
    // What the container uses, where the driver measures it locally (lxc: cgroups).
    if (auto res = s->vmid ? c->driver.resources(*s->vmid) : std::nullopt)
      out["resources"] = {{"cpu_ns", res->cpu_ns},         {"memory_bytes", res->memory_bytes},
                          {"memory_max", res->memory_max}, {"pids", res->pids},
                          {"disk_bytes", res->disk_bytes}, {"disk_max", res->disk_max},
                          {"oom_kills", res->oom_kills}};
    // The latest job, so a reloaded page can show its steps (GET /api/jobs/{id}).
    if (auto j = c->store.latest_job_for_server(s->id))
      out["job"] = {{"id", j->id}, {"kind", to_string(j->kind)}, {"state", to_string(j->state)}};
    else
      out["job"] = nullptr;
    return Response::json(200, out);
  });

  r.add_sync("DELETE", "/api/servers/{id}", [c](Request& req) {
    auto id = path_id(req, "id");
    if (!id) return Response::error(id.error());
    auto s = c->store.get_server_for_owner(*id, user_id(req));
    if (!s) return Response::error(s.error());
    // Deleting a server that is still being provisioned cancels its create
    // job; deleting twice answers with the delete job already under way.
    auto del = c->store.create_delete_job(s->id, kDeleteSteps);
    if (!del) return Response::error(del.error());
    if (c->ide && s->vmid) c->ide->forget_vmid(*s->vmid);  // the IDE is gone from now on
    if (!del->existing) {
      nlohmann::json detail = nlohmann::json::object();
      if (del->cancelled_job) {
        detail["cancelled_job"] = *del->cancelled_job;
        c->jobs.cancel(*del->cancelled_job);
      }
      audit(*c, req, user_id(req), "server.delete", "server:" + std::to_string(s->id), detail);
    }
    c->jobs.submit(del->job.id);
    return Response::json(202, {{"id", s->id}, {"job", del->job.id}});
  });

  r.add_sync("GET", "/api/jobs/{id}", [c](Request& req) {
    auto id = path_id(req, "id");
    if (!id) return Response::error(id.error());
    auto j = c->store.get_job_for_owner(*id, user_id(req));
    if (!j) return Response::error(j.error());
    return Response::json(200, job_json(*j));
  });

  // Workload power: the agent's answer passed on as it is, on the async
  // proxy path (no thread waits for a graceful stop).
  http::RouteOptions power;
  power.body_limit = 0;
  power.blocking = true;  // the factory reads the store and writes the audit log
  for (std::string action : {"start", "stop", "restart", "kill"}) {
    r.add_proxy(
        "/api/servers/{id}/" + action,
        [c, action](Request& req) -> http::ProxyPlan {
          auto refuse = [](const Error& e) {
            return http::ProxyPlan{std::nullopt, Response::error(e)};
          };
          auto id = path_id(req, "id");
          if (!id) return refuse(id.error());
          auto s = c->store.get_server_for_owner(*id, user_id(req));
          if (!s) return refuse(s.error());
          if (!s->vmid || s->ip.empty())
            return refuse(Error::make(codes::kConflict, "the server has no running container yet"));
          auto auth = c->agents.auth(*s->vmid, "POST", "/" + action);
          if (!auth) return refuse(auth.error());
          audit(*c, req, user_id(req), "server." + action, "server:" + std::to_string(s->id));
          http::ProxyTarget t;
          t.host = s->ip;
          t.port = 18888;
          t.target = "/" + action;
          t.headers = std::move(*auth);
          t.keep_response_header = [](std::string_view name, std::string_view) {
            return strings::iequals(name, "Content-Type");
          };
          t.on_upstream_error = [](const Error&) {
            return Response::error(
                Error::make(codes::kUpstream, "the container's agent cannot be reached"));
          };
          t.replace_response = [](unsigned status) -> std::optional<Response> {
            if (status != 401)
              return std::nullopt;  // the agent refused the api's token, not the user
            return Response::error(
                Error::make(codes::kUpstream, "the agent refused the api's credentials"));
          };
          t.response_timeout = std::chrono::minutes(2);
          return http::ProxyPlan{std::move(t), {}};
        },
        power, {"POST"});
  }
  // Container power: the driver's calls block (liblxc, Proxmox tasks), so
  // they run on the work lane, at most two per user at a time.
  http::RouteOptions host_power;
  host_power.deadline = std::chrono::minutes(2);
  host_power.blocking = true;  // the store and the audit log; the driver calls go to the lane
  for (std::string action : {"start", "stop", "restart"}) {
    r.add(
        "POST", "/api/servers/{id}/host/" + action,
        [c, action](Request& req, http::Responder res) {
          auto id = path_id(req, "id");
          if (!id) return res.send_error(id.error());
          const int64_t uid = user_id(req);
          auto s = c->store.get_server_for_owner(*id, uid);
          if (!s) return res.send_error(s.error());
          if (!s->vmid)
            return res.send_error(Error::make(codes::kConflict, "the server has no container"));
          const bool queued = c->lane->submit(uid, [c, res, vmid = *s->vmid, action] {
            Result<void> r;
            if (action != "start") r = c->driver.stop(vmid, std::chrono::seconds(45));
            if (r && action != "stop") r = c->driver.start(vmid);
            if (!r) return res.send_error(r.error());
            auto st = c->driver.status(vmid);
            res.send(Response::json(
                200, {{"action", action},
                      {"power", st ? std::string(drivers::to_string(st->state)) : "unknown"}}));
          });
          if (!queued)
            return res.send_error(Error::make(
                codes::kRateLimited,
                "container power actions of yours are under way; try again when they end"));
          audit(*c, req, uid, "server.host_" + action, "server:" + std::to_string(s->id));
        },
        host_power);
  }

  // Per-user quotas (admins only): each field null = the default, 0 = unlimited.
  auto quota_json = [c](const store::QuotaOverrides& q) {
    auto field = [](const std::optional<int64_t>& v, int64_t def) {
      return nlohmann::json{{"override", v ? nlohmann::json(*v) : nlohmann::json(nullptr)},
                            {"effective", v.value_or(def)}};
    };
    return nlohmann::json{{"servers", field(q.servers, c->opts.quota_servers)},
                          {"memory_mb", field(q.memory_mb, c->opts.quota_memory_mb)},
                          {"disk_gb", field(q.disk_gb, c->opts.quota_disk_gb)},
                          {"consoles", field(q.consoles, c->opts.quota_consoles)},
                          {"uploads", field(q.uploads, c->opts.quota_uploads)}};
  };
  r.add_sync("GET", "/api/admin/users/{id}/quotas", [c, quota_json](Request& req) {
    auto u = admin_of(*c, req);
    if (!u) return Response::error(u.error());
    auto id = path_id(req, "id");
    if (!id) return Response::error(id.error());
    auto q = c->store.get_quotas(*id);
    if (!q) return Response::error(q.error());
    return Response::json(200, {{"user_id", *id}, {"quotas", quota_json(*q)}});
  });
  http::RouteOptions quota_opts;
  quota_opts.body_limit = 4096;
  quota_opts.json_body = true;
  r.add_sync(
      "PUT", "/api/admin/users/{id}/quotas",
      [c, quota_json](Request& req) {
        auto u = admin_of(*c, req);
        if (!u) return Response::error(u.error());
        auto id = path_id(req, "id");
        if (!id) return Response::error(id.error());
        auto body = json_object(req, {"servers", "memory_mb", "disk_gb", "consoles", "uploads"});
        if (!body) return Response::error(body.error());
        store::QuotaOverrides q;
        for (auto [name, dst] : {std::pair{"servers", &q.servers},
                                 {"memory_mb", &q.memory_mb},
                                 {"disk_gb", &q.disk_gb},
                                 {"consoles", &q.consoles},
                                 {"uploads", &q.uploads}}) {
          auto it = body->find(name);
          if (it == body->end() || it->is_null()) continue;
          if (!it->is_number_integer() || it->get<int64_t>() < 0)
            return Response::error(
                Error::invalid(name, std::string("field \"") + name +
                                         "\": must be null (the default), 0 (unlimited) or more"));
          *dst = it->get<int64_t>();
        }
        if (auto r = c->store.set_quotas(*id, q); !r) return Response::error(r.error());
        audit(*c, req, user_id(req), "admin.quotas", "user:" + std::to_string(*id),
              nlohmann::json::parse(req.body));
        return Response::json(200, {{"user_id", *id}, {"quotas", quota_json(q)}});
      },
      quota_opts);

  // Invite codes for --registration invite (admins only).
  http::RouteOptions invite_opts;
  invite_opts.body_limit = 1024;
  invite_opts.json_body = true;
  r.add_sync(
      "POST", "/api/admin/invites",
      [c](Request& req) {
        auto u = admin_of(*c, req);
        if (!u) return Response::error(u.error());
        int64_t hours = 168;
        if (!req.body.empty()) {
          auto body = json_object(req, {"expires_in_hours"});
          if (!body) return Response::error(body.error());
          auto h = body::int_field(*body, "expires_in_hours", 168, 1, 720);
          if (!h) return Response::error(h.error());
          hours = *h;
        }
        std::string code = crypto::base64url_encode(crypto::random_bytes(18));
        auto expires = store::Clock::now() + std::chrono::hours(hours);
        if (auto r = c->store.create_invite(crypto::sha256_hex(code), u->id, expires); !r)
          return Response::error(r.error());
        audit(*c, req, u->id, "admin.invite", "user:" + std::to_string(u->id),
              {{"expires_in_hours", hours}});
        Response res = Response::json(201, {{"code", code}, {"expires_at", iso(expires)}});
        res.headers.set("Cache-Control", "no-store");
        return res;
      },
      invite_opts);

  // The audit log (admins only; others get 404 like any route that is not theirs).
  r.add_sync("GET", "/api/admin/audit", [c](Request& req) {
    auto u = admin_of(*c, req);
    if (!u) return Response::error(u.error());
    int limit = 100;
    if (auto l = req.query_param("limit")) limit = std::clamp(std::atoi(l->c_str()), 1, 1000);
    auto entries = c->store.list_audit(limit);
    if (!entries) return Response::error(entries.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : *entries)
      out.push_back({{"id", e.id},
                     {"at", iso(e.at)},
                     {"user_id", e.user_id ? nlohmann::json(*e.user_id) : nlohmann::json(nullptr)},
                     {"action", e.action},
                     {"target", e.target},
                     {"detail", nlohmann::json::parse(e.detail, nullptr, false)},
                     {"remote_addr", e.remote_addr}});
    return Response::json(200, {{"entries", out}});
  });

  // The artifact store as a static tree (docs/design.md §4.1): public like any
  // artifact server; every path through the one resolver.
  if (ctx.opts.artifacts_is_dir()) add_artifact_routes(r, ctx.opts.artifacts);

  // ---- relays: console, files, mods (src/api/relay) ----
  add_relay_routes(r, ctx);
  add_tailscale_routes(r, ctx);  // POST/DELETE /api/servers/{id}/tailscale (src/api/tailscale)
  // ---- the IDE handoff and /dev/ redirects to the IDE origin (src/api/ide) ----
  if (ctx.ide)
    add_ide_api_routes(r, {ctx.store, ctx.secrets.jwt, ctx.ide_origin, *ctx.ide, ctx.agents,
                           auth::secure_for_public_url(ctx.opts.public_url)});

  // Every route of this table, generated from it, so it cannot drift.
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& rt : r.routes()) {
    std::vector<std::string> methods{rt.method == "WS" ? "get" : rt.method};
    if (rt.is_proxy) methods = rt.methods;  // a proxy route for any method is not described
    for (std::string m : methods) {
      std::transform(m.begin(), m.end(), m.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      nlohmann::json op = {
          {"responses",
           {{"default", {{"description", "JSON; errors are {error:{code,message}}"}}}}}};
      if (!rt.options.is_public)
        op["security"] = nlohmann::json::array(
            {{{"bearer", nlohmann::json::array()}}, {{"cookie", nlohmann::json::array()}}});
      if (rt.method == "WS") op["description"] = "WebSocket upgrade";
      paths[rt.pattern][m] = op;
    }
  }
  paths["/api/openapi.json"]["get"] = {
      {"responses", {{"200", {{"description", "this document"}}}}}};
  nlohmann::json doc = {
      {"openapi", "3.0.3"},
      {"info", {{"title", "zlh-api"}, {"version", kVersion}}},
      {"paths", paths},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
          {"cookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "zlh_session"}}}}}}}};
  r.add_sync(
      "GET", "/api/openapi.json", [doc](Request&) { return Response::json(200, doc); }, pub);

  // The built portal at / (docs/design.md §11), registered last so every API route
  // matches first. A single-page app: paths that are not files get
  // index.html. Unknown /api/ paths stay JSON 404s.
  if (!ctx.opts.portal.empty()) {
    r.add_sync(
        "GET", "/{path...}",
        [c](Request& req) {
          if (req.path.starts_with("/api/") || req.path.starts_with("/artifacts/"))
            return Response::error(Error::make(codes::kNotFound, "no route for GET " + req.path));
          int root = ::open(c->opts.portal.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
          if (root < 0) return Response::error(Error::make(codes::kNotFound, "portal not built"));
          safe_path::UniqueFd root_fd(root);
          std::string rel = req.params.count("path") ? req.params["path"] : "";
          auto fd = rel.empty() ? Result<int>(fail(codes::kNotFound, "root"))
                                : safe_path::open_beneath(root, rel, O_RDONLY);
          struct stat st {};
          if (fd && (::fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))) {
            ::close(*fd);
            fd = fail(codes::kNotFound, "not a file");
          }
          if (!fd) {
            if (fd.error().code == codes::kBadPath) return Response::error(fd.error());
            rel = "index.html";
            fd = safe_path::open_beneath(root, rel, O_RDONLY);
            if (fd && ::fstat(*fd, &st) != 0) {
              ::close(*fd);
              fd = fail(codes::kNotFound, "index.html");
            }
            if (!fd) return Response::error(Error::make(codes::kNotFound, "portal not built"));
          }
          static const std::map<std::string, std::string> kTypes = {
              {"html", "text/html; charset=utf-8"},
              {"js", "text/javascript; charset=utf-8"},
              {"css", "text/css; charset=utf-8"},
              {"json", "application/json"},
              {"svg", "image/svg+xml"},
              {"png", "image/png"},
              {"ico", "image/x-icon"},
              {"woff2", "font/woff2"},
              {"map", "application/json"},
              {"txt", "text/plain; charset=utf-8"}};
          auto dot = rel.rfind('.');
          auto it = dot == std::string::npos ? kTypes.end() : kTypes.find(rel.substr(dot + 1));
          Response res;
          res.headers.set("Content-Type",
                          it == kTypes.end() ? "application/octet-stream" : it->second);
          res.headers.set("Cache-Control",
                          rel == "index.html" ? "no-cache" : "public, max-age=3600");
          res.headers.set("X-Content-Type-Options", "nosniff");
          res.source =
              std::make_shared<http::FileSource>(safe_path::UniqueFd(*fd), 0, uint64_t(st.st_size));
          res.source_length = uint64_t(st.st_size);
          return res;
        },
        pub);
  }
  return r;
}

}  // namespace zlh::api
