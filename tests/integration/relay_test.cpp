// zlh-api's relays through the real binaries (docs/design.md §7, §8, §9, §10.3):
// zlh-api with the local driver and a real dev container (agent + shim) on
// loopback. The console WebSocket round trip (binary input, text control
// frames, ?session= reattach, Origin check, closes both ways), the files
// relay (write/read, Range, a multipart upload, traversal refusals passed
// through from the agent), the mods relay's agent errors, ownership (another
// user gets 404 and nothing changes), an agent that is down (502), and a
// 200 MB upload and download with zlh-api's peak memory bounded.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "harness.hpp"
#include "stream_client.hpp"
#include "test_driver.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string error_code(const http::ClientResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  return j["error"].value("code", "");
}

// `word` in terminal output other than in the echo of a typed "echo word"
// line: what the command printed.
bool printed(const std::string& out, const std::string& word) {
  for (size_t pos = out.find(word); pos != std::string::npos; pos = out.find(word, pos + 1))
    if (pos < 5 || out.compare(pos - 5, 5, "echo ") != 0) return true;
  return false;
}

// Files named `name` anywhere under `dir`.
bool file_named_under(const std::string& dir, const std::string& name) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().filename() == name) return true;
  }
  return false;
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("relay");
    data_ = dir_ + "/data";
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    make_tool_store(dir_, store_, keys_);
    ASSERT_FALSE(HasFatalFailure());
    // Random dev vmid window so parallel runs do not share loopback addresses.
    vmid_lo_ = driver_.vmid_lo(20000 + int(crypto::random_bytes(2)[0] & 0x7f) * 200,
                               uint8_t(crypto::random_bytes(1)[0]), 1);
    addr_ = unique_loopback();
    driver_.start(dir_, data_, store_, keys_);
    ASSERT_FALSE(HasFatalFailure());
    start_api();
    if (HasFatalFailure()) return;

    alice_ = user("alice");
    mallory_ = user("mallory");
    auto r = call("POST", "/api/servers", alice_,
                  json{{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}}.dump());
    ASSERT_EQ(r.status, 202) << r.body;
    id_ = std::to_string(json::parse(r.body).value("id", int64_t(0)));
    ASSERT_TRUE(eventually(
        [&] {
          auto s = server();
          return s.value("state", "") == "ready" || s.value("state", "") == "error";
        },
        60s));
    auto s = server();
    ASSERT_EQ(s.value("state", ""), "ready") << s.dump();
    vmid_ = s["vmid"];
    container_ = driver_.ct_dir(vmid_);
  }
  void TearDown() override {
    stop_api(SIGKILL);
    driver_.stop();  // the fake cluster (proxmox) stops every container it runs
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
              "--metrics-listen",
              addr_ + ":9464"};
    for (const auto& a : driver_.api_args()) o.argv.push_back(a);
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

  std::string origin() { return "http://" + addr_ + ":8080"; }
  std::string url(const std::string& p) { return origin() + p; }
  std::string ws_url(const std::string& p) { return "ws://" + addr_ + ":8080" + p; }
  std::string srv(const std::string& rest) { return "/api/servers/" + id_ + rest; }
  http::Headers bearer(const std::string& token) {
    http::Headers h;
    h.add("Authorization", "Bearer " + token);
    return h;
  }
  http::ClientResponse call(const std::string& m, const std::string& p, const std::string& token,
                            const std::string& body = "", http::Headers extra = {}) {
    http::Headers h = extra;
    if (!token.empty()) h.add("Authorization", "Bearer " + token);
    if (!body.empty() && (body.front() == '{' || body.front() == '[') && !h.get("Content-Type"))
      h.add("Content-Type", "application/json");  // JSON routes refuse other types (415)
    auto r = http::request(m, url(p), h, body, 60s);
    EXPECT_TRUE(r) << m << " " << p << ": " << (r ? "" : r.error().message);
    return r ? *r : http::ClientResponse{};
  }
  std::string user(const std::string& name) {
    auto r = call(
        "POST", "/api/auth/register", "",
        json{{"email", name + "@example.com"}, {"username", name}, {"password", "password-" + name}}
            .dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }
  json server() { return json::parse(call("GET", srv(""), alice_).body, nullptr, false); }
  int64_t console_upstreams() {
    auto m = *http::request("GET", "http://" + addr_ + ":9464/metrics", {}, {});
    auto pos = m.body.find("\nzlh_relay_console_upstreams ");
    if (pos == std::string::npos) return -1;
    return std::stoll(m.body.substr(pos + 29));
  }
  std::string api_log() { return fs::read_file(dir_ + "/api.log", 1 << 24).value_or(""); }

  std::string dir_, data_, store_, keys_, addr_, container_;
  int vmid_lo_ = 20000;
  TestDriver driver_;
  int vmid_ = 0;
  pid_t api_pid_ = -1;
  std::string alice_, mallory_, id_;
};

