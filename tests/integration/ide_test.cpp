// The browser IDE and port preview on the IDE origin (docs/ide.md) through
// the real zlh-api, a real agent and the code-server stand-in
// (tests/fixtures/code_server_standin.py: a page with relative URLs, a
// header echo, a WebSocket echo, /big downloads and a POST byte counter):
// the ticket handoff, the zlh_ide cookie, what reaches the container, logout,
// port preview. The IDE origin is http://{vmid}.localhost:8081 on the API's
// own loopback address (requests carry that Host). The real code-server in
// Chromium is tests/e2e/scenarios/ide.mjs.
// Dev vmids 2000-3999 (a random window of 100): no other test uses them.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "base/strings.hpp"
#include "harness.hpp"
#include "stream_client.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/" + name;
}

class IdeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = make_temp_dir("ide");
    std::string store = dir_ + "/store", keys = dir_ + "/keys";
    make_tool_store(dir_, store, keys, /*sign=*/false);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    std::string cs = dir_ + "/code-server.tar.gz";
    write_archive(
        cs, {ArchiveEntry::file(
                 "cs/bin/code-server",
                 "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/../lib/standin.py\" \"$@\"\n", 0755),
             ArchiveEntry::file("cs/lib/standin.py",
                                *fs::read_file(fixture("code_server_standin.py")), 0644)});
    auto add = zlhctl(
        {"catalog",
         "add",
         "--store",
         store,
         "--kind",
         "addon",
         "--id",
         "code-server",
         "--version",
         "4.96.4",
         "--file",
         cs,
         "--channel",
         "stable",
         "--strip",
         "1",
         "--port",
         "6000",
         "--health",
         "/healthz",
         "--launch",
         "bin/code-server --bind-addr {bind} --auth none --user-data-dir {data} {workspace}"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    ASSERT_EQ(
        zlhctl({"catalog", "sign", "--store", store, "--key", keys + "/catalog.key"}).exit_code, 0);
    vmid_lo_ = 2000 + int(crypto::random_bytes(1)[0] % 20) * 100;
    // Short tickets, so that expiry is seen without a minute's wait.
    api_ = new ApiProcess(
        dir_, store, keys,
        {"--dev-vmid-lo", std::to_string(vmid_lo_), "--dev-vmid-hi", std::to_string(vmid_lo_ + 99),
         "--ide-listen", (ide_addr_ = unique_loopback()) + ":8081", "--ide-origin",
         "http://{vmid}.localhost:8081", "--ide-ticket-ttl", "5"});
    ASSERT_TRUE(api_->start()) << api_->log();
  }
  static void TearDownTestSuite() {
    delete api_;
    api_ = nullptr;
    remove_unless_failed(dir_);
  }

  static std::string base() { return api_->base(); }

  // Registers a user; returns its session token (the zlh_session cookie value).
  static std::string user(const std::string& name) {
    auto r = http::request(
        "POST", api_->url("/api/auth/register"), json_type(),
        json{{"email", name + "@example.com"}, {"username", name}, {"password", "password-" + name}}
            .dump());
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message);
    return r ? json::parse(r->body, nullptr, false).value("token", "") : "";
  }
  static http::Headers cookie(const std::string& token, const std::string& more = "") {
    http::Headers h;
    h.add("Cookie", more.empty() ? "zlh_session=" + token : more + "; zlh_session=" + token);
    return h;
  }
  static http::Headers bearer(const std::string& token) {
    http::Headers h = json_type();
    h.add("Authorization", "Bearer " + token);
    return h;
  }
  static http::Headers json_type() {
    http::Headers h;
    h.add("Content-Type", "application/json");
    return h;
  }
  static http::ClientResponse get(const std::string& path, const http::Headers& h = {}) {
    auto r = http::request("GET", api_->url(path), h, {}, 30s);
    return r ? *r : http::ClientResponse{};
  }
  // A ready dev server with code-server on; returns {id, vmid}.
  static std::pair<int64_t, int> dev_server(const std::string& token, bool code_server = true) {
    auto r = http::request("POST", api_->url("/api/servers"), bearer(token),
                           json{{"type", "dev"},
                                {"runtime", "tool"},
                                {"version", "1.0.0"},
                                {"enable_code_server", code_server}}
                               .dump());
    EXPECT_TRUE(r && r->status == 202) << (r ? r->body : r.error().message);
    if (!r || r->status != 202) return {0, 0};
    auto j = json::parse(r->body);
    int64_t id = j["id"];
    std::string state;
    bool ready = eventually(
        [&] {
          auto s =
              http::request("GET", api_->url("/api/servers/" + std::to_string(id)), bearer(token));
          state = s ? json::parse(s->body, nullptr, false).value("state", "") : "";
          return state == "ready" || state == "error";
        },
        120s);
    EXPECT_TRUE(ready && state == "ready") << state << "\n" << api_->log().substr(0, 4000);
    return {id, j["server"]["vmid"].get<int>()};
  }
  static std::string ide(int vmid, const std::string& rest = "/") {
    return "/dev/" + std::to_string(vmid) + "/ide" + rest;
  }
  static std::string port(int vmid, int n, const std::string& rest = "/") {
    return "/dev/" + std::to_string(vmid) + "/port/" + std::to_string(n) + rest;
  }
  // The IDE listener, and the origin and Host of one server on it.
  static std::string ide_base() { return "http://" + ide_addr_ + ":8081"; }
  static std::string origin(int vmid) {
    return "http://" + std::to_string(vmid) + ".localhost:8081";
  }
  static std::string host(int vmid) { return std::to_string(vmid) + ".localhost:8081"; }
  // A request to the IDE origin of `vmid` (Host: <vmid>.localhost:8081).
  static http::ClientResponse at(int vmid, const std::string& method, const std::string& path,
                                 http::Headers h = {}) {
    if (!h.get("Host")) h.set("Host", host(vmid));
    auto r = http::request(method, ide_base() + path, h, {}, 30s);
    return r ? *r : http::ClientResponse{};
  }
  static http::Headers ide_cookie(const std::string& value, const std::string& more = "") {
    http::Headers h;
    h.add("Cookie", more.empty() ? "zlh_ide=" + value : more + "; zlh_ide=" + value);
    return h;
  }
  // POST /api/servers/{id}/ide-ticket as the browser does (session cookie +
  // CSRF header); the whole response.
  static http::ClientResponse ticket_call(const std::string& token, int64_t id,
                                          const std::string& body = "{}") {
    http::Headers h = cookie(token);
    h.add("X-ZLH-CSRF", "1");
    h.add("Content-Type", "application/json");
    auto r = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/ide-ticket"),
                           h, body, 30s);
    return r ? *r : http::ClientResponse{};
  }
  // The ticket URL's path and query on the IDE origin ("" on failure).
  static std::string ticket(const std::string& token, int64_t id, int vmid,
                            const std::string& body = "{}") {
    auto r = ticket_call(token, id, body);
    EXPECT_EQ(r.status, 200) << r.body;
    std::string url = json::parse(r.body, nullptr, false).value("url", "");
    EXPECT_EQ(url.rfind(origin(vmid) + "/dev/", 0), 0u) << url;
    return url.rfind(origin(vmid), 0) == 0 ? url.substr(origin(vmid).size()) : "";
  }
  // Trades a fresh ticket for the zlh_ide cookie's value.
  static std::string ide_login(const std::string& token, int64_t id, int vmid,
                               const std::string& body = "{}") {
    auto r = at(vmid, "GET", ticket(token, id, vmid, body));
    EXPECT_EQ(r.status, 302) << r.body;
    for (const auto& [k, v] : r.headers.items())
      if (strings::iequals(k, "Set-Cookie") && v.rfind("zlh_ide=", 0) == 0)
        return std::string(v.substr(8, v.find(';') - 8));
    ADD_FAILURE() << "no zlh_ide cookie";
    return "";
  }

  static inline std::string dir_, ide_addr_;
  static inline int vmid_lo_ = 0;
  static inline ApiProcess* api_ = nullptr;
};

