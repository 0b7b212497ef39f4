// Sharing a server (docs/sharing.md) through the real zlh-api, agent and
// shim (local driver): the permission matrix generated from authz::rules()
// — every server route × owner, stranger, a member holding what the route
// needs and a member holding everything else — with no side effect on a
// refusal; a removal cutting a live console; an ownership transfer.
// Dev vmids 46000-49999 (a random window of 100): no other test uses them.
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/authz/authz.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "harness.hpp"
#include "stream_client.hpp"

namespace zlh::testing {
namespace {

using api::authz::Need;
using api::authz::Rule;
using api::store::Permission;
using nlohmann::json;
using namespace std::chrono_literals;

std::string error_code(const http::ClientResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  return j["error"].value("code", "");
}
std::string error_message(const http::ClientResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  return j["error"].value("message", "");
}

// One concrete request for a rule: what the matrix sends.
struct Sample {
  std::string method, path, body;  // path under /api/servers/{id}: "" is the server itself
  bool ws = false;
  std::set<int> ok;  // statuses the allowed caller may get (the route's own answers)
  // Permissions the body itself needs besides the route's (a schedule's
  // power task needs "power"): the allowed member holds these too.
  std::vector<std::string> also = {};
};

// A request for each server route of the table, keyed "METHOD pattern". A
// rule without a sample fails the test: a new route must get one.
std::map<std::string, Sample> samples() {
  const std::set<int> any_answer = {200, 201, 202, 204, 400, 409, 422, 502, 503};
  return {
      {"GET /api/servers/{id}", {"GET", "", "", false, {200}}},
      {"GET /api/servers/{id}/stats", {"GET", "/stats", "", false, {200}}},
      {"GET /api/servers/{id}/stats/stream", {"GET", "/stats/stream", "", true, {101}}},
      {"GET /api/servers/{id}/activity", {"GET", "/activity", "", false, {200}}},
      {"DELETE /api/servers/{id}", {"DELETE", "", "", false, {202}}},
      {"GET /api/servers/{id}/members", {"GET", "/members", "", false, {200}}},
      {"POST /api/servers/{id}/members",
       {"POST", "/members", R"({"username":"extra","permissions":["console"]})", false, {201}}},
      {"PATCH /api/servers/{id}/members/{user_id}",
       {"PATCH", "/members/{extra}", R"({"permissions":["power"]})", false, {200}}},
      {"DELETE /api/servers/{id}/members/{user_id}",
       {"DELETE", "/members/{extra}", "", false, {200}}},
      {"POST /api/servers/{id}/transfer",
       {"POST", "/transfer", R"({"username":"extra"})", false, {201}}},
      {"GET /api/servers/{id}/transfer", {"GET", "/transfer", "", false, {200}}},
      {"DELETE /api/servers/{id}/transfer", {"DELETE", "/transfer", "", false, {200}}},
      {"GET /api/servers/{id}/console", {"GET", "/console", "", true, {101}}},
      {"POST /api/servers/{id}/command",
       {"POST", "/command", R"({"command":"say hi"})", false, {200, 202, 409}}},
      {"GET /api/servers/{id}/files/{rest...}", {"GET", "/files/list?path=.", "", false, {200}}},
      {"PUT /api/servers/{id}/files/{rest...}",
       {"PUT", "/files/write?path=matrix.txt", "written by the matrix", false, {200, 201}}},
      {"POST /api/servers/{id}/files/{rest...}",
       {"POST", "/files/upload?path=.", "", false, {400, 411, 415}}},
      {"POST /api/servers/{id}/files/mkdir",
       {"POST", "/files/mkdir", R"({"path":"matrix-dir"})", false, {200, 201}}},
      {"POST /api/servers/{id}/files/rename",
       {"POST", "/files/rename", R"({"from":"matrix-dir","to":"matrix-dir2"})", false, {200}}},
      {"POST /api/servers/{id}/files/delete",
       {"POST", "/files/delete", R"({"paths":["matrix-dir2"]})", false, {200}}},
      {"GET /api/servers/{id}/mods", {"GET", "/mods", "", false, {200, 409}}},
      {"POST /api/servers/{id}/mods/{rest...}",
       {"POST", "/mods/install", "{}", false, {400, 409, 422}}},
      {"DELETE /api/servers/{id}/mods/{rest...}",
       {"DELETE", "/mods/no-such-mod", "", false, {404, 409}}},
      {"POST /api/servers/{id}/start", {"POST", "/start", "", false, any_answer}},
      {"POST /api/servers/{id}/stop", {"POST", "/stop", "", false, any_answer}},
      {"POST /api/servers/{id}/restart", {"POST", "/restart", "", false, any_answer}},
      {"POST /api/servers/{id}/kill", {"POST", "/kill", "", false, any_answer}},
      {"POST /api/servers/{id}/host/start", {"POST", "/host/start", "", false, {200}}},
      {"POST /api/servers/{id}/host/stop", {"POST", "/host/stop", "", false, {200}}},
      {"POST /api/servers/{id}/host/restart", {"POST", "/host/restart", "", false, {200}}},
      {"GET /api/servers/{id}/backups", {"GET", "/backups", "", false, {200}}},
      {"POST /api/servers/{id}/backups", {"POST", "/backups", "{}", false, {202}}},
      {"POST /api/servers/{id}/backups/{b}/restore",
       {"POST", "/backups/999999/restore", "", false, {404}}},
      {"DELETE /api/servers/{id}/backups/{b}", {"DELETE", "/backups/999999", "", false, {404}}},
      {"GET /api/servers/{id}/backups/{b}/download",
       {"GET", "/backups/999999/download", "", false, {404}}},
      {"GET /api/servers/{id}/schedules", {"GET", "/schedules", "", false, {200}}},
      {"POST /api/servers/{id}/schedules",
       {"POST",
        "/schedules",
        R"({"name":"m","cron":"0 4 * * *","timezone":"UTC","tasks":[{"action":"power","payload":"restart"}]})",
        false,
        {201},
        {"power"}}},
      {"PATCH /api/servers/{id}/schedules/{s}",
       {"PATCH", "/schedules/999999", R"({"name":"x"})", false, {404}}},
      {"DELETE /api/servers/{id}/schedules/{s}", {"DELETE", "/schedules/999999", "", false, {404}}},
      {"POST /api/servers/{id}/schedules/{s}/run",
       {"POST", "/schedules/999999/run", "", false, {404}}},
      {"POST /api/servers/{id}/ide-ticket", {"POST", "/ide-ticket", "{}", false, {409, 503}}},
      {"GET /api/servers/{id}/ports", {"GET", "/ports", "", false, {200}}},
      {"POST /api/servers/{id}/tailscale", {"POST", "/tailscale", "", false, {503}}},
      {"DELETE /api/servers/{id}/tailscale", {"DELETE", "/tailscale", "", false, {200, 502}}},
  };
}

std::string key(const Rule& r) { return std::string(r.method) + " " + std::string(r.pattern); }

class SharingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = make_temp_dir("sharing");
    std::string store = dir_ + "/store", keys = dir_ + "/keys";
    make_tool_store(dir_, store, keys);
    const int lo = 46000 + int(crypto::random_bytes(1)[0] % 40) * 100;
    api_ = new ApiProcess(dir_, store, keys,
                          {"--dev-vmid-lo", std::to_string(lo), "--dev-vmid-hi",
                           std::to_string(lo + 99), "--registration-limit", "0"});
    ASSERT_TRUE(api_->start()) << api_->log();
    client_ = new ApiClient(api_->base());
  }
  static void TearDownTestSuite() {
    delete client_;
    delete api_;
    client_ = nullptr;
    api_ = nullptr;
    remove_unless_failed(dir_);
  }