// Reads a console until `pred` holds: binary output is appended to `out`,
// text control frames to `control`.
struct Console {
  std::unique_ptr<http::WsClient> ws;
  std::string out;
  std::vector<json> control;
  template <typename P>
  bool until(P pred, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      auto m = ws->read(200ms);
      if (!m) {
        if (m.error().code == codes::kTimeout) continue;
        return pred();
      }
      if (m->binary)
        out += m->data;
      else
        control.push_back(json::parse(m->data, nullptr, false));
    }
    return true;
  }
  std::string session() const {
    for (const auto& c : control)
      if (c.is_object() && c.value("type", "") == "session") return c.value("id", "");
    return "";
  }
};

TEST_F(RelayTest, ConsoleRoundTripOriginOwnershipAndCloses) {
  Console c;
  int status = 0;
  auto ws = http::WsClient::connect(ws_url(srv("/console")), bearer(alice_), 10s, &status);
  ASSERT_TRUE(ws) << status << " " << ws.error().message << "\n" << api_log();
  c.ws = std::move(*ws);
  ASSERT_TRUE(c.ws->send("echo relay-ok\n", true));
  ASSERT_TRUE(c.until([&] { return printed(c.out, "relay-ok"); })) << c.out;
  // Text control frames reach the agent unchanged: the PTY gets the size.
  ASSERT_TRUE(c.ws->send(R"({"type":"resize","cols":123,"rows":45})", false));
  ASSERT_TRUE(c.ws->send("stty size\n", true));
  ASSERT_TRUE(c.until([&] { return c.out.find("45 123") != std::string::npos; })) << c.out;
  std::string session = c.session();
  ASSERT_FALSE(session.empty()) << "the agent's session frame came through";
  EXPECT_EQ(console_upstreams(), 1);

  // The browser leaving closes the agent side too.
  c.ws->close();
  EXPECT_TRUE(eventually([&] { return console_upstreams() == 0; }, 10s)) << console_upstreams();

  // ?session= reaches the agent: the same shell, its scrollback first. A
  // browser's cookie with the public Origin is how the portal connects.
  http::Headers browser;
  browser.add("Cookie", "zlh_session=" + alice_);
  browser.add("Origin", origin());
  auto again =
      http::WsClient::connect(ws_url(srv("/console?session=" + session)), browser, 10s, &status);
  ASSERT_TRUE(again) << status;
  Console c2;
  c2.ws = std::move(*again);
  ASSERT_TRUE(c2.until([&] { return printed(c2.out, "relay-ok"); })) << c2.out;
  EXPECT_EQ(c2.session(), session);
  ASSERT_TRUE(c2.ws->send("echo again-$((40+2))\n", true));
  ASSERT_TRUE(c2.until([&] { return c2.out.find("again-42") != std::string::npos; })) << c2.out;

  // Refused before the upgrade, as plain HTTP.
  auto refused = [&](const http::Headers& h, const std::string& path) {
    int st = 0;
    auto r = http::WsClient::connect(ws_url(path), h, 10s, &st);
    EXPECT_FALSE(r) << path;
    return st;
  };
  http::Headers evil = bearer(alice_);
  evil.add("Origin", "http://evil.example.com");
  EXPECT_EQ(refused(evil, srv("/console")), 403);
  http::Headers evil_cookie;
  evil_cookie.add("Cookie", "zlh_session=" + alice_);
  evil_cookie.add("Origin", "https://" + addr_ + ":8080");  // same host, other scheme
  EXPECT_EQ(refused(evil_cookie, srv("/console")), 403);
  EXPECT_EQ(refused(bearer(mallory_), srv("/console")), 404);
  EXPECT_EQ(refused(bearer(mallory_), "/api/servers/999999/console"), 404);
  EXPECT_EQ(refused({}, srv("/console")), 401);

  // The agent going away closes the browser's side (1011).
  auto agents = agents_under(container_);
  ASSERT_EQ(agents.size(), 1u);
  // lxc: zlh-init would start the agent again within a second; killing the
  // init too ends the container, so nothing answers at its address.
  pid_t init = 0;
  if (TestDriver::lxc()) {
    auto st = fs::read_file("/proc/" + std::to_string(agents[0]) + "/stat", 4096).value_or("");
    std::istringstream in(st.substr(st.rfind(')') + 2));
    std::string state;
    in >> state >> init;
  }
  ::kill(agents[0], SIGKILL);
  if (init > 1) ::kill(init, SIGKILL);
  bool closed = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto m = c2.ws->read(200ms);
    if (!m && m.error().code != codes::kTimeout) closed = true;
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ(c2.ws->close_code(), 1011);
  EXPECT_TRUE(eventually([&] { return console_upstreams() == 0; }, 10s));
  // Now nothing answers at the container's address: 502 before the upgrade.
  EXPECT_EQ(refused(bearer(alice_), srv("/console")), 502);
  auto down = call("GET", srv("/files/list?path="), alice_);
  EXPECT_EQ(down.status, 502) << down.body;
  EXPECT_EQ(error_code(down), "E_UPSTREAM");
  auto down_put = call("PUT", srv("/files/write?path=x.txt"), alice_, "data");
  EXPECT_EQ(down_put.status, 502) << down_put.body;
  // The API's log never holds the user's token.
  EXPECT_EQ(api_log().find(alice_), std::string::npos);
}