TEST_F(IdeTest, TicketHandoffIsSingleUseBoundAndExpires) {
  std::string ann = user("ann"), bob = user("bob");
  auto [id, vmid] = dev_server(ann);
  auto [id2, vmid2] = dev_server(ann);
  ASSERT_GT(vmid, 0);
  ASSERT_GT(vmid2, 0);

  // The ticket's URL is the server's own origin, the IDE path, the ticket.
  auto r = ticket_call(ann, id);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["expires_in"], 5);
  EXPECT_EQ(r.headers.get("Cache-Control"), std::optional<std::string_view>("no-store"));
  std::string url = j["url"];
  ASSERT_EQ(url.rfind(origin(vmid) + ide(vmid, "/?zlh_ticket="), 0), 0u) << url;
  std::string path = url.substr(origin(vmid).size());

  // Redeemed on the right host: the cookie, then 302 to the same URL without the ticket.
  r = at(vmid, "GET", path);
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.headers.get("Location"), std::optional<std::string_view>(ide(vmid)));
  std::string set_cookie;
  for (const auto& [k, v] : r.headers.items())
    if (strings::iequals(k, "Set-Cookie")) set_cookie = std::string(v);
  EXPECT_EQ(set_cookie.rfind("zlh_ide=", 0), 0u) << set_cookie;
  EXPECT_NE(set_cookie.find("; Path=/dev/" + std::to_string(vmid) + "/;"), std::string::npos)
      << set_cookie;
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "http origin";
  EXPECT_EQ(set_cookie.find("eyJ"), std::string::npos) << "an opaque id, never a JWT";
  std::string c = set_cookie.substr(8, set_cookie.find(';') - 8);
  EXPECT_EQ(at(vmid, "GET", ide(vmid), ide_cookie(c)).status, 200);

  // Single use.
  EXPECT_EQ(at(vmid, "GET", path).status, 403);
  // Bound to its vmid: not on another server's path, even the same user's.
  std::string other = ticket(ann, id, vmid);
  std::string moved = ide(vmid2, other.substr(ide(vmid, "").size()));
  EXPECT_EQ(at(vmid2, "GET", moved).status, 403);
  // On a host that is not the server's own origin: nothing there.
  std::string t3 = ticket(ann, id, vmid);
  EXPECT_EQ(at(vmid2, "GET", t3).status, 404);
  EXPECT_EQ(at(vmid, "GET", t3,
               [&] {
                 http::Headers h;
                 h.set("Host", api_->addr() + ":8081");
                 return h;
               }())
                .status,
            404);
  // And the one cookie opens only its own server.
  r = at(vmid2, "GET", ide(vmid2), ide_cookie(c));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.headers.get("Location").value_or(""),
            base() + "/servers/" + std::to_string(id2) + "/ide?open=1");

  // Expires (5 s here; 60 s by default).
  std::string late = ticket(ann, id, vmid);
  std::this_thread::sleep_for(6s);
  EXPECT_EQ(at(vmid, "GET", late).status, 403);

  // Another user's server: 404, like one that does not exist; the same for
  // a port preview ticket.
  EXPECT_EQ(ticket_call(bob, id).status, 404);
  EXPECT_EQ(ticket_call(bob, id, R"({"port":3000})").status, 404);
  EXPECT_EQ(ticket_call(bob, 999999).status, 404);
  // The CSRF header stays mandatory with the cookie.
  http::Headers no_csrf = cookie(ann);
  no_csrf.add("Content-Type", "application/json");
  auto nc = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/ide-ticket"),
                          no_csrf, "{}");
  EXPECT_EQ(nc->status, 403);
  // A dev server without code-server has no IDE (but port preview).
  auto [plain_id, plain_vmid] = dev_server(ann, /*code_server=*/false);
  r = ticket_call(ann, plain_id);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "E_CONFLICT");
  EXPECT_EQ(ticket_call(ann, plain_id, R"({"port":3000})").status, 200);
  EXPECT_EQ(ticket_call(ann, plain_id, R"({"port":18888})").status, 400);
  EXPECT_EQ(ticket_call(ann, plain_id, R"({"port":80})").status, 400);
  EXPECT_EQ(ticket_call(ann, plain_id, R"({"nope":1})").status, 400);
  // A ticket of a session that logged out is worthless.
  std::string orphan = ticket(ann, id, vmid);
  http::Headers lo = cookie(ann);
  lo.add("X-ZLH-CSRF", "1");
  ASSERT_EQ(http::request("POST", api_->url("/api/auth/logout"), lo, "")->status, 200);
  EXPECT_EQ(at(vmid, "GET", orphan).status, 403);
}

