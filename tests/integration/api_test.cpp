// zlh-api through its real binary with the local driver and real agents on
// loopback (docs/design.md §10): auth, forged tokens, CSRF, a dev server from
// create to running, ownership, an API kill -9 with running servers, and
// delete leaving no agent behind.
//
// With ZLH_TEST_DRIVER=proxmox (ctest: api_integration_test_proxmox) the same
// suite runs zlh-api --driver proxmox against tests/fixtures/fake_proxmox.py,
// whose containers hold real agents (fake_proxmox.hpp); with
// ZLH_TEST_DRIVER=lxc (api_integration_test_lxc, root only) --driver lxc
// with real unprivileged containers (test_driver.hpp).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/auth/jwt.hpp"
#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "harness.hpp"
#include "test_driver.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("api");
    data_ = dir_ + "/data";
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    make_tool_store(dir_, store_, keys_, /*sign=*/false);
    ASSERT_FALSE(HasFatalFailure());
    // A game variant, only for validation (never provisioned here).
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/server.jar", "PK not a real jar"));
    auto game = zlhctl({"catalog",     "add",
                        "--store",     store_,
                        "--kind",      "game",
                        "--id",        "minecraft",
                        "--variant",   "paper",
                        "--version",   "1.21.4",
                        "--file",      dir_ + "/server.jar",
                        "--java",      "21",
                        "--channel",   "stable",
                        "--game-kind", "jar",
                        "--mods-dir",  "plugins"});
    ASSERT_EQ(game.exit_code, 0) << game.err;
    ASSERT_EQ(
        zlhctl({"catalog", "sign", "--store", store_, "--key", keys_ + "/catalog.key"}).exit_code,
        0);
    // Random dev vmid window so parallel runs do not share loopback addresses.
    ASSERT_TRUE(fs::make_dirs(dir_ + "/portal/assets"));
    ASSERT_TRUE(
        fs::write_file_atomic(dir_ + "/portal/index.html", "<!doctype html><title>zlh</title>"));
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/portal/assets/app.js", "console.log('zlh')"));
    vmid_lo_ = driver_.vmid_lo(20000 + int(crypto::random_bytes(2)[0] & 0x7f) * 200,
                               uint8_t(crypto::random_bytes(1)[0]), 0);
    addr_ = unique_loopback();
    driver_.start(dir_, data_, store_, keys_);
    ASSERT_FALSE(HasFatalFailure());
    start_api();
  }
  // The container's root: <data>/containers/<vmid> (local) or the fake's.
  std::string ct_dir(int vmid) const { return driver_.ct_dir(vmid); }
  static bool proxmox() { return TestDriver::proxmox(); }
  void TearDown() override {
    stop_api(SIGKILL);
    driver_.stop();  // the fake cluster stops every container it runs
    // The containers' agents outlive the API by design; end them with the test.
    for (pid_t p : agents_under(data_)) ::kill(p, SIGKILL);
    auto d = opendir((data_ + "/containers").c_str());
    if (d) {
      while (auto* e = readdir(d))
        if (e->d_name[0] != '.') kill_services(data_ + "/containers/" + e->d_name);
      closedir(d);
    }
    remove_unless_failed(dir_);
  }
  void start_api() {
    process::SpawnOptions o;
    o.argv = {bin_dir() + "/zlh-api",
              "--listen",
              addr_ + ":8080",
              "--data",
              data_,
              "--artifacts",
              store_,
              "--catalog-key",
              keys_ + "/catalog.pub",
              "--dev-vmid-lo",
              std::to_string(vmid_lo_),
              "--dev-vmid-hi",
              std::to_string(vmid_lo_ + 199),
              "--portal",
              dir_ + "/portal",
              "--metrics-listen",
              addr_ + ":9464"};
    for (const auto& a : driver_.api_args()) o.argv.push_back(a);
    for (const auto& a : api_extra_) o.argv.push_back(a);
    o.env = {"PATH=/usr/bin:/bin", "ZLH_TEST_FAST_HASH=1", "ZLH_ADMIN_PASSWORD=admin-password-1"};
    int out = ::open((dir_ + "/api.out").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err = ::open((dir_ + "/api.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    o.stdout_fd = out;
    o.stderr_fd = err;
    auto p = process::spawn(o);
    ::close(out);
    ::close(err);
    ASSERT_TRUE(p) << p.error().message;
    api_pid_ = *p;
    ASSERT_TRUE(eventually(
        [&] {
          auto r = http::request("GET", url("/healthz"), {}, {}, 1s);
          return r && r->status == 200;
        },
        20s))
        << fs::read_file(dir_ + "/api.log", 1 << 16).value_or("");
  }
  void stop_api(int sig) {
    if (api_pid_ <= 0) return;
    ::kill(api_pid_, sig);
    int st = 0;
    ::waitpid(api_pid_, &st, 0);
    api_pid_ = -1;
  }
  std::string url(const std::string& p) { return "http://" + addr_ + ":8080" + p; }
  ApiClient api() const { return ApiClient("http://" + addr_ + ":8080"); }
  http::ClientResponse call(const std::string& m, const std::string& p, const std::string& token,
                            const std::string& body = "", http::Headers extra = {}) {
    return api().call(m, p, token, body, std::move(extra));
  }
  std::string user(const std::string& name) { return api().register_user(name); }
  json server(int64_t id, const std::string& token) { return api().server(id, token); }
  int64_t create_dev(const std::string& token) { return api().create_dev(token); }
  bool wait_ready(int64_t id, const std::string& token) {
    return api().wait_state(id, token, {"ready", "error"}, 60s).value("state", "") == "ready";
  }
  std::string secret() {
    auto text = fs::read_file(data_ + "/keys/jwt.secret", 4096);
    std::string t = *text;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return *crypto::base64_decode(t);
  }

  // One figure of zlh-api's /metrics (a line "name value"); -1 when absent.
  double metric(const std::string& name) {
    auto m = http::request("GET", "http://" + addr_ + ":9464/metrics", {}, {});
    if (!m || m->status != 200) return -1;
    auto pos = m->body.find("\n" + name + " ");
    return pos == std::string::npos ? -1 : std::stod(m->body.substr(pos + name.size() + 2));
  }
  std::unique_ptr<http::WsClient> stream(int64_t id, const std::string& token) {
    http::Headers h;
    h.add("Authorization", "Bearer " + token);
    h.add("Origin", "http://" + addr_ + ":8080");  // the portal's own
    auto ws = http::WsClient::connect(
        "ws://" + addr_ + ":8080/api/servers/" + std::to_string(id) + "/stats/stream", h, 10s);
    EXPECT_TRUE(ws) << ws.error().message;
    return ws ? std::move(*ws) : nullptr;
  }

  std::string dir_, data_, store_, keys_, addr_;
  std::vector<std::string> api_extra_;  // more zlh-api flags for start_api
  int vmid_lo_ = 20000;
  pid_t api_pid_ = -1;
  TestDriver driver_;
};

// A stream viewer's messages: the ring first, then samples; their times in order.
struct Viewer {
  std::unique_ptr<http::WsClient> ws;
  json ring;
  std::vector<json> samples;
  // Reads what has come within `wait`; false when the stream ended.
  bool read(std::chrono::milliseconds wait) {
    auto m = ws->read(wait);
    if (!m) return m.error().code == codes::kTimeout;
    auto j = json::parse(m->data, nullptr, false);
    if (ring.is_null())
      ring = j;
    else
      samples.push_back(j);
    return true;
  }
  std::vector<int64_t> times() const {
    std::vector<int64_t> t;
    for (const auto& s : samples) t.push_back(s["t"]);
    return t;
  }
};

TEST_F(ApiTest, RegisterLoginLogoutMe) {
  std::string t = user("alice");
  ASSERT_FALSE(t.empty());
  auto me = call("GET", "/api/auth/me", t);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["user"]["username"], "alice");
  EXPECT_EQ(
      call("POST", "/api/auth/register", "",
           json{{"email", "alice@example.com"}, {"username", "alice2"}, {"password", "password-x"}}
               .dump())
          .status,
      409);
  auto bad = call("POST", "/api/auth/login", "",
                  json{{"identifier", "alice"}, {"password", "wrong-password"}}.dump());
  EXPECT_EQ(bad.status, 401);
  auto ok = call("POST", "/api/auth/login", "",
                 json{{"identifier", "alice@example.com"}, {"password", "password-alice"}}.dump());
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(std::string(ok.headers.get("Set-Cookie").value_or("")).find("zlh_session="),
            std::string::npos);
  EXPECT_NE(std::string(ok.headers.get("Set-Cookie").value_or("")).find("HttpOnly"),
            std::string::npos);
  std::string t2 = json::parse(ok.body)["token"];
  EXPECT_EQ(call("POST", "/api/auth/logout", t2).status, 200);
  EXPECT_EQ(call("GET", "/api/auth/me", t2).status, 401);  // that session is revoked
  EXPECT_EQ(call("GET", "/api/auth/me", t).status, 200);   // the other one is not
  // Rate limit: repeated failures for one account → 429.
  int last = 0;
  for (int i = 0; i < 8; ++i)
    last = call("POST", "/api/auth/login", "",
                json{{"identifier", "alice"}, {"password", "nope-nope"}}.dump())
               .status;
  EXPECT_EQ(last, 429);
  // No password or token in the log.
  auto log = fs::read_file(dir_ + "/api.log", 1 << 22).value_or("");
  EXPECT_EQ(log.find("password-alice"), std::string::npos);
  EXPECT_EQ(log.find(t), std::string::npos);
}

TEST_F(ApiTest, ForgedTokensAre401AndCookieWritesNeedCsrf) {
  std::string t = user("bob");
  auto me = json::parse(call("GET", "/api/auth/me", t).body);
  std::string sub = std::to_string(me["user"]["id"].get<int64_t>());
  auto parts = [&](const std::string& tok) {
    auto a = tok.find('.'), b = tok.rfind('.');
    return std::tuple{tok.substr(0, a), tok.substr(a + 1, b - a - 1), tok.substr(b + 1)};
  };
  auto [h, c, s] = parts(t);
  json claims = json::parse(*crypto::base64url_decode(c));
  int64_t now = int64_t(std::time(nullptr));
  std::vector<std::pair<std::string, std::string>> forged;
  forged.push_back(
      {"alg none", crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + c + "."});
  json changed = claims;
  changed["sub"] = "1";  // the admin
  forged.push_back(
      {"changed claims", h + "." + crypto::base64url_encode(changed.dump()) + "." + s});
  forged.push_back({"another secret",
                    api::auth::sign_hs256_raw(std::string(32, 'k'),
                                              R"({"alg":"HS256","typ":"JWT"})", claims.dump())});
  json expired = claims;
  expired["iat"] = now - 7200;
  expired["exp"] = now - 3600;
  forged.push_back({"expired", api::auth::sign_hs256_raw(secret(), R"({"alg":"HS256","typ":"JWT"})",
                                                         expired.dump())});
  forged.push_back(
      {"HS512 header",
       api::auth::sign_hs256_raw(secret(), R"({"alg":"HS512","typ":"JWT"})", claims.dump())});
  json other_sid = claims;
  other_sid["sid"] = "made-up-session";
  forged.push_back(
      {"unknown session",
       api::auth::sign_hs256_raw(secret(), R"({"alg":"HS256","typ":"JWT"})", other_sid.dump())});
  // The control: the real secret with the real claims is accepted.
  ASSERT_EQ(
      call("GET", "/api/auth/me",
           api::auth::sign_hs256_raw(secret(), R"({"alg":"HS256","typ":"JWT"})", claims.dump()))
          .status,
      200);
  for (auto& [what, tok] : forged) {
    auto r = call("GET", "/api/servers", tok);
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_EQ(
        call("POST", "/api/servers", tok, R"({"type":"dev","runtime":"tool","version":"1.0.0"})")
            .status,
        401)
        << what;
  }
  EXPECT_EQ(call("GET", "/api/servers", "").status, 401);
  // The artifact store is public; paths stay inside it.
  auto cat = call("GET", "/artifacts/catalog.json", "");
  EXPECT_EQ(cat.status, 200);
  EXPECT_EQ(cat.body, fs::read_file(store_ + "/catalog.json", 1 << 20).value_or("x"));
  EXPECT_EQ(call("GET", "/artifacts/..%2Fkeys%2Fapi.key", "").status, 400);
  EXPECT_EQ(call("GET", "/artifacts/../keys/api.key", "").status / 100, 4);
  // Logged out.
  ASSERT_EQ(call("POST", "/api/auth/logout", t).status, 200);
  EXPECT_EQ(call("GET", "/api/servers", t).status, 401);

  // Cookie-authenticated writes need X-ZLH-CSRF: 1.
  std::string t2 = user("bob2");
  http::Headers cookie;
  cookie.add("Cookie", "zlh_session=" + t2);
  EXPECT_EQ(call("GET", "/api/servers", "", "", cookie).status, 200);
  auto no_csrf = call("POST", "/api/servers", "",
                      R"({"type":"dev","runtime":"tool","version":"1.0.0"})", cookie);
  EXPECT_EQ(no_csrf.status, 403) << no_csrf.body;
  auto list = json::parse(call("GET", "/api/servers", t2).body);
  EXPECT_EQ(list["servers"].size(), 0u);  // nothing was created
  http::Headers with_csrf = cookie;
  with_csrf.add("X-ZLH-CSRF", "1");
  auto bad_input = call("POST", "/api/servers", "",
                        R"({"type":"dev","runtime":"nope","version":"1"})", with_csrf);
  EXPECT_EQ(bad_input.status, 400) << bad_input.body;  // past auth and CSRF: validated
}

TEST_F(ApiTest, ServesThePortalAndMetrics) {
  auto index = call("GET", "/", "");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>zlh</title>");
  EXPECT_EQ(index.headers.get("Content-Type"),
            std::optional<std::string_view>("text/html; charset=utf-8"));
  auto js = call("GET", "/assets/app.js", "");
  EXPECT_EQ(js.body, "console.log('zlh')");
  EXPECT_EQ(js.headers.get("Content-Type"),
            std::optional<std::string_view>("text/javascript; charset=utf-8"));
  EXPECT_EQ(call("GET", "/servers/12", "").body, index.body);  // a client-side route
  auto api404 = call("GET", "/api/nope", "");
  EXPECT_EQ(api404.status / 100, 4);
  EXPECT_NE(api404.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(call("GET", "/..%2F..%2Fetc%2Fpasswd", "").body.find("root:"), std::string::npos);
  auto m = *http::request("GET", "http://" + addr_ + ":9464/metrics", {}, {});
  EXPECT_NE(m.body.find("zlh_jobs{state=\"queued\"}"), std::string::npos) << m.body.substr(0, 2000);
  EXPECT_NE(m.body.find("zlh_http_requests_total"), std::string::npos);
}

// L1: a cross-site HTML form can post text/plain or urlencoded bodies, never
// JSON; JSON routes refuse anything not declared JSON before reading it.
TEST_F(ApiTest, JsonRoutesRefuseBodiesNotDeclaredJson) {
  std::string erin = user("erin");
  const std::string login = json{{"identifier", "erin"}, {"password", "password-erin"}}.dump();
  for (std::string type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonx", ""}) {
    http::Headers h;
    if (!type.empty()) h.add("Content-Type", type);
    auto r = http::request("POST", url("/api/auth/login"), h, login);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415) << type << ": " << r->body;
    EXPECT_NE(r->body.find("E_UNSUPPORTED_MEDIA"), std::string::npos);
    EXPECT_EQ(r->headers.get("Set-Cookie"), std::nullopt) << "no session for a form post";
    r = http::request(
        "POST", url("/api/auth/register"), h,
        json{{"email", "f@example.com"}, {"username", "f"}, {"password", "password-f1"}}.dump());
    EXPECT_EQ(r->status, 415) << type;
    h.add("Authorization", "Bearer " + erin);
    r = http::request("POST", url("/api/servers"), h, json{{"type", "dev"}}.dump());
    EXPECT_EQ(r->status, 415) << type;
  }
  for (std::string type :
       {"application/json", "application/json; charset=utf-8", "Application/JSON"}) {
    http::Headers h;
    h.add("Content-Type", type);
    auto r = http::request("POST", url("/api/auth/login"), h, login);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << type << ": " << r->body;
  }
}

// M2: parallel wrong guesses get no more than the account's budget (5), and
// the user's name and email share it.
TEST_F(ApiTest, ParallelLoginGuessesGetNoMoreThanTheBudget) {
  user("hal");
  std::atomic<int> unauthorized{0}, limited{0}, other{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      http::Headers h;
      h.add("Content-Type", "application/json");
      auto r = http::request(
          "POST", url("/api/auth/login"), h,
          json{{"identifier", i % 2 ? "hal" : "HAL@example.com"}, {"password", "wrong-guess-1"}}
              .dump());
      if (!r) return other++;
      if (r->status == 401) return unauthorized++;
      if (r->status == 429 || r->status == 503) return limited++;
      return other++;
    });
  for (auto& t : ts) t.join();
  EXPECT_LE(unauthorized.load(), 5);
  EXPECT_GE(limited.load(), 3);
  EXPECT_EQ(other.load(), 0);
  // The budget is spent: even the right password waits now.
  auto r = call("POST", "/api/auth/login", "",
                json{{"identifier", "hal"}, {"password", "password-hal"}}.dump());
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_TRUE(r.headers.get("Retry-After").has_value());
}