  static http::ClientResponse call(const std::string& m, const std::string& p,
                                   const std::string& token, const std::string& body = "") {
    http::Headers h;
    if (!body.empty() && body.front() == '{') h.add("Content-Type", "application/json");
    return client_->call(m, p, token, body, h);
  }
  // A ready dev server of `owner`.
  static int64_t ready_server(const std::string& owner) {
    int64_t id = client_->create_dev(owner);
    EXPECT_GT(id, 0);
    auto s = client_->wait_state(id, owner, {"ready", "error"});
    EXPECT_EQ(s.value("state", ""), "ready") << s.dump();
    return id;
  }
  static int64_t user_id_of(const std::string& token) {
    auto me = call("GET", "/api/auth/me", token);
    return json::parse(me.body, nullptr, false)["user"].value("id", int64_t(0));
  }
  // Makes `name` a member of server `id` with `perms` (as `owner`); its token.
  static std::string member(int64_t id, const std::string& owner, const std::string& name,
                            const json& perms) {
    std::string token = client_->register_user(name);
    auto r = call("POST", "/api/servers/" + std::to_string(id) + "/members", owner,
                  json{{"username", name}, {"permissions", perms}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return token;
  }
  // The request of a sample on server `id`, as `token`: status (101 for a
  // WebSocket that opened) and the response.
  static std::pair<int, http::ClientResponse> send(const Sample& s, int64_t id,
                                                   const std::string& token, int64_t extra_id) {
    std::string path = s.path;
    if (auto at = path.find("{extra}"); at != std::string::npos)
      path.replace(at, 7, std::to_string(extra_id));
    path = "/api/servers/" + std::to_string(id) + path;
    if (s.ws) {
      http::Headers h;
      h.add("Authorization", "Bearer " + token);
      int status = 0;
      auto ws = http::WsClient::connect("ws://" + api_->addr() + ":8080" + path, h, 10s, &status);
      http::ClientResponse r;
      r.status = ws ? 101 : status;
      return {r.status, r};
    }
    auto r = call(s.method, path, token, s.body);
    return {r.status, r};
  }

  static inline std::string dir_;
  static inline ApiProcess* api_ = nullptr;
  static inline ApiClient* client_ = nullptr;
};

// What a refusal must not change, read as the owner and the admin: the
// server, its members, backups, schedules and files, the offers to
// `extra`, and every audit entry but the denials.
json snapshot(
    const std::function<http::ClientResponse(const std::string&, const std::string&)>& get,
    int64_t id, const std::string& owner, const std::string& extra, const std::string& admin) {
  auto read = [&](const std::string& p, const std::string& t) {
    return json::parse(get(p, t).body, nullptr, false);
  };
  const std::string srv = "/api/servers/" + std::to_string(id);
  json server = read(srv, owner);
  for (const char* moving : {"agent_last_seen", "updated_at", "job"}) server.erase(moving);
  json backups = read(srv + "/backups", owner);
  json audit = json::array();
  for (const auto& e : read("/api/admin/audit?limit=1000", admin).value("entries", json::array()))
    if (e.value("action", "") != "authz.denied") audit.push_back(e);
  return {{"server", server},
          {"members", read(srv + "/members", owner)},
          {"backups", backups.value("backups", json())},
          {"schedules", read(srv + "/schedules", owner)},
          {"files", read(srv + "/files/list?path=.", owner)},
          {"offers", read("/api/transfers", extra)},
          {"audit", audit}};
}

TEST_F(SharingTest, EveryRuleHasASample) {
  auto all = samples();
  for (const Rule& r : api::authz::rules()) {
    if (!std::string(r.pattern).starts_with("/api/servers/{id}")) continue;
    EXPECT_TRUE(all.count(key(r))) << "no sample request for " << key(r);
  }
}

}  // namespace
}  // namespace zlh::testing