TEST_F(IdeTest, CookiesNeverCrossOriginsAndWhatReachesTheContainer) {
  std::string cara = user("cara");
  auto [id, vmid] = dev_server(cara);
  ASSERT_GT(vmid, 0);
  std::string c = ide_login(cara, id, vmid);

  // The IDE cookie is no credential for the API.
  http::Headers as_api = ide_cookie(c);
  auto r = http::request("GET", api_->url("/api/servers"), as_api);
  EXPECT_EQ(r->status, 401);
  as_api.add("X-ZLH-CSRF", "1");
  r = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/ide-ticket"), as_api,
                    "{}");
  EXPECT_EQ(r->status, 401);
  // The session cookie is no credential for the IDE origin: to the portal.
  r = at(vmid, "GET", ide(vmid, "/x?y=1"), cookie(cara));
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers.get("Location").value_or(""),
            base() + "/servers/" + std::to_string(id) + "/ide?open=1");
  EXPECT_EQ(at(vmid, "GET", port(vmid, 3000), cookie(cara)).headers.get("Location").value_or(""),
            base() + "/servers/" + std::to_string(id) + "/ide?open=1&port=3000");
  EXPECT_EQ(at(vmid, "GET", ide(vmid), ide_cookie("forged")).status, 302);
  // The IDE origin serves /dev/<vmid>/ide and /port only; the API none of it.
  EXPECT_EQ(at(vmid, "GET", "/api/servers", ide_cookie(c)).status, 404);
  EXPECT_EQ(at(vmid, "GET", "/", ide_cookie(c)).status, 404);
  EXPECT_EQ(at(vmid, "GET", "/dev/" + std::to_string(vmid) + "/other/", ide_cookie(c)).status, 404);
  r = http::request("GET", api_->url(ide(vmid, "/x?y=1&zlh_ticket=leak")), cookie(cara));
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers.get("Location").value_or(""), origin(vmid) + ide(vmid, "/x?y=1"));
  // /dev/V/ide → 308 to the slash form, query kept.
  r = at(vmid, "GET", ide(vmid, "?folder=/home"), ide_cookie(c));
  EXPECT_EQ(r->status, 308);
  EXPECT_EQ(r->headers.get("Location"),
            std::optional<std::string_view>(ide(vmid, "/?folder=/home")));

  // The page and what it refers to, relative to the prefix.
  r = at(vmid, "GET", ide(vmid), ide_cookie(c));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("stand-in code-server"), std::string::npos);

  // What the container sees: neither platform cookie (others kept), no
  // Authorization, the forwarding headers; Host and Origin kept.
  http::Headers h = ide_cookie(c, "theme=dark; zlh_session=" + cara);
  h.add("Authorization", "Bearer " + cara);
  h.add("X-Forwarded-For", "6.6.6.6");
  h.add("Origin", origin(vmid));
  r = at(vmid, "GET", ide(vmid, "/headers?q=1"), h);
  ASSERT_EQ(r->status, 200) << r->body;
  auto seen = json::parse(r->body);
  EXPECT_EQ(seen["path"], "/headers?q=1");
  auto& sh = seen["headers"];
  EXPECT_EQ(sh.value("Cookie", ""), "theme=dark");
  EXPECT_FALSE(sh.contains("Authorization"));
  EXPECT_EQ(sh.value("X-Forwarded-Prefix", ""), ide(vmid, ""));
  EXPECT_EQ(sh.value("X-Forwarded-Proto", ""), "http");
  EXPECT_EQ(sh.value("X-Forwarded-For", ""), "127.0.0.1") << "the client's own claim is dropped";
  EXPECT_EQ(sh.value("X-Forwarded-Host", ""), host(vmid));
  EXPECT_EQ(sh.value("Host", ""), host(vmid));
  EXPECT_EQ(sh.value("Origin", ""), origin(vmid));
  // The container cannot set the platform's cookies; its own pass.
  int set_cookies = 0;
  for (const auto& [k, v] : r->headers.items())
    if (strings::iequals(k, "Set-Cookie")) {
      ++set_cookies;
      EXPECT_EQ(v.rfind("zlh_", 0), std::string::npos) << v;
    }
  EXPECT_EQ(set_cookies, 1);

  // The server document still says the server has an IDE.
  auto d = json::parse(
      http::request("GET", api_->url("/api/servers/" + std::to_string(id)), bearer(cara))->body);
  EXPECT_EQ(d["ide_url"], ide(vmid));
}