// M4: an admin sets a user's quotas; beyond one a create is 403 E_QUOTA
// naming it, and nothing is created. Non-admins cannot see or set quotas.
TEST_F(ApiTest, QuotaMatrixRefusesCreatesBeyondAQuota) {
  std::string gus = user("gus");
  auto me = json::parse(call("GET", "/api/auth/me", gus).body);
  const std::string quotas =
      "/api/admin/users/" + std::to_string(me["user"]["id"].get<int64_t>()) + "/quotas";
  auto admin_login = call("POST", "/api/auth/login", "",
                          json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
  ASSERT_EQ(admin_login.status, 200);
  const std::string admin = json::parse(admin_login.body)["token"];
  EXPECT_EQ(call("GET", quotas, gus).status, 404);
  EXPECT_EQ(call("PUT", quotas, gus, json{{"servers", 0}}.dump()).status, 404);
  EXPECT_EQ(call("PUT", quotas, admin, json{{"servers", -1}}.dump()).status, 400);
  EXPECT_EQ(call("PUT", quotas, admin, json{{"nope", 1}}.dump()).status, 400);
  auto g = call("GET", quotas, admin);
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_TRUE(json::parse(g.body)["quotas"]["servers"]["override"].is_null());

  auto create = [&](int memory, int disk) {
    return call("POST", "/api/servers", gus,
                json{{"type", "dev"},
                     {"runtime", "tool"},
                     {"version", "1.0.0"},
                     {"memory_mb", memory},
                     {"disk_gb", disk}}
                    .dump());
  };
  auto count = [&] { return json::parse(call("GET", "/api/servers", gus).body)["servers"].size(); };
  ASSERT_EQ(
      call("PUT", quotas, admin, json{{"servers", 2}, {"memory_mb", 1024}, {"disk_gb", 10}}.dump())
          .status,
      200);
  ASSERT_EQ(create(512, 4).status, 202);
  struct Case {
    int memory, disk;
    const char* quota;
  };
  for (auto c : {Case{768, 1, "memory_mb"}, Case{256, 7, "disk_gb"}}) {
    auto r = create(c.memory, c.disk);
    EXPECT_EQ(r.status, 403) << r.body;
    auto e = json::parse(r.body)["error"];
    EXPECT_EQ(e["code"], "E_QUOTA");
    EXPECT_NE(e["message"].get<std::string>().find(c.quota), std::string::npos) << e.dump();
  }
  ASSERT_EQ(create(256, 2).status, 202);
  auto third = create(256, 1);
  EXPECT_EQ(third.status, 403);
  EXPECT_NE(third.body.find("servers"), std::string::npos) << third.body;
  EXPECT_EQ(count(), 2u) << "nothing created beyond a quota";
  // Lifted (0 = unlimited): the create goes through.
  ASSERT_EQ(
      call("PUT", quotas, admin, json{{"servers", 0}, {"memory_mb", 0}, {"disk_gb", 0}}.dump())
          .status,
      200);
  EXPECT_EQ(create(256, 1).status, 202);
  EXPECT_EQ(count(), 3u);
}

// M2: registration modes (open, invite, closed) and a per-address limit.
TEST(ApiRegistration, InviteModeClosedModeAndTheRateLimit) {
  std::string dir = make_temp_dir("registration");
  ASSERT_EQ(zlhctl({"keygen", "--out", dir + "/keys"}).exit_code, 0);
  auto reg = [](const std::string& base, const std::string& name, const std::string& invite) {
    json b = {
        {"email", name + "@example.com"}, {"username", name}, {"password", "password-" + name}};
    if (!invite.empty()) b["invite"] = invite;
    http::Headers h;
    h.add("Content-Type", "application/json");
    auto r = http::request("POST", base + "/api/auth/register", h, b.dump());
    return r ? r->status : 0;
  };
  {
    ApiProcess api(dir + "/invite", dir + "/store", dir + "/keys",
                   {"--registration", "invite", "--registration-limit", "6"});
    ASSERT_TRUE(fs::make_dirs(dir + "/invite"));
    ASSERT_TRUE(api.start()) << api.log();
    const std::string base = api.base();
    EXPECT_EQ(reg(base, "ivan", ""), 403) << "no invite";
    EXPECT_EQ(reg(base, "ivan", "made-up-code"), 403);
    http::Headers h;
    h.add("Content-Type", "application/json");
    auto admin =
        http::request("POST", base + "/api/auth/login", h,
                      json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
    ASSERT_TRUE(admin && admin->status == 200);
    http::Headers ah = h;
    ah.add("Authorization", "Bearer " + json::parse(admin->body)["token"].get<std::string>());
    auto inv = http::request("POST", base + "/api/admin/invites", ah,
                             json{{"expires_in_hours", 1}}.dump());
    ASSERT_TRUE(inv && inv->status == 201) << (inv ? inv->body : "");
    const std::string code = json::parse(inv->body)["code"];
    EXPECT_EQ(reg(base, "ivan", code), 201);
    EXPECT_EQ(reg(base, "jane", code), 403) << "an invite is single use";
    // Only admins make invites.
    auto ivan = http::request("POST", base + "/api/auth/login", h,
                              json{{"identifier", "ivan"}, {"password", "password-ivan"}}.dump());
    ASSERT_TRUE(ivan && ivan->status == 200);
    http::Headers ih = h;
    ih.add("Authorization", "Bearer " + json::parse(ivan->body)["token"].get<std::string>());
    EXPECT_EQ(http::request("POST", base + "/api/admin/invites", ih, "{}")->status, 404);
    // 4 attempts so far from this address; the limit is 6 an hour.
    EXPECT_EQ(reg(base, "kim", ""), 403);
    EXPECT_EQ(reg(base, "kim", ""), 403);
    EXPECT_EQ(reg(base, "kim", ""), 429);
  }
  {
    ApiProcess api(dir + "/closed", dir + "/store", dir + "/keys", {"--registration", "closed"});
    ASSERT_TRUE(fs::make_dirs(dir + "/closed"));
    ASSERT_TRUE(api.start()) << api.log();
    EXPECT_EQ(reg(api.base(), "lou", ""), 403);
  }
  remove_unless_failed(dir);
}

// L3: the generated first admin password never reaches stdout (the journal)
// or the log; it is in <data>/initial-admin-password, mode 0600.
TEST(ApiFirstStart, GeneratedAdminPasswordGoesToA0600FileOnly) {
  std::string dir = make_temp_dir("first-admin");
  ASSERT_EQ(zlhctl({"keygen", "--out", dir + "/keys"}).exit_code, 0);
  ApiProcess api(dir, dir + "/store", dir + "/keys");
  api.generate_admin_password();
  ASSERT_TRUE(api.start()) << api.log();
  const std::string base = api.base();
  const std::string file = dir + "/data/initial-admin-password";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string password = fs::read_file(file, 1024).value_or("");
  while (!password.empty() && password.back() == '\n') password.pop_back();
  ASSERT_GE(password.size(), 20u);
  std::string printed = fs::read_file(dir + "/api.out", 1 << 20).value_or("");
  std::string logged = fs::read_file(dir + "/api.log", 1 << 20).value_or("");
  EXPECT_NE(printed.find(file), std::string::npos) << printed;
  EXPECT_EQ(printed.find(password), std::string::npos) << "the password is on stdout";
  EXPECT_EQ(logged.find(password), std::string::npos) << "the password is in the log";
  http::Headers h;
  h.add("Content-Type", "application/json");
  auto login = http::request("POST", base + "/api/auth/login", h,
                             json{{"identifier", "admin"}, {"password", password}}.dump());
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200) << login->body;
  remove_unless_failed(dir);
}

// M1/L4: made-up methods mint no metric series, and /metrics on the API's
// listener is for admins only (the scrape goes to --metrics-listen).
TEST_F(ApiTest, MetricLabelsAreClosedSetsAndMetricsNeedAnAdmin) {
  auto series = [&] {
    auto m = http::request("GET", "http://" + addr_ + ":9464/metrics", {}, {});
    EXPECT_TRUE(m && m->status == 200);
    std::set<std::string> out;
    std::string body = m ? m->body : "";
    for (size_t at = 0; (at = body.find("\nzlh_http_requests_total{", at)) != std::string::npos;
         ++at)
      out.insert(body.substr(at + 1, body.find(' ', at + 1) - at - 1));
    return out;
  };
  auto before = series();
  for (int i = 0; i < 2000; ++i) {
    auto r = http::request("X" + std::to_string(i) + "METHOD",
                           url("/api/nope-" + std::to_string(i)), {}, {});
    ASSERT_TRUE(r) << r.error().message;
  }
  auto after = series();
  EXPECT_LE(after.size(), before.size() + 3)
      << "series grew from " << before.size() << " to " << after.size();
  bool other = false;
  for (const auto& s : after) {
    EXPECT_EQ(s.find("METHOD"), std::string::npos) << s;
    EXPECT_EQ(s.find("nope-"), std::string::npos) << s;
    other = other || s.find("method=\"OTHER\"") != std::string::npos;
  }
  EXPECT_TRUE(other) << "made-up methods count as OTHER";

  EXPECT_EQ(call("GET", "/metrics", "").status, 401);
  std::string dora = user("dora");
  EXPECT_EQ(call("GET", "/metrics", dora).status, 404);
  auto admin = call("POST", "/api/auth/login", "",
                    json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
  ASSERT_EQ(admin.status, 200) << admin.body;
  auto m = call("GET", "/metrics", json::parse(admin.body)["token"]);
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("zlh_http_requests_total"), std::string::npos);
}

TEST_F(ApiTest, CreateValidationRefusesBadInput) {
  std::string t = user("carol");
  auto code = [&](const json& body) {
    auto r = call("POST", "/api/servers", t, body.dump());
    auto j = json::parse(r.body, nullptr, false);
    return std::pair{r.status,
                     j.is_object() && j.contains("error") ? j["error"].value("code", "") : ""};
  };
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "cobol"}, {"version", "1"}}),
            std::pair(400, std::string("E_INVALID")));
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "tool"}, {"version", "9.9.9"}}),
            std::pair(400, std::string("E_INVALID")));
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}, {"memory_mb", 10}}),
            std::pair(400, std::string("E_INVALID")));
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}, {"cpu_cores", 0}}),
            std::pair(400, std::string("E_INVALID")));
  EXPECT_EQ(code({{"type", "vm"}}), std::pair(400, std::string("E_INVALID")));
  // This store offers no code-server: refused up front, naming the field.
  {
    auto r = call("POST", "/api/servers", t,
                  json{{"type", "dev"},
                       {"runtime", "tool"},
                       {"version", "1.0.0"},
                       {"enable_code_server", true}}
                      .dump());
    EXPECT_EQ(r.status, 400) << r.body;
    auto e = json::parse(r.body, nullptr, false)["error"];
    EXPECT_EQ(e.value("code", ""), "E_INVALID") << r.body;
    EXPECT_EQ(e.value("field", ""), "enable_code_server") << r.body;
  }
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}, {"disk_gb", 0}}),
            std::pair(400, std::string("E_INVALID")));
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}, {"disk_gb", 100000}}),
            std::pair(400, std::string("E_INVALID")));
  EXPECT_EQ(code({{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}, {"owner_id", 1}}),
            std::pair(400, std::string(
                               "E_INVALID")));  // the owner is the session's user, never the body's
  json game = {
      {"type", "game"}, {"game", "minecraft"}, {"variant", "paper"}, {"version", "1.21.4"}};
  EXPECT_EQ(code(game), std::pair(422, std::string("E_EULA_REQUIRED")));
  game["eula"] = false;
  EXPECT_EQ(code(game), std::pair(422, std::string("E_EULA_REQUIRED")));
  game["eula"] = true;
  game["variant"] = "../../etc";
  EXPECT_EQ(code(game), std::pair(400, std::string("E_INVALID")));
  game["variant"] = "paper";
  game["version"] = "1.9";
  EXPECT_EQ(code(game), std::pair(400, std::string("E_INVALID")));
  game["version"] = "1.21.4";
  game["runtime"] = "tool";
  EXPECT_EQ(code(game), std::pair(400, std::string("E_INVALID")));  // a dev field on a game server
  EXPECT_EQ(json::parse(call("GET", "/api/servers", t).body)["servers"].size(), 0u);
  // The catalog endpoints: versions in version order, stable by default.
  auto dev = json::parse(call("GET", "/api/catalog/dev", t).body);
  EXPECT_EQ(dev["runtimes"][0]["id"], "tool");
  EXPECT_EQ(dev["runtimes"][0]["versions"][0]["version"], "1.0.0");
  auto g = json::parse(call("GET", "/api/catalog/game", t).body);
  EXPECT_EQ(g["games"][0]["variants"][0]["id"], "paper");
  EXPECT_EQ(g["games"][0]["variants"][0]["mods"], true);
  EXPECT_EQ(call("GET", "/api/catalog/dev?channel=nightly", t).status, 400);
  EXPECT_EQ(call("GET", "/api/catalog/dev", "").status, 401);
}

