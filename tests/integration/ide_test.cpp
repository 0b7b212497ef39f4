// The browser IDE proxy /dev/{vmid}/ide (DESIGN.md §10.4) through the real
// zlh-api, a real agent and the code-server stand-in
// (tests/fixtures/code_server_standin.py: a page with relative URLs, a
// header echo, a WebSocket echo, /big downloads and a POST byte counter).
// Dev vmids 2000-3999 (a random window of 100): no other test uses them.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "archive_builder.hpp"
#include "common/crypto.hpp"
#include "common/fs.hpp"
#include "common/http_stream_client.hpp"
#include "harness.hpp"

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
    write_archive(cs, {ArchiveEntry::file("cs/bin/code-server",
                                          "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/../lib/standin.py\" \"$@\"\n", 0755),
                       ArchiveEntry::file("cs/lib/standin.py", *fs::read_file(fixture("code_server_standin.py")), 0644)});
    auto add = zlhctl({"catalog", "add", "--store", store, "--kind", "addon", "--id", "code-server", "--version",
                       "4.96.4", "--file", cs, "--channel", "stable", "--strip", "1", "--port", "6000", "--health",
                       "/healthz", "--launch",
                       "bin/code-server --bind-addr {bind} --auth none --user-data-dir {data} {workspace}"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    ASSERT_EQ(zlhctl({"catalog", "sign", "--store", store, "--key", keys + "/catalog.key"}).exit_code, 0);
    vmid_lo_ = 2000 + int(crypto::random_bytes(1)[0] % 20) * 100;
    api_ = new ApiProcess(dir_, store, keys,
                          {"--dev-vmid-lo", std::to_string(vmid_lo_), "--dev-vmid-hi", std::to_string(vmid_lo_ + 99)});
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
    auto r = http::request("POST", api_->url("/api/auth/register"), {},
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
    http::Headers h;
    h.add("Authorization", "Bearer " + token);
    return h;
  }
  static http::ClientResponse get(const std::string& path, const http::Headers& h = {}) {
    auto r = http::request("GET", api_->url(path), h, {}, 30s);
    return r ? *r : http::ClientResponse{};
  }
  // A ready dev server with code-server on; returns {id, vmid}.
  static std::pair<int64_t, int> dev_server(const std::string& token, bool code_server = true) {
    auto r = http::request("POST", api_->url("/api/servers"), bearer(token),
                           json{{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"},
                                {"enable_code_server", code_server}}
                               .dump());
    EXPECT_TRUE(r && r->status == 202) << (r ? r->body : r.error().message);
    if (!r || r->status != 202) return {0, 0};
    auto j = json::parse(r->body);
    int64_t id = j["id"];
    std::string state;
    bool ready = eventually(
        [&] {
          auto s = http::request("GET", api_->url("/api/servers/" + std::to_string(id)), bearer(token));
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

  static inline std::string dir_;
  static inline int vmid_lo_ = 0;
  static inline ApiProcess* api_ = nullptr;
};

TEST_F(IdeTest, RedirectLoginOwnershipHeadersAndTheDetailLink) {
  std::string ann = user("ann"), bob = user("bob");
  auto [id, vmid] = dev_server(ann);
  ASSERT_GT(vmid, 0);

  // /dev/V/ide → 308 to the slash form, query kept.
  auto r = get(ide(vmid, "?folder=/home"));
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.headers.get("Location"), std::optional<std::string_view>(ide(vmid, "/?folder=/home")));

  // No session: to the portal login, coming back here after.
  r = get(ide(vmid, "/x?y=1"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.headers.get("Location").value_or(""),
            base() + "/login?next=" + http::url_encode(ide(vmid, "/x?y=1")));
  // A forged or logged-out cookie is no session either.
  r = get(ide(vmid), cookie("not-a-token"));
  EXPECT_EQ(r.status, 302);

  // The page and what it refers to, relative to the prefix.
  r = get(ide(vmid), cookie(ann));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("stand-in code-server"), std::string::npos);
  EXPECT_NE(r.body.find("./static/app.js"), std::string::npos);
  r = get(ide(vmid, "/static/app.js"), cookie(ann));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("new WebSocket"), std::string::npos);

  // Another user, a missing vmid, a dev server without code-server: 404 alike.
  EXPECT_EQ(get(ide(vmid), cookie(bob)).status, 404);
  EXPECT_EQ(get(ide(vmid_lo_ + 99), cookie(ann)).status, 404);
  EXPECT_EQ(get(ide(vmid, "/headers"), cookie(bob)).status, 404);
  auto [plain_id, plain_vmid] = dev_server(ann, /*code_server=*/false);
  EXPECT_EQ(get(ide(plain_vmid), cookie(ann)).status, 404);

  // What the IDE sees: no session cookie (other cookies kept), no
  // Authorization, the forwarding headers; Host and Origin kept.
  http::Headers h = cookie(ann, "theme=dark");
  h.add("Authorization", "Bearer " + ann);
  h.add("X-Forwarded-For", "6.6.6.6");
  h.add("Origin", base());
  r = get(ide(vmid, "/headers?q=1"), h);
  ASSERT_EQ(r.status, 200) << r.body;
  auto seen = json::parse(r.body);
  EXPECT_EQ(seen["path"], "/headers?q=1");
  auto& sh = seen["headers"];
  EXPECT_EQ(sh.value("Cookie", ""), "theme=dark");
  EXPECT_FALSE(sh.contains("Authorization"));
  EXPECT_EQ(sh.value("X-Forwarded-Prefix", ""), ide(vmid, ""));
  EXPECT_EQ(sh.value("X-Forwarded-Proto", ""), "http");
  EXPECT_EQ(sh.value("X-Forwarded-For", ""), "127.0.0.1") << "the client's own claim is dropped";
  EXPECT_EQ(sh.value("X-Forwarded-Host", ""), api_->addr() + ":8080");
  EXPECT_EQ(sh.value("Host", ""), api_->addr() + ":8080");
  EXPECT_EQ(sh.value("Origin", ""), base());
  // The IDE cannot set the platform's session cookie; its own cookies pass.
  int set_cookies = 0;
  for (const auto& [k, v] : r.headers.items())
    if (http::iequals(k, "Set-Cookie")) {
      ++set_cookies;
      EXPECT_EQ(v.rfind("zlh_session", 0), std::string::npos) << v;
    }
  EXPECT_EQ(set_cookies, 1);

  // The server detail links the IDE; the plain one has none.
  auto d = json::parse(http::request("GET", api_->url("/api/servers/" + std::to_string(id)), bearer(ann))->body);
  EXPECT_EQ(d["ide_url"], ide(vmid));
  d = json::parse(http::request("GET", api_->url("/api/servers/" + std::to_string(plain_id)), bearer(ann))->body);
  EXPECT_TRUE(d["ide_url"].is_null());

  // Logout ends access at once (the cached session is dropped).
  http::Headers lo = cookie(ann);
  lo.add("X-ZLH-CSRF", "1");
  auto out = http::request("POST", api_->url("/api/auth/logout"), lo, "");
  ASSERT_TRUE(out && out->status == 200);
  EXPECT_EQ(get(ide(vmid), cookie(ann)).status, 302);
}

TEST_F(IdeTest, WebSocketEchoAndForeignOrigin) {
  std::string cara = user("cara");
  auto [id, vmid] = dev_server(cara);
  ASSERT_GT(vmid, 0);
  std::string ws_url = "ws://" + api_->addr() + ":8080" + ide(vmid, "/ws");
  http::Headers h = cookie(cara);
  h.add("Origin", base());
  int status = 0;
  auto ws = http::WsClient::connect(ws_url, h, 10s, &status);
  ASSERT_TRUE(ws) << ws.error().message << " " << status;
  for (std::string msg : {std::string("ping"), std::string(200000, 'w')}) {
    ASSERT_TRUE((*ws)->send(msg, false));
    auto m = (*ws)->read(10s);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->data.size(), msg.size());
    EXPECT_TRUE(m->data == msg) << "payload differs";
  }
  (*ws)->close();

  http::Headers evil = cookie(cara);
  evil.add("Origin", "http://evil.example");
  status = 0;
  auto bad = http::WsClient::connect(ws_url, evil, 10s, &status);
  EXPECT_FALSE(bad);
  EXPECT_EQ(status, 403);
  status = 0;
  http::Headers none;
  none.add("Origin", base());
  EXPECT_FALSE(http::WsClient::connect(ws_url, none, 10s, &status));
  EXPECT_EQ(status, 401) << "an upgrade without a session is refused, not redirected";
}

TEST_F(IdeTest, GigabyteDownloadAndLargeUploadWithFlatMemory) {
  std::string dana = user("dana");
  auto [id, vmid] = dev_server(dana);
  ASSERT_GT(vmid, 0);
  const uint64_t before = proc_status_kib(api_->pid(), "VmRSS");
  const uint64_t n = 1ull << 30;
  auto req = http::StreamingRequest::open("GET", api_->url(ide(vmid, "/big?n=" + std::to_string(n))), cookie(dana), {});
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
  auto up = http::StreamingRequest::open("POST", api_->url(ide(vmid, "/upload")), cookie(dana), o);
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
  ASSERT_EQ(get(ide(vmid), cookie(eve)).status, 200);
  auto stop = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/stop"), bearer(eve), "");
  ASSERT_TRUE(stop && stop->status < 300) << (stop ? stop->body : stop.error().message);
  http::ClientResponse r;
  ASSERT_TRUE(eventually([&] { return (r = get(ide(vmid), cookie(eve))).status == 502; }, 30s)) << r.status;
  EXPECT_NE(r.body.find("The IDE is starting"), std::string::npos);
  EXPECT_NE(r.body.find("http-equiv=\"refresh\""), std::string::npos) << "the page retries by itself";
  EXPECT_EQ(r.headers.get("Retry-After"), std::optional<std::string_view>("3"));
  auto start = http::request("POST", api_->url("/api/servers/" + std::to_string(id) + "/start"), bearer(eve), "");
  ASSERT_TRUE(start && start->status < 300) << (start ? start->body : start.error().message);
  EXPECT_TRUE(eventually([&] { return get(ide(vmid), cookie(eve)).status == 200; }, 60s));

  // Deleting the server ends access at once, before the container is gone.
  auto del = http::request("DELETE", api_->url("/api/servers/" + std::to_string(id)), bearer(eve));
  ASSERT_TRUE(del && del->status == 202);
  EXPECT_EQ(get(ide(vmid), cookie(eve)).status, 404);
}

}  // namespace
}  // namespace zlh::testing