TEST_F(IdeTest, WebSocketOriginAndLogoutClosesIt) {
  std::string dora = user("dora");
  auto [id, vmid] = dev_server(dora);
  ASSERT_GT(vmid, 0);
  std::string c = ide_login(dora, id, vmid);
  std::string ws_url = "ws://" + ide_addr_ + ":8081" + ide(vmid, "/ws");
  auto ws_headers = [&](const std::string& cookie_value, const std::string& from) {
    http::Headers h = ide_cookie(cookie_value);
    h.set("Host", host(vmid));
    h.add("Origin", from);
    return h;
  };
  int status = 0;
  auto ws = http::WsClient::connect(ws_url, ws_headers(c, origin(vmid)), 10s, &status);
  ASSERT_TRUE(ws) << ws.error().message << " " << status;
  for (std::string msg : {std::string("ping"), std::string(200000, 'w')}) {
    ASSERT_TRUE((*ws)->send(msg, false));
    auto m = (*ws)->read(10s);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->data.size(), msg.size());
    EXPECT_TRUE(m->data == msg) << "payload differs";
  }
  // The Origin must be this server's IDE origin: not the portal's, not another server's.
  for (std::string bad_origin : {base(), origin(vmid + 1), std::string("http://evil.example")}) {
    status = 0;
    EXPECT_FALSE(http::WsClient::connect(ws_url, ws_headers(c, bad_origin), 10s, &status))
        << bad_origin;
    EXPECT_EQ(status, 403) << bad_origin;
  }
  status = 0;
  EXPECT_FALSE(http::WsClient::connect(ws_url, ws_headers("", origin(vmid)), 10s, &status));
  EXPECT_EQ(status, 401) << "an upgrade without the cookie is refused, not redirected";

  // Logout: plain requests at once, the open WebSocket within seconds.
  http::Headers lo = cookie(dora);
  lo.add("X-ZLH-CSRF", "1");
  ASSERT_EQ(http::request("POST", api_->url("/api/auth/logout"), lo, "")->status, 200);
  EXPECT_EQ(at(vmid, "GET", ide(vmid), ide_cookie(c)).status, 302);
  bool closed = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto m = (*ws)->read(1s);
    if (!m && m.error().code != codes::kTimeout) closed = true;
  }
  EXPECT_TRUE(closed) << "the IDE WebSocket outlived the session";
}