// Live stats (issue 24): the sampler's ring of a ready server, to its owner
// only; figures the driver does not measure are null, not 0.
TEST_F(ApiTest, StatsShowTheSamplesOfAReadyServerToItsOwnerOnly) {
  std::string alice = user("alice");
  std::string mallory = user("mallory");
  int64_t id = create_dev(alice);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(wait_ready(id, alice)) << server(id, alice).dump();
  const std::string path = "/api/servers/" + std::to_string(id) + "/stats";
  EXPECT_EQ(call("GET", path, mallory).status, 404);
  EXPECT_EQ(call("GET", "/api/servers/999999/stats", alice).status, 404);
  json stats;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = call("GET", path, alice);
        if (r.status != 200) return false;
        stats = json::parse(r.body);
        return stats["samples"].size() >= 2 && !stats["samples"].back()["cpu_cores"].is_null();
      },
      20s))
      << stats.dump();
  EXPECT_EQ(stats["server_id"], id);
  EXPECT_EQ(stats["interval_ms"], 2000);
  const json& last = stats["samples"].back();
  EXPECT_GT(last["memory_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(last["cpu_cores"].get<double>(), 0.0);
  if (proxmox()) {
    // One /cluster/resources answer: network counted, pids not reported.
    EXPECT_TRUE(last["pids"].is_null());
    EXPECT_FALSE(last["net_rx_bps"].is_null());
  } else if (TestDriver::lxc()) {
    EXPECT_GE(last["pids"].get<uint64_t>(), 1u);
    EXPECT_FALSE(last["net_rx_bps"].is_null());  // the container's veth
  } else {
    EXPECT_GE(last["pids"].get<uint64_t>(), 1u);
    EXPECT_TRUE(last["net_rx_bps"].is_null());  // the local driver measures no network
  }
  EXPECT_GT(last["t"].get<int64_t>(), stats["samples"][0]["t"].get<int64_t>());
  // The same figures as gauges, labelled by server id.
  auto m = http::request("GET", "http://" + addr_ + ":9464/metrics", {}, {});
  ASSERT_TRUE(m && m->status == 200);
  EXPECT_NE(m->body.find("zlh_server_memory_bytes{server=\"" + std::to_string(id) + "\"}"),
            std::string::npos);
}

// The stream (issue 24): two viewers get the ring, then the same samples;
// the sampler's driver calls do not grow with viewers (one per cycle);
// Origin and ownership are checked before the upgrade; the server list
// and the server carry the latest sample's headline figures.
TEST_F(ApiTest, StatsStreamGivesViewersTheSameSamplesFromOneSampler) {
  std::string alice = user("alice");
  std::string mallory = user("mallory");
  int64_t id = create_dev(alice);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(wait_ready(id, alice)) << server(id, alice).dump();
  const std::string path = "/api/servers/" + std::to_string(id) + "/stats";
  ASSERT_TRUE(eventually(
      [&] { return !json::parse(call("GET", path, alice).body)["samples"].empty(); }, 30s));

  // Refused as plain HTTP: another origin, not the owner, no such server.
  auto refused = [&](const std::string& token, const std::string& origin, int64_t sid) {
    http::Headers h;
    h.add("Authorization", "Bearer " + token);
    if (!origin.empty()) h.add("Origin", origin);
    int st = 0;
    auto r = http::WsClient::connect(
        "ws://" + addr_ + ":8080/api/servers/" + std::to_string(sid) + "/stats/stream", h, 10s,
        &st);
    EXPECT_FALSE(r);
    return st;
  };
  EXPECT_EQ(refused(alice, "http://evil.example.com", id), 403);
  EXPECT_EQ(refused(mallory, "", id), 404);
  EXPECT_EQ(refused(alice, "", 999999), 404);

  Viewer a{stream(id, alice)}, b{stream(id, alice)};
  ASSERT_TRUE(a.ws && b.ws);
  ASSERT_TRUE(eventually([&] { return a.read(100ms) && !a.ring.is_null(); }, 10s));
  ASSERT_TRUE(eventually([&] { return b.read(100ms) && !b.ring.is_null(); }, 10s));
  EXPECT_EQ(a.ring["server_id"], id);
  EXPECT_EQ(a.ring["interval_ms"], 2000);
  ASSERT_FALSE(a.ring["samples"].empty());
  EXPECT_TRUE(eventually([&] { return metric("zlh_stats_stream_viewers") == 2; }, 10s));
  const double calls0 = metric("zlh_stats_driver_calls_total");
  ASSERT_GE(calls0, 1);
  // Three samples each: the ones both saw are the same documents.
  ASSERT_TRUE(eventually(
      [&] {
        a.read(100ms);
        b.read(100ms);
        return a.samples.size() >= 3 && b.samples.size() >= 3;
      },
      60s));
  const double calls1 = metric("zlh_stats_driver_calls_total");
  // One driver call per cycle for both viewers: at most the cycles seen
  // (3, after the reading of calls0) plus one that may have started since.
  EXPECT_LE(calls1 - calls0, double(std::max(a.samples.size(), b.samples.size()) + 1));
  EXPECT_GE(calls1 - calls0, 2);
  int64_t last = a.ring["samples"].back()["t"];
  for (const auto& s : a.samples) {
    EXPECT_GT(s["t"].get<int64_t>(), last);  // in order, after the ring
    last = s["t"];
  }
  int same = 0;
  for (const auto& sa : a.samples)
    for (const auto& sb : b.samples)
      if (sa["t"] == sb["t"]) {
        EXPECT_EQ(sa, sb);
        ++same;
      }
  EXPECT_GE(same, 2) << json(a.times()).dump() << " " << json(b.times()).dump();
  // GET …/stats is the same ring the stream started from.
  auto ring = json::parse(call("GET", path, alice).body)["samples"];
  bool found = false;
  for (const auto& s : ring) found = found || s == a.samples.back();
  EXPECT_TRUE(found);

  // The headline figures on the list and the server.
  auto list = json::parse(call("GET", "/api/servers", alice).body)["servers"];
  ASSERT_EQ(list.size(), 1u);
  const json& st = list[0]["stats"];
  ASSERT_TRUE(st.is_object()) << list[0].dump();
  EXPECT_GT(st["memory_bytes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(st.contains("cpu_ratio") && st.contains("memory_limit")) << st.dump();
  EXPECT_TRUE(server(id, alice)["stats"].is_object());

  // A viewer that leaves is unsubscribed.
  a.ws->close();
  EXPECT_TRUE(eventually([&] { return metric("zlh_stats_stream_viewers") == 1; }, 10s));
}

// A viewer that never reads (a tiny receive buffer, not one read after the
// upgrade) does not hold up another viewer of the same server: the fast
// one gets every sample while the slow one has far more sent to it than it
// can hold. (On loopback the kernel buffers megabytes, so the fan-out's
// drop bound is not reached here in test time; api_stats_test covers the
// drops with a connection whose queue is full.) Samples every 100 ms.
TEST_F(ApiTest, StatsStreamASlowViewerDoesNotStallTheOthers) {
  stop_api(SIGTERM);
  api_extra_ = {"--stats-interval", "0.1"};
  start_api();
  std::string alice = user("alice");
  int64_t id = create_dev(alice);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(wait_ready(id, alice)) << server(id, alice).dump();

  // The slow viewer: a raw upgrade, then nothing read at all.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  int small = 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(8080);
  ASSERT_EQ(::inet_pton(AF_INET, addr_.c_str(), &sa.sin_addr), 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string upgrade = "GET /api/servers/" + std::to_string(id) +
                              "/stats/stream HTTP/1.1\r\nHost: " + addr_ +
                              ":8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " +
                              alice + "\r\n\r\n";
  ASSERT_EQ(::send(fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL), ssize_t(upgrade.size()));
  EXPECT_TRUE(eventually([&] { return metric("zlh_stats_stream_viewers") == 1; }, 10s));
  const double sent0 = metric("zlh_stats_stream_samples_sent_total");

  Viewer fast{stream(id, alice)};
  ASSERT_TRUE(fast.ws);
  ASSERT_TRUE(eventually([&] { return fast.read(50ms) && !fast.ring.is_null(); }, 10s));
  EXPECT_TRUE(eventually([&] { return metric("zlh_stats_stream_viewers") == 2; }, 10s));
  // Until the slow one was sent 150 samples (about 40 KB into a 2 KB
  // receive buffer) and the fast one got as many.
  double slow_sent = 0;
  ASSERT_TRUE(eventually(
      [&] {
        if (!fast.read(50ms)) return false;
        slow_sent =
            metric("zlh_stats_stream_samples_sent_total") - sent0 - double(fast.samples.size());
        return slow_sent >= 150 && fast.samples.size() >= 150;
      },
      120s))
      << "slow sent " << slow_sent << ", fast got " << fast.samples.size();
  // The fast one missed nothing: every sample of the ring since its first
  // is in what it got, in order.
  auto ring = json::parse(call("GET", "/api/servers/" + std::to_string(id) + "/stats", alice).body);
  std::set<int64_t> got;
  int64_t prev = 0;
  for (int64_t t : fast.times()) {
    EXPECT_GT(t, prev);
    prev = t;
    got.insert(t);
  }
  ASSERT_FALSE(got.empty());
  size_t checked = 0;
  for (const auto& s : ring["samples"]) {
    int64_t t = s["t"];
    if (t < *got.begin() || t > *got.rbegin()) continue;
    EXPECT_TRUE(got.count(t)) << "sample " << t << " skipped for the fast viewer";
    ++checked;
  }
  EXPECT_GE(checked, 100u);
  EXPECT_EQ(metric("zlh_stats_stream_viewers"), 2);  // the slow one is still there
  ::close(fd);
}

TEST_F(ApiTest, DevServerRunsOwnershipIsolatedSurvivesApiKillAndDeleteCleansUp) {
  std::string alice = user("alice");
  std::string mallory = user("mallory");
  int64_t id = create_dev(alice);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(wait_ready(id, alice)) << server(id, alice).dump();
  auto s = server(id, alice);
  EXPECT_EQ(s["agent_state"], "running");
  int vmid = s["vmid"];
  EXPECT_GE(vmid, vmid_lo_);
  if (proxmox()) EXPECT_FALSE(s.value("node", "").empty());
  auto agents = agents_under(ct_dir(vmid));
  ASSERT_EQ(agents.size(), 1u);
  pid_t agent = agents[0];
  // The agent runs the runtime the server asked for.
  EXPECT_TRUE(fs::read_file(ct_dir(vmid) + "/opt/zlh/runtimes/tool/current/bin/tool", 4096));

  // Ownership: everything about alice's server is 404 for mallory, with no effect.
  std::string sid = std::to_string(id);
  auto job =
      json::parse(call("POST", "/api/servers", alice,
                       json{{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}}.dump())
                      .body);
  int64_t job_id = job["job"];
  for (auto [m, p] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/servers/" + sid},
           {"DELETE", "/api/servers/" + sid},
           {"POST", "/api/servers/" + sid + "/stop"},
           {"POST", "/api/servers/" + sid + "/kill"},
           {"POST", "/api/servers/" + sid + "/restart"},
           {"POST", "/api/servers/" + sid + "/host/stop"},
           {"GET", "/api/jobs/" + std::to_string(job_id)},
           {"GET", "/api/servers/999999"}}) {
    auto r = call(m, p, mallory);
    EXPECT_EQ(r.status, 404) << m << " " << p << ": " << r.body;
  }
  EXPECT_EQ(json::parse(call("GET", "/api/servers", mallory).body)["servers"].size(), 0u);
  EXPECT_TRUE(process_alive(agent));
  EXPECT_EQ(server(id, alice)["state"], "ready");
  ASSERT_TRUE(wait_ready(job["id"], alice));

  // kill -9 of the API: the servers keep running with the same agents; a
  // restarted API sees them.
  stop_api(SIGKILL);
  EXPECT_TRUE(process_alive(agent));
  start_api();
  EXPECT_TRUE(process_alive(agent));
  EXPECT_EQ(server(id, alice)["state"], "ready");
  EXPECT_EQ(agents_under(ct_dir(vmid)), std::vector<pid_t>{agent});
  auto stop = call("POST", "/api/servers/" + sid + "/restart", alice);
  EXPECT_NE(stop.status, 404)
      << stop.body;  // reaches the agent (409: no workload in a plain dev container)

  // Delete: the agent and the container directory are gone.
  auto del = call("DELETE", "/api/servers/" + sid, alice);
  ASSERT_EQ(del.status, 202) << del.body;
  int64_t del_job = json::parse(del.body)["job"];
  EXPECT_TRUE(eventually(
      [&] {
        return json::parse(call("GET", "/api/jobs/" + std::to_string(del_job), alice).body)
                   .value("state", "") == "done";
      },
      60s));
  EXPECT_TRUE(eventually([&] { return !process_alive(agent); }, 10s));
  EXPECT_FALSE(fs::read_file(ct_dir(vmid) + "/opt/zlh-agent/config/payload.json", 100));
  EXPECT_EQ(server(id, alice)["error"]["code"], "E_NOT_FOUND");

  // Every state-changing action is in the audit log (who, what, when);
  // only admins can read it.
  EXPECT_EQ(call("GET", "/api/admin/audit", alice).status, 404);
  auto admin = call("POST", "/api/auth/login", "",
                    json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
  ASSERT_EQ(admin.status, 200) << admin.body;
  auto audit = call("GET", "/api/admin/audit?limit=1000", json::parse(admin.body)["token"]);
  ASSERT_EQ(audit.status, 200) << audit.body;
  std::set<std::string> actions;
  json audit_json = json::parse(audit.body);
  for (auto& e : audit_json["entries"]) {
    actions.insert(e["action"].get<std::string>());
    EXPECT_TRUE(e["at"].is_string());
  }
  for (const char* a :
       {"auth.register", "server.create", "server.delete", "server.restart", "auth.login"})
    EXPECT_TRUE(actions.count(a)) << a << " missing from the audit log";
  EXPECT_EQ(audit.body.find("password-alice"), std::string::npos);
}

}  // namespace
}  // namespace zlh::testing