namespace zlh::testing {
namespace {

// The matrix: refusals first (all of them, then one comparison of
// everything they could have changed), then the allowed calls.
TEST_F(SharingTest, PermissionMatrixFromTheRuleTable) {
  const std::string owner = client_->register_user("owner");
  const std::string stranger = client_->register_user("stranger");
  const std::string extra = client_->register_user("extra");
  const int64_t extra_id = user_id_of(extra);
  auto login = call("POST", "/api/auth/login", "",
                    R"({"identifier":"admin","password":"admin-password-1"})");
  const std::string admin = json::parse(login.body, nullptr, false).value("token", "");
  ASSERT_FALSE(admin.empty()) << login.body;
  const int64_t id = ready_server(owner);
  ASSERT_GT(id, 0);

  // For each permission: a member with only it, and one with all the others.
  std::map<Permission, std::string> with, without;
  for (size_t i = 0; i < api::store::kPermissionCount; ++i) {
    auto p = static_cast<Permission>(i);
    std::string name(api::store::to_string(p));
    std::replace(name.begin(), name.end(), '.', '_');
    json all_but = json::array();
    for (size_t k = 0; k < api::store::kPermissionCount; ++k)
      if (k != i) all_but.push_back(api::store::to_string(static_cast<Permission>(k)));
    with[p] = member(id, owner, "with_" + name, json::array({api::store::to_string(p)}));
    without[p] = member(id, owner, "without_" + name, all_but);
  }
  const std::string reader = member(id, owner, "reader", json::array());
  json everything = json::array();
  for (size_t k = 0; k < api::store::kPermissionCount; ++k)
    everything.push_back(api::store::to_string(static_cast<Permission>(k)));
  const std::string trusted = member(id, owner, "trusted", everything);

  auto get = [&](const std::string& p, const std::string& t) { return call("GET", p, t); };
  auto all = samples();
  const json before = snapshot(get, id, owner, extra, admin);
  int denials = 0;
  for (const Rule& rule : api::authz::rules()) {
    if (!std::string(rule.pattern).starts_with("/api/servers/{id}")) continue;
    ASSERT_TRUE(all.count(key(rule))) << key(rule);
    const Sample& s = all[key(rule)];
    SCOPED_TRACE(key(rule));
    auto [st, r] = send(s, id, stranger, extra_id);
    EXPECT_EQ(st, 404) << "a stranger: " << r.body;
    if (!s.ws) {
      EXPECT_EQ(error_code(r), "E_NOT_FOUND") << r.body;
    }
    if (rule.need == Need::kMember) continue;  // every member may
    const std::string& lacking = rule.need == Need::kOwner ? trusted : without[rule.permission];
    auto [dt, d] = send(s, id, lacking, extra_id);
    EXPECT_EQ(dt, 403) << "a member without it: " << d.body;
    ++denials;
    if (s.ws) continue;
    EXPECT_EQ(error_code(d), "E_FORBIDDEN") << d.body;
    if (rule.need == Need::kPermission) {
      EXPECT_NE(error_message(d).find(std::string(api::store::to_string(rule.permission))),
                std::string::npos)
          << d.body;
    }
  }
  const json after = snapshot(get, id, owner, extra, admin);
  for (const auto& [k, v] : before.items())
    EXPECT_EQ(after[k], v) << "a refusal changed " << k << ": " << after[k].dump().substr(0, 2000);
  // Each denial is in the audit log.
  auto audit = json::parse(call("GET", "/api/admin/audit?limit=1000", admin).body);
  int logged = 0;
  for (const auto& e : audit["entries"]) logged += e.value("action", "") == "authz.denied";
  EXPECT_EQ(logged, denials);

  int plus_members = 0;
  // Allowed: the owner for owner-only routes, the reader for member
  // routes, else the member holding exactly the permission. DELETE of the
  // server last.
  for (const Rule& rule : api::authz::rules()) {
    if (!std::string(rule.pattern).starts_with("/api/servers/{id}")) continue;
    if (key(rule) == "DELETE /api/servers/{id}") continue;
    const Sample& s = all[key(rule)];
    SCOPED_TRACE(key(rule));
    if (s.path == "/members/{extra}")  // the member PATCH and DELETE act on
      call("POST", "/api/servers/" + std::to_string(id) + "/members", owner,
           R"({"username":"extra","permissions":[]})");
    if (key(rule) == "DELETE /api/servers/{id}/transfer")
      call("POST", "/api/servers/" + std::to_string(id) + "/transfer", owner,
           R"({"username":"extra"})");
    const bool owner_only = rule.need == Need::kOwner || rule.need == Need::kOwnerOrSelf;
    const std::string& allowed = owner_only                   ? owner
                                 : rule.need == Need::kMember ? reader
                                                              : with[rule.permission];
    std::string plus;
    if (!s.also.empty()) {  // a member holding the rule's permission and what the body needs
      json perms = json::array({api::store::to_string(rule.permission)});
      for (const auto& p : s.also) perms.push_back(p);
      plus = member(id, owner, "plus_" + std::to_string(++plus_members), perms);
    }
    auto [st, r] = send(s, id, plus.empty() ? allowed : plus, extra_id);
    EXPECT_TRUE(s.ok.count(st)) << "status " << st << ": " << r.body;
    EXPECT_FALSE(st == 403 && error_code(r) == "E_FORBIDDEN") << r.body;
    EXPECT_FALSE(st == 404 && error_message(r) == "server not found") << r.body;
  }
  auto del = call("DELETE", "/api/servers/" + std::to_string(id), owner);
  EXPECT_EQ(del.status, 202) << del.body;
}

// A member's list shows the server as shared, with the owner and the
// member's permissions; the owner's shows all eight.
TEST_F(SharingTest, ListsMarkSharedServers) {
  const std::string ann = client_->register_user("ann");
  const int64_t id = ready_server(ann);
  const std::string ben = member(id, ann, "ben", json::array({"console", "files.read"}));
  auto find = [&](const std::string& token) {
    auto list = json::parse(call("GET", "/api/servers", token).body, nullptr, false);
    for (const auto& s : list.value("servers", json::array()))
      if (s.value("id", int64_t(0)) == id) return s;
    return json();
  };
  json mine = find(ann), shared = find(ben);
  ASSERT_TRUE(mine.is_object());
  ASSERT_TRUE(shared.is_object());
  EXPECT_FALSE(mine["shared"].get<bool>());
  EXPECT_EQ(mine["permissions"].size(), 8u);
  EXPECT_TRUE(shared["shared"].get<bool>());
  EXPECT_EQ(shared["permissions"], json::array({"console", "files.read"}));
  EXPECT_EQ(shared["owner"]["username"], "ann");
  // Bad invites change nothing.
  const std::string srv = "/api/servers/" + std::to_string(id) + "/members";
  EXPECT_EQ(call("POST", srv, ann, R"({"username":"nobody-here","permissions":[]})").status, 404);
  EXPECT_EQ(call("POST", srv, ann, R"({"username":"ben","permissions":["root"]})").status, 400);
  EXPECT_EQ(call("POST", srv, ann, R"({"username":"ben","permissions":[]})").status, 409);
  EXPECT_EQ(call("POST", srv, ann, R"({"username":"ann","permissions":[]})").status, 409);
  EXPECT_EQ(call("POST", srv, ann, R"({"permissions":[]})").status, 400);
  EXPECT_EQ(json::parse(call("GET", srv, ann).body)["members"].size(), 1u);
  // A member may leave; not remove someone else.
  const std::string cal = member(id, ann, "cal", json::array());
  EXPECT_EQ(call("DELETE", srv + "/" + std::to_string(user_id_of(ben)), cal).status, 403);
  EXPECT_EQ(call("DELETE", srv + "/" + std::to_string(user_id_of(cal)), cal).status, 200);
  EXPECT_EQ(call("GET", "/api/servers/" + std::to_string(id), cal).status, 404);
  EXPECT_EQ(call("GET", "/api/servers/" + std::to_string(id), ben).status, 200);
}

// Removing a member closes their open console within seconds; the
// owner's stays open.
TEST_F(SharingTest, RemovalCutsALiveConsole) {
  const std::string cara = client_->register_user("cara");
  const int64_t id = ready_server(cara);
  const std::string dan = member(id, cara, "dan", json::array({"console"}));
  const std::string path = "/api/servers/" + std::to_string(id) + "/console";
  auto open = [&](const std::string& token) {
    http::Headers h;
    h.add("Authorization", "Bearer " + token);
    int status = 0;
    auto ws = http::WsClient::connect("ws://" + api_->addr() + ":8080" + path, h, 10s, &status);
    EXPECT_TRUE(ws) << status;
    return ws ? std::move(*ws) : nullptr;
  };
  auto mine = open(cara), his = open(dan);
  ASSERT_TRUE(mine && his);
  // A member (any) also watches the live stats.
  http::Headers dh;
  dh.add("Authorization", "Bearer " + dan);
  int st = 0;
  auto stats = http::WsClient::connect(
      "ws://" + api_->addr() + ":8080/api/servers/" + std::to_string(id) + "/stats/stream", dh, 10s,
      &st);
  ASSERT_TRUE(stats) << st;
  ASSERT_TRUE(his->send("echo member-typed-$((6*7))\n", true));
  std::string out;
  ASSERT_TRUE(eventually(
      [&] {
        auto m = his->read(200ms);
        if (m && m->binary) out += m->data;
        return out.find("member-typed-42") != std::string::npos;
      },
      20s))
      << out;

  auto r = call(
      "DELETE",
      "/api/servers/" + std::to_string(id) + "/members/" + std::to_string(user_id_of(dan)), cara);
  ASSERT_EQ(r.status, 200) << r.body;
  bool closed = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto m = his->read(500ms);
    if (!m && m.error().code != codes::kTimeout) closed = true;
  }
  EXPECT_TRUE(closed) << "the removed member's console stayed open";
  bool stats_closed = false;
  const auto stats_deadline = std::chrono::steady_clock::now() + 10s;
  while (!stats_closed && std::chrono::steady_clock::now() < stats_deadline) {
    auto m = (*stats)->read(500ms);
    if (!m && m.error().code != codes::kTimeout) stats_closed = true;
  }
  EXPECT_TRUE(stats_closed) << "the removed member's stats stream stayed open";
  EXPECT_EQ(send(Sample{"GET", "/console", "", true, {}}, id, dan, 0).first, 404);
  ASSERT_TRUE(mine->send("echo owner-still-$((6*7))\n", true));
  std::string own;
  EXPECT_TRUE(eventually(
      [&] {
        auto m = mine->read(200ms);
        if (m && m->binary) own += m->data;
        return own.find("owner-still-42") != std::string::npos;
      },
      20s))
      << own;
}

// An offer waits for the recipient; accepting makes them the owner, the
// old owner loses access and their console.
TEST_F(SharingTest, TransferNeedsAcceptanceAndMovesOwnership) {
  const std::string eve = client_->register_user("eve");
  const std::string fay = client_->register_user("fay");
  const std::string gus = client_->register_user("gus");
  const int64_t id = ready_server(eve);
  const std::string srv = "/api/servers/" + std::to_string(id);
  EXPECT_TRUE(json::parse(call("GET", srv + "/transfer", eve).body)["transfer"].is_null());
  auto offer = call("POST", srv + "/transfer", eve, R"({"email":"fay@example.com"})");
  ASSERT_EQ(offer.status, 201) << offer.body;
  EXPECT_EQ(json::parse(call("GET", srv + "/transfer", eve).body)["transfer"]["to_username"],
            "fay");
  EXPECT_EQ(client_->server(id, fay).value("id", int64_t(0)), 0) << "not fay's before accepting";
  auto offers = json::parse(call("GET", "/api/transfers", fay).body);
  ASSERT_EQ(offers["transfers"].size(), 1u) << offers.dump();
  EXPECT_EQ(offers["transfers"][0]["from_username"], "eve");
  EXPECT_EQ(call("POST", "/api/transfers/" + std::to_string(id) + "/accept", gus).status, 404);

  http::Headers h;
  h.add("Authorization", "Bearer " + eve);
  int status = 0;
  auto ws =
      http::WsClient::connect("ws://" + api_->addr() + ":8080" + srv + "/console", h, 10s, &status);
  ASSERT_TRUE(ws) << status;
  auto acc = call("POST", "/api/transfers/" + std::to_string(id) + "/accept", fay);
  ASSERT_EQ(acc.status, 200) << acc.body;
  EXPECT_FALSE(json::parse(acc.body)["server"]["shared"].get<bool>());
  EXPECT_EQ(call("GET", srv, fay).status, 200);
  EXPECT_EQ(call("GET", srv, eve).status, 404);
  EXPECT_EQ(call("DELETE", srv, eve).status, 404);
  bool closed = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto m = (*ws)->read(500ms);
    if (!m && m.error().code != codes::kTimeout) closed = true;
  }
  EXPECT_TRUE(closed) << "the old owner's console stayed open";
  EXPECT_EQ(call("POST", "/api/transfers/" + std::to_string(id) + "/accept", fay).status, 404);
}

}  // namespace
}  // namespace zlh::testing