// A member holding "ide" opens the IDE like the owner; one without it gets
// 403 for a ticket; removing the member closes their open IDE WebSocket
// within seconds and their zlh_ide cookie no longer opens anything.
TEST_F(IdeTest, MemberWithIdeOpensItAndRemovalClosesIt) {
  std::string olga = user("olga"), pete = user("pete"), quin = user("quin");
  auto [id, vmid] = dev_server(olga);
  ASSERT_GT(vmid, 0);
  const std::string members = "/api/servers/" + std::to_string(id) + "/members";
  auto add = [&](const std::string& name, const std::string& perms) {
    auto r = http::request("POST", api_->url(members), bearer(olga),
                           R"({"username":")" + name + R"(","permissions":)" + perms + "}");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message);
  };
  add("pete", R"(["ide"])");
  add("quin", R"(["console","files.read","files.write","power","backups","schedules"])");
  EXPECT_EQ(ticket_call(quin, id).status, 403);
  std::string c = ide_login(pete, id, vmid);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(at(vmid, "GET", ide(vmid), ide_cookie(c)).status, 200);
  http::Headers h = ide_cookie(c);
  h.set("Host", host(vmid));
  h.add("Origin", origin(vmid));
  int status = 0;
  auto ws =
      http::WsClient::connect("ws://" + ide_addr_ + ":8081" + ide(vmid, "/ws"), h, 10s, &status);
  ASSERT_TRUE(ws) << status;
  ASSERT_TRUE((*ws)->send("ping", false));
  ASSERT_TRUE((*ws)->read(10s));

  auto me = json::parse(get("/api/auth/me", bearer(pete)).body, nullptr, false);
  auto r =
      http::request("DELETE", api_->url(members + "/" + std::to_string(me["user"].value("id", 0))),
                    bearer(olga), "");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message);
  bool closed = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto m = (*ws)->read(1s);
    if (!m && m.error().code != codes::kTimeout) closed = true;
  }
  EXPECT_TRUE(closed) << "the removed member's IDE WebSocket stayed open";
  EXPECT_NE(at(vmid, "GET", ide(vmid), ide_cookie(c)).status, 200);
  EXPECT_EQ(ticket_call(pete, id).status, 404);
}