// M4: concurrent console sessions per user, overridden by an admin; a
// closed session gives its place back.
TEST_F(RelayTest, ConsoleQuotaLimitsOpenSessions) {
  auto admin = call("POST", "/api/auth/login", "",
                    json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
  ASSERT_EQ(admin.status, 200) << admin.body;
  const std::string admin_token = json::parse(admin.body)["token"];
  auto me = json::parse(call("GET", "/api/auth/me", alice_).body);
  const std::string quotas =
      "/api/admin/users/" + std::to_string(me["user"]["id"].get<int64_t>()) + "/quotas";
  ASSERT_EQ(call("PUT", quotas, admin_token, json{{"consoles", 2}}.dump()).status, 200);
  int status = 0;
  auto a = http::WsClient::connect(ws_url(srv("/console")), bearer(alice_), 10s, &status);
  ASSERT_TRUE(a) << status;
  auto b = http::WsClient::connect(ws_url(srv("/console")), bearer(alice_), 10s, &status);
  ASSERT_TRUE(b) << status;
  status = 0;
  auto c = http::WsClient::connect(ws_url(srv("/console")), bearer(alice_), 10s, &status);
  EXPECT_FALSE(c);
  EXPECT_EQ(status, 403) << "a third console beyond the quota";
  (*a)->close();
  bool again = eventually(
      [&] {
        int st = 0;
        auto d = http::WsClient::connect(ws_url(srv("/console")), bearer(alice_), 10s, &st);
        if (d) (*d)->close();
        return bool(d);
      },
      10s);
  EXPECT_TRUE(again) << "the closed session's place came back";
  (*b)->close();
  ASSERT_EQ(call("PUT", quotas, admin_token, json{{"consoles", nullptr}}.dump()).status, 200);
}

// M4: concurrent uploads per user: a second write while one is streaming is
// 403 E_QUOTA; the place comes back when the first is answered.
TEST_F(RelayTest, UploadQuotaLimitsConcurrentUploads) {
  auto admin = call("POST", "/api/auth/login", "",
                    json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
  ASSERT_EQ(admin.status, 200) << admin.body;
  const std::string admin_token = json::parse(admin.body)["token"];
  auto me = json::parse(call("GET", "/api/auth/me", alice_).body);
  const std::string quotas =
      "/api/admin/users/" + std::to_string(me["user"]["id"].get<int64_t>()) + "/quotas";
  ASSERT_EQ(call("PUT", quotas, admin_token, json{{"uploads", 1}}.dump()).status, 200);
  http::StreamingRequest::Options o;
  o.chunked = true;
  // open() returns once zlh-api said 100 Continue, i.e. after the route took
  // the upload's place (without it the second request could overtake).
  o.expect_continue = true;
  o.io_timeout = 30s;
  auto first = http::StreamingRequest::open("PUT", url(srv("/files/write?path=slow.bin")),
                                            bearer(alice_), o);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE((*first)->write(std::string(1 << 16, 's')));
  auto second = call("PUT", srv("/files/write?path=other.bin"), alice_, "x");
  EXPECT_EQ(second.status, 403) << second.body;
  EXPECT_NE(second.body.find("E_QUOTA"), std::string::npos) << second.body;
  EXPECT_NE(second.body.find("uploads"), std::string::npos) << second.body;
  ASSERT_TRUE((*first)->finish());
  auto head = (*first)->read_head(30s);
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(eventually(
      [&] { return call("PUT", srv("/files/write?path=other.bin"), alice_, "x").status == 200; },
      10s));
  ASSERT_EQ(call("PUT", quotas, admin_token, json{{"uploads", nullptr}}.dump()).status, 200);
}

TEST_F(RelayTest, FilesAndModsRelayOwnershipAndTraversal) {
  // Write, then read back.
  http::Headers text;
  text.add("Content-Type", "text/plain");
  auto w = call("PUT", srv("/files/write?path=hello.txt"), alice_, "hello relay", text);
  ASSERT_EQ(w.status, 200) << w.body;
  auto r = call("GET", srv("/files/read?path=hello.txt"), alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "hello relay");
  EXPECT_EQ(r.headers.get("Accept-Ranges"), "bytes");
  EXPECT_EQ(r.headers.get("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.headers.get("Content-Length"), "11");
  auto head = call("HEAD", srv("/files/read?path=hello.txt"), alice_);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.get("Content-Length"), "11");
  EXPECT_EQ(head.body, "");
  // A Range read passes both ways.
  http::Headers range;
  range.add("Range", "bytes=6-10");
  auto part = call("GET", srv("/files/read?path=hello.txt"), alice_, "", range);
  EXPECT_EQ(part.status, 206) << part.body;
  EXPECT_EQ(part.body, "relay");
  EXPECT_EQ(part.headers.get("Content-Range"), "bytes 6-10/11");
  range.set("Range", "bytes=100-200");
  EXPECT_EQ(call("GET", srv("/files/read?path=hello.txt"), alice_, "", range).status, 416);
  // Download names the file.
  auto dl = call("GET", srv("/files/download?path=hello.txt"), alice_);
  EXPECT_EQ(dl.status, 200);
  EXPECT_NE(std::string(dl.headers.get("Content-Disposition").value_or("")).find("hello.txt"),
            std::string::npos);

  // JSON bodies (mkdir, rename) and a multipart upload of two files.
  ASSERT_EQ(call("POST", srv("/files/mkdir"), alice_, R"({"path":"up"})").status, 200);
  std::string big(300 * 1024, 'B');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = char('0' + (i / 1000) % 10);
  std::string boundary = "----zlhRelayBoundary42";
  http::Headers mp;
  mp.add("Content-Type", "multipart/form-data; boundary=" + boundary);
  auto up = call("POST", srv("/files/upload?path=up"), alice_,
                 multipart_body(boundary, {{"one.txt", "first file\n"}, {"two.bin", big}}), mp);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(json::parse(up.body)["files"].size(), 2u);
  auto list = call("GET", srv("/files/list?path=up"), alice_);
  ASSERT_EQ(list.status, 200) << list.body;
  auto entries = json::parse(list.body);
  ASSERT_EQ(entries.size(), 2u) << list.body;
  EXPECT_EQ(call("GET", srv("/files/read?path=up/one.txt"), alice_).body, "first file\n");
  EXPECT_EQ(crypto::sha256_hex(call("GET", srv("/files/read?path=up/two.bin"), alice_).body),
            crypto::sha256_hex(big));
  ASSERT_EQ(call("POST", srv("/files/rename"), alice_, R"({"from":"up/one.txt","to":"up/uno.txt"})")
                .status,
            200);
  EXPECT_EQ(call("GET", srv("/files/read?path=up/uno.txt"), alice_).body, "first file\n");
  // A chunked request body (no Content-Length) streams through as well.
  {
    http::Headers h = bearer(alice_);
    http::StreamingRequest::Options o;
    o.chunked = true;
    auto put = http::StreamingRequest::open("PUT", url(srv("/files/write?path=chunked.txt")), h, o);
    ASSERT_TRUE(put);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*put)->write(std::string(1000, char('a' + i % 26))));
    ASSERT_TRUE((*put)->finish());
    auto head = (*put)->read_head(30s);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200) << (*put)->read_all(4096).value_or("");
    EXPECT_EQ(call("GET", srv("/files/read?path=chunked.txt"), alice_).body.size(), 100000u);
  }

  // Traversal: the agent's E_BADPATH comes back unchanged, nothing is touched.
  for (std::string q :
       {"../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd", "up/../../x"}) {
    auto t = call("GET", srv("/files/read?path=" + q), alice_);
    EXPECT_EQ(t.status, 400) << q << ": " << t.body;
    EXPECT_EQ(error_code(t), "E_BADPATH") << q << ": " << t.body;
  }
  auto evil_put = call("PUT", srv("/files/write?path=..%2frelay-evil-marker"), alice_, "pwned");
  EXPECT_EQ(evil_put.status, 400) << evil_put.body;
  EXPECT_EQ(error_code(evil_put), "E_BADPATH");
  auto evil_up = call("POST", srv("/files/upload?path=../.."), alice_,
                      multipart_body(boundary, {{"relay-evil-marker", "pwned"}}), mp);
  EXPECT_EQ(evil_up.status, 400) << evil_up.body;
  EXPECT_EQ(error_code(evil_up), "E_BADPATH");
  EXPECT_FALSE(file_named_under(dir_, "relay-evil-marker"));
  // Dot segments in the relayed path never reach another agent route.
  for (auto [m, p] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/files/..%2fstatus"},
                                                        {"GET", "/files/%2e%2e/status"},
                                                        {"DELETE", "/mods/%2e%2e"},
                                                        {"POST", "/mods/x%2f..%2f..%2fstart"}}) {
    auto t = call(m, srv(p), alice_);
    EXPECT_EQ(t.status, 400) << m << " " << p << ": " << t.body;
    EXPECT_EQ(error_code(t), "E_BADPATH") << m << " " << p;
  }

  // Mods: this is a dev container, so the agent refuses (409), and says why.
  auto mods = call("GET", srv("/mods"), alice_);
  EXPECT_EQ(mods.status, 409) << mods.body;
  EXPECT_EQ(error_code(mods), "E_CONFLICT");
  EXPECT_NE(mods.body.find("no game server"), std::string::npos) << mods.body;
  // A mod upload is refused before its body is read (100-continue), with the agent's answer.
  auto jar = call("POST", srv("/mods/install"), alice_,
                  multipart_body(boundary, {{"x.jar", std::string(200000, 'J')}}), mp);
  EXPECT_EQ(jar.status, 409) << jar.body;
  EXPECT_NE(jar.body.find("no game server"), std::string::npos) << jar.body;

  // Another user: 404 everywhere, as if the server did not exist, and nothing changes.
  struct Try {
    std::string method, path, body;
  };
  for (const auto& t : std::vector<Try>{
           {"GET", "/files/read?path=hello.txt", ""},
           {"GET", "/files/list?path=", ""},
           {"GET", "/files/download?path=up", ""},
           {"PUT", "/files/write?path=hello.txt", "mallory was here"},
           {"POST", "/files/upload?path=up", multipart_body(boundary, {{"uno.txt", "m"}})},
           {"POST", "/files/delete", R"({"paths":["hello.txt","up"]})"},
           {"POST", "/files/rename", R"({"from":"hello.txt","to":"m.txt"})"},
           {"GET", "/mods", ""},
           {"POST", "/mods/install", R"({"artifact":"a","sha256":"b"})"},
           {"DELETE", "/mods/some-mod", ""}}) {
    http::Headers h;
    if (t.path.starts_with("/files/upload")) h = mp;
    auto m = call(t.method, srv(t.path), mallory_, t.body, h);
    EXPECT_EQ(m.status, 404) << t.method << " " << t.path << ": " << m.body;
    EXPECT_EQ(error_code(m), "E_NOT_FOUND") << t.method << " " << t.path;
  }
  EXPECT_EQ(call("GET", "/api/servers/999999/files/list?path=", mallory_).status, 404);
  EXPECT_EQ(call("GET", srv("/files/list?path="), "").status, 401);
  EXPECT_EQ(call("GET", srv("/files/read?path=hello.txt"), alice_).body, "hello relay");
  EXPECT_EQ(call("GET", srv("/files/read?path=up/uno.txt"), alice_).body, "first file\n");
  EXPECT_FALSE(file_named_under(container_, "m.txt"));

  // The relays are in the route table's OpenAPI document.
  auto api = json::parse(call("GET", "/api/openapi.json", "").body, nullptr, false);
  EXPECT_TRUE(api["paths"].contains("/api/servers/{id}/console"));
  EXPECT_TRUE(api["paths"]["/api/servers/{id}/files/{rest...}"].contains("put"));
  EXPECT_TRUE(api["paths"]["/api/servers/{id}/mods"].contains("get"));

  // A graceful stop with a relayed console open: the browser gets 1001, the
  // API exits 0 (under ASan: with no leak report).
  int status = 0;
  auto ws = http::WsClient::connect(ws_url(srv("/console")), bearer(alice_), 10s, &status);
  ASSERT_TRUE(ws) << status;
  ASSERT_TRUE((*ws)->send("echo bye\n", true));
  ::kill(api_pid_, SIGTERM);
  bool closed = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    auto m = (*ws)->read(200ms);
    if (!m && m.error().code != codes::kTimeout) closed = true;
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ((*ws)->close_code(), 1001);
  int st = -1;
  EXPECT_TRUE(eventually([&] { return ::waitpid(api_pid_, &st, WNOHANG) == api_pid_; }, 20s));
  api_pid_ = -1;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << "\n" << api_log().substr(0, 1 << 16);
  start_api();

  // Deleting through the relay.
  ASSERT_EQ(call("POST", srv("/files/delete"), alice_, R"({"paths":["hello.txt"]})").status, 200);
  EXPECT_EQ(call("GET", srv("/files/read?path=hello.txt"), alice_).status, 404);

  // Every change the agent took is in the server's activity log, across
  // the API's restart above (docs/activity.md); refused ones are not.
  json act;
  auto has = [&](const std::string& action, const json& detail) {
    for (const auto& e : act["activity"])
      if (e["action"] == action && e["detail"] == detail && e["actor"]["username"] == "alice")
        return true;
    return false;
  };
  ASSERT_TRUE(eventually([&] {
    act = json::parse(call("GET", srv("/activity?limit=200"), alice_).body, nullptr, false);
    return act.is_object() && has("files.delete", {{"paths", {"hello.txt"}}, {"count", 1}});
  })) << act;
  EXPECT_TRUE(has("files.mkdir", {{"path", "up"}})) << act;
  EXPECT_TRUE(has("files.upload", {{"path", "up"}})) << act;
  EXPECT_TRUE(has("files.rename", {{"path", "up/one.txt"}, {"to", "up/uno.txt"}})) << act;
  EXPECT_TRUE(has("files.write", {{"path", "chunked.txt"}})) << act;
  EXPECT_EQ(act.dump().find("relay-evil-marker"), std::string::npos) << act;
}