namespace zlh::testing {
namespace {

// A schedule's tasks run with the server's full rights, so a member may only
// schedule (or enable, retime, run) what they could do themselves.
TEST_F(SharingTest, ScheduledTasksNeedTheirOwnPermissions) {
  const std::string hal = client_->register_user("hal");
  const int64_t id = ready_server(hal);
  const std::string ivy = member(id, hal, "ivy", json::array({"schedules"}));
  const std::string jon = member(id, hal, "jon", json::array({"schedules", "power"}));
  const std::string srv = "/api/servers/" + std::to_string(id) + "/schedules";
  auto body = [](const std::string& task) {
    return R"({"name":"n","cron":"0 4 * * *","timezone":"UTC","tasks":[)" + task + "]}";
  };
  const std::string restart = R"({"action":"power","payload":"restart"})";
  auto r = call("POST", srv, ivy, body(restart));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(error_message(r).find("\"power\""), std::string::npos) << r.body;
  r = call("POST", srv, ivy, body(R"({"action":"command","payload":"say hi"})"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(error_message(r).find("\"console\""), std::string::npos) << r.body;
  r = call("POST", srv, ivy, body(R"({"action":"backup"})"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_TRUE(json::parse(call("GET", srv, hal).body)["schedules"].empty()) << "nothing stored";

  auto made = call("POST", srv, jon, body(restart));
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string one = srv + "/" + std::to_string(json::parse(made.body).value("id", 0));
  EXPECT_EQ(call("POST", one + "/run", ivy).status, 403);
  EXPECT_EQ(call("PATCH", one, ivy, R"({"cron":"* * * * *"})").status, 403);
  EXPECT_EQ(json::parse(call("GET", srv, hal).body)["schedules"][0]["cron"], "0 4 * * *");
  EXPECT_EQ(call("POST", one + "/run", jon).status, 202);
}

}  // namespace
}  // namespace zlh::testing

namespace zlh::testing {
namespace {

// The activity log names who did what: a member's power action and file
// write, the owner's member changes; members read it too.
TEST_F(SharingTest, ActivityNamesTheMembersWhoActed) {
  const std::string kim = client_->register_user("kim");
  const int64_t id = ready_server(kim);
  const std::string lou = member(id, kim, "lou", json::array({"power", "files.write"}));
  const std::string srv = "/api/servers/" + std::to_string(id);
  auto w = call("PUT", srv + "/files/write?path=from-lou.txt", lou, "hello");
  EXPECT_EQ(w.status / 100, 2) << w.body;
  EXPECT_EQ(call("POST", srv + "/host/restart", lou).status, 200);  // last: the agent restarts
  const std::string moe = member(id, kim, "moe", json::array());
  EXPECT_EQ(call("DELETE", srv + "/members/" + std::to_string(user_id_of(moe)), kim).status, 200);

  std::map<std::string, std::string> who;  // action → actor username (the latest)
  ASSERT_TRUE(eventually(
      [&] {
        auto a = json::parse(call("GET", srv + "/activity", lou).body, nullptr, false);
        who.clear();
        for (const auto& e : a.value("activity", json::array()))
          if (e["actor"].is_object() && !who.count(e.value("action", "")))
            who[e.value("action", "")] = e["actor"].value("username", "");
        return who.count("files.write") && who.count("member.remove");
      },
      10s));
  EXPECT_EQ(who["server.host_restart"], "lou");
  EXPECT_EQ(who["files.write"], "lou");
  EXPECT_EQ(who["member.add"], "kim");
  EXPECT_EQ(who["member.remove"], "kim");
  EXPECT_EQ(who.count("authz.denied"), 0u);
}

}  // namespace
}  // namespace zlh::testing