// The zlh_ide cookie an IDE ticket gave also opens that server's port
// preview: here the stand-in's own :6000, as any port of the container,
// with the prefix stripped and announced, and WebSockets through it.
TEST_F(IdeTest, TheIdeCookieOpensPortPreviewWithItsPrefixAndWebSockets) {
  std::string gus = user("gus");
  auto [id, vmid] = dev_server(gus);
  ASSERT_GT(vmid, 0);
  std::string c = ide_login(gus, id, vmid);  // an IDE ticket, not a port one
  auto r = at(vmid, "GET", port(vmid, 6000), ide_cookie(c));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("stand-in code-server"), std::string::npos);
  r = at(vmid, "GET", port(vmid, 6000, "/headers?q=1"), ide_cookie(c));
  ASSERT_EQ(r.status, 200) << r.body;
  auto seen = json::parse(r.body);
  EXPECT_EQ(seen["path"], "/headers?q=1");
  EXPECT_EQ(seen["headers"].value("X-Forwarded-Prefix", ""), port(vmid, 6000, ""));
  EXPECT_EQ(seen["headers"].value("X-Forwarded-Host", ""), host(vmid));
  EXPECT_FALSE(seen["headers"].contains("Cookie")) << seen.dump();

  http::Headers h = ide_cookie(c);
  h.set("Host", host(vmid));
  h.add("Origin", origin(vmid));
  const std::string ws_url = "ws://" + ide_addr_ + ":8081" + port(vmid, 6000, "/ws");
  int status = 0;
  auto ws = http::WsClient::connect(ws_url, h, 10s, &status);
  ASSERT_TRUE(ws) << ws.error().message << " " << status;
  ASSERT_TRUE((*ws)->send("through the port", false));
  auto m = (*ws)->read(10s);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->data, "through the port");
  // Its Origin rule is the IDE's: this server's IDE origin only.
  h.set("Origin", base());
  status = 0;
  EXPECT_FALSE(http::WsClient::connect(ws_url, h, 10s, &status));
  EXPECT_EQ(status, 403);
}