// 200 MB up and down through the relay, streamed by the test too: zlh-api
// never holds a body, so its peak resident memory stays far below the size.
TEST_F(RelayTest, TwoHundredMegabytesUpAndDownWithBoundedApiMemory) {
  const uint64_t kSize = 200ull << 20;
  uint64_t hwm_before = proc_status_kib(api_pid_, "VmHWM");
  std::string boundary = "relayBig0123456789";
  std::string head =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.dat\"\r\n\r\n";
  std::string tail = "\r\n--" + boundary + "--\r\n";
  http::Headers h = bearer(alice_);
  h.add("Content-Type", "multipart/form-data; boundary=" + boundary);
  http::StreamingRequest::Options o;
  o.content_length = head.size() + kSize + tail.size();
  o.expect_continue = true;
  auto put = http::StreamingRequest::open("POST", url(srv("/files/upload?path=big")), h, o);
  ASSERT_TRUE(put) << put.error().message;
  ASSERT_FALSE((*put)->answered());
  ASSERT_TRUE((*put)->write(head));
  std::string chunk(1 << 20, 0);
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = char(i * 31 % 251);
  crypto::Sha256 sha;
  for (uint64_t sent = 0; sent < kSize; sent += chunk.size()) {
    chunk[0] = char(sent >> 20);  // every MiB differs a little
    sha.update(chunk);
    auto wr = (*put)->write(chunk);
    ASSERT_TRUE(wr) << wr.error().message << " at " << sent;
  }
  ASSERT_TRUE((*put)->write(tail));
  ASSERT_TRUE((*put)->finish());
  auto ans = (*put)->read_head(120s);
  ASSERT_TRUE(ans) << ans.error().message;
  std::string body = (*put)->read_all(1 << 16).value_or("");
  ASSERT_EQ(ans->status, 200) << body;
  EXPECT_EQ(json::parse(body)["files"][0]["size"], kSize);
  uint64_t hwm_up = proc_status_kib(api_pid_, "VmHWM");

  // And back down, read piece by piece.
  auto get = http::StreamingRequest::open("GET", url(srv("/files/read?path=big/big.dat")),
                                          bearer(alice_), {});
  ASSERT_TRUE(get);
  auto gh = (*get)->read_head(30s);
  ASSERT_TRUE(gh);
  ASSERT_EQ(gh->status, 200);
  EXPECT_EQ(gh->content_length, kSize);
  crypto::Sha256 back;
  std::vector<char> buf(1 << 20);
  uint64_t got = 0;
  for (;;) {
    auto n = (*get)->read(buf.data(), buf.size());
    ASSERT_TRUE(n) << n.error().message << " at " << got;
    if (*n == 0) break;
    back.update(std::string_view(buf.data(), *n));
    got += *n;
  }
  EXPECT_EQ(got, kSize);
  EXPECT_EQ(back.hex_digest(), sha.hex_digest());
  uint64_t hwm = proc_status_kib(api_pid_, "VmHWM");
  std::printf(
      "200 MB through the relay: zlh-api VmHWM %.1f MiB before, %.1f MiB after the upload, %.1f "
      "MiB after the download\n",
      hwm_before / 1024.0, hwm_up / 1024.0, hwm / 1024.0);
#ifndef ZLH_SANITIZED
  EXPECT_LT(hwm, 64u * 1024) << "zlh-api peak RSS while relaying 200 MB";
#endif
}

}  // namespace
}  // namespace zlh::testing