TEST_F(IdeTest, PortPreviewOwnerOnlyPrefixStrippedAndTheAgentsPortRefused) {
  std::string erin = user("erin"), finn = user("finn");
  auto [id, vmid] = dev_server(erin, /*code_server=*/false);
  ASSERT_GT(vmid, 0);
  auto s = json::parse(
      http::request("GET", api_->url("/api/servers/" + std::to_string(id)), bearer(erin))->body);
  std::string ip = s["ip"];
  // A web server in the "container" (the local driver's address).
  std::string www = dir_ + "/www-" + std::to_string(vmid);
  ASSERT_TRUE(fs::make_dirs(www + "/sub", 0755));
  ASSERT_TRUE(fs::write_file_atomic(www + "/sub/hello.txt", "hello from the container\n"));
  const int n = 20000 + int(crypto::random_bytes(1)[0]) * 30 + vmid % 30;
  process::SpawnOptions so;
  so.argv = {"python3", "-m", "http.server", std::to_string(n), "--bind", ip, "--directory", www};
  auto srv = process::spawn(so);
  ASSERT_TRUE(srv) << srv.error().message;
  struct Kill {
    pid_t pid;
    ~Kill() {
      ::kill(pid, SIGKILL);
      (void)process::wait_exit(pid);
    }
  } kill_server{*srv};

  // The API lists it (from the agent's ports_listening).
  std::vector<int> listed;
  ASSERT_TRUE(eventually(
      [&] {
        auto p = http::request("GET", api_->url("/api/servers/" + std::to_string(id) + "/ports"),
                               bearer(erin));
        if (!p || p->status != 200) return false;
        listed = json::parse(p->body)["ports"].get<std::vector<int>>();
        return std::find(listed.begin(), listed.end(), n) != listed.end();
      },
      20s))
      << "port " << n << " not listed";
  EXPECT_EQ(std::find(listed.begin(), listed.end(), 18888), listed.end());
  EXPECT_EQ(
      http::request("GET", api_->url("/api/servers/" + std::to_string(id) + "/ports"), bearer(finn))
          ->status,
      404);

  // Open: a ticket for the port, then the listing through the prefix.
  std::string t = ticket(erin, id, vmid, "{\"port\":" + std::to_string(n) + "}");
  ASSERT_EQ(t.rfind(port(vmid, n, "/?zlh_ticket="), 0), 0u) << t;
  auto r = at(vmid, "GET", t);
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(r.headers.get("Location"), std::optional<std::string_view>(port(vmid, n)));
  std::string c;
  for (const auto& [k, v] : r.headers.items())
    if (strings::iequals(k, "Set-Cookie")) c = std::string(v.substr(8, v.find(';') - 8));
  r = at(vmid, "GET", port(vmid, n, "/sub/"), ide_cookie(c));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("hello.txt"), std::string::npos);
  r = at(vmid, "GET", port(vmid, n, "/sub/hello.txt"), ide_cookie(c));
  EXPECT_EQ(r.body, "hello from the container\n");
  // Without the slash: to the slash form.
  EXPECT_EQ(at(vmid, "GET", port(vmid, n, ""), ide_cookie(c)).status, 308);

  // The agent's port and ports below 1024: never, even for the owner.
  EXPECT_EQ(at(vmid, "GET", port(vmid, 18888, "/status"), ide_cookie(c)).status, 403);
  EXPECT_EQ(at(vmid, "GET", port(vmid, 80), ide_cookie(c)).status, 403);
  EXPECT_EQ(at(vmid, "GET", port(vmid, 22), ide_cookie(c)).status, 403);
  EXPECT_EQ(at(vmid, "GET", "/dev/" + std::to_string(vmid) + "/port/65536/", ide_cookie(c)).status,
            404);
  EXPECT_EQ(at(vmid, "GET", "/dev/" + std::to_string(vmid) + "/port/x/", ide_cookie(c)).status,
            404);

  // Not the owner: finn's own cookie opens only finn's server; once the
  // server is gone, erin's cookie opens nothing.
  auto [fid, fvmid] = dev_server(finn, /*code_server=*/false);
  std::string fc = ide_login(finn, fid, fvmid, "{\"port\":" + std::to_string(n) + "}");
  r = at(vmid, "GET", port(vmid, n, "/sub/"), ide_cookie(fc));
  // A cookie of another server counts as none: back to the portal, whose
  // ticket request is 404 for a non-owner.
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.headers.get("Location").value_or(""),
            base() + "/servers/" + std::to_string(id) + "/ide?open=1&port=" + std::to_string(n));
  EXPECT_EQ(r.body.find("hello.txt"), std::string::npos);
  EXPECT_EQ(ticket_call(finn, id, "{\"port\":" + std::to_string(n) + "}").status, 404);
  auto del = http::request("DELETE", api_->url("/api/servers/" + std::to_string(id)), bearer(erin));
  ASSERT_TRUE(del && del->status == 202);
  EXPECT_EQ(at(vmid, "GET", port(vmid, n, "/sub/"), ide_cookie(c)).status, 404);
}

TEST_F(IdeTest, GigabyteDownloadAndLargeUploadWithFlatMemory) {
  std::string dana = user("dana");
  auto [id, vmid] = dev_server(dana);
  ASSERT_GT(vmid, 0);
  std::string c = ide_login(dana, id, vmid);
  http::Headers h = ide_cookie(c);
  h.set("Host", host(vmid));
  const uint64_t before = proc_status_kib(api_->pid(), "VmRSS");
  const uint64_t n = 1ull << 30;
  auto req = http::StreamingRequest::open(
      "GET", ide_base() + ide(vmid, "/big?n=" + std::to_string(n)), h, {});
  ASSERT_TRUE(req) << req.error().message;
  auto head = (*req)->read_head(30s);
  ASSERT_TRUE(head) << head.error().message;
  ASSERT_EQ(head->status, 200);
  EXPECT_EQ(head->content_length, n);
  std::vector<char> buf(1 << 20);
  uint64_t got = 0;
  for (;;) {
    auto k = (*req)->read(buf.data(), buf.size());
    ASSERT_TRUE(k) << k.error().message << " after " << got;
    if (*k == 0) break;
    got += *k;
  }
  EXPECT_EQ(got, n);
  const uint64_t peak = proc_status_kib(api_->pid(), "VmHWM");
  RecordProperty("api_rss_before_kib", int(before));
  RecordProperty("api_hwm_after_kib", int(peak));
  EXPECT_LT(peak, before + 64 * 1024) << "zlh-api grew by " << (peak - before) / 1024 << " MiB";

  // 256 MiB up, chunked, counted by the IDE.
  http::StreamingRequest::Options o;
  o.chunked = true;
  auto up = http::StreamingRequest::open("POST", ide_base() + ide(vmid, "/upload"), h, o);
  ASSERT_TRUE(up) << up.error().message;
  std::string piece(1 << 20, 'u');
  for (int i = 0; i < 256; ++i) ASSERT_TRUE((*up)->write(piece));
  ASSERT_TRUE((*up)->finish());
  auto uh = (*up)->read_head(60s);
  ASSERT_TRUE(uh) << uh.error().message;
  ASSERT_EQ(uh->status, 200);
  auto body = (*up)->read_all(4096);
  ASSERT_TRUE(body);
  EXPECT_EQ(json::parse(*body)["bytes"], 256ull << 20);
  EXPECT_LT(proc_status_kib(api_->pid(), "VmHWM"), before + 64 * 1024);
}

TEST_F(IdeTest, StartingPageWhileTheIdeIsDownThenBackAndGoneAfterDelete) {
  std::string eve = user("eve");
  auto [id, vmid] = dev_server(eve);
  ASSERT_GT(vmid, 0);
  std::string c = ide_login(eve, id, vmid);
  ASSERT_EQ(at(vmid, "GET", ide(vmid), ide_cookie(c)).status, 200);
  auto stop = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/stop"),
                            bearer(eve), "");
  ASSERT_TRUE(stop && stop->status < 300) << (stop ? stop->body : stop.error().message);
  http::ClientResponse r;
  ASSERT_TRUE(eventually(
      [&] { return (r = at(vmid, "GET", ide(vmid), ide_cookie(c))).status == 502; }, 30s))
      << r.status;
  EXPECT_NE(r.body.find("Not answering yet"), std::string::npos);
  EXPECT_NE(r.body.find("http-equiv=\"refresh\""), std::string::npos)
      << "the page retries by itself";
  EXPECT_EQ(r.headers.get("Retry-After"), std::optional<std::string_view>("3"));
  auto start = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/start"),
                             bearer(eve), "");
  ASSERT_TRUE(start && start->status < 300) << (start ? start->body : start.error().message);
  EXPECT_TRUE(
      eventually([&] { return at(vmid, "GET", ide(vmid), ide_cookie(c)).status == 200; }, 60s));

  // Deleting the server ends access at once, before the container is gone.
  auto del = http::request("DELETE", api_->url("/api/servers/" + std::to_string(id)), bearer(eve));
  ASSERT_TRUE(del && del->status == 202);
  EXPECT_EQ(at(vmid, "GET", ide(vmid), ide_cookie(c)).status, 404);
}

}  // namespace
}  // namespace zlh::testing
