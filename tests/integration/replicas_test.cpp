// Two zlh-api replicas A and B on one PostgreSQL database (issue 25,
// docs/operations.md "Running replicas"): one PgServer cluster per test
// binary (pg_fixture.hpp, password auth as in production), one database per
// suite, the fake Proxmox cluster with real agents in its containers
// (fake_proxmox.hpp), and two zlh-api processes with --driver proxmox,
// --store postgres://… + --store-password-file, the same
// --jwt-secret-file/--api-key-file and short --job-lease-ttl/--replica-ttl.
//
// What is shown: a user made on A logs in on B; a server made on A shows on
// B; the IDE and the console work through either; a logout on A is refused
// by B within 1 s; 20 concurrent creates over A and B get distinct vmids and
// addresses; each server is polled by exactly one replica; kill -9 of A
// while its create jobs wait for "running" → B finishes them after the
// lease expires, no step runs twice, no vmid leaks.
//
// Counting calls: the fake Proxmox records every request (clone and start
// per vmid), and every agent's access log records the request id zlh-api's
// agent client sends ("api<pid>-<n>", api/jobs/agent_client.hpp), so
// /status and /config calls are counted per server and per replica.
//
// Holding "wait for running": the runtime "gate" verifies with a script that
// waits until the suite's gate file exists, so its agents report
// "installing" (not "running") until the test opens the gate.
//
// Dev vmids: a window of 200 in 46000-63999 whose agent addresses
// (127.77.<vmid/256>.<vmid%256>) are free. Everything (A, B, the fake and
// its containers, the database's cluster) is stopped even when a test
// fails; the directory is kept on failure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "fake_proxmox.hpp"
#include "harness.hpp"
#include "pg_fixture.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kWindow = 200;
const std::string kLeaseTtlMs = "5000";
const std::string kReplicaTtlMs = "5000";

std::string random_hex(size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : crypto::random_bytes(bytes)) {
    const auto b = uint8_t(c);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string fixture(const std::string& name) {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/" + name;
}

// The binary's one PostgreSQL cluster, with a password (scram-sha-256), as
// zlh-api meets it in production through --store-password-file.
const std::string& pg_password() {
  static const std::string pw = "pw-" + random_hex(12);
  return pw;
}
const Result<std::unique_ptr<PgServer>>& cluster() {
  static auto server = [] {
    PgServer::Options o;
    o.password = pg_password();
    return PgServer::start(o);
  }();
  return server;
}

bool port_free(const std::string& addr, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

// A vmid window whose container addresses are free (agent and IDE ports).
int pick_window() {
  for (int attempt = 0; attempt < 40; ++attempt) {
    auto r = crypto::random_bytes(2);
    int lo = 46000 + int((uint8_t(r[0]) << 8 | uint8_t(r[1])) % 90) * kWindow;
    bool free = true;
    for (int v = lo; v < lo + kWindow && free; ++v) {
      std::string addr = "127.77." + std::to_string(v / 256) + "." + std::to_string(v % 256);
      free = port_free(addr, 18888) && port_free(addr, 6000);
    }
    if (free) return lo;
  }
  return 0;
}

// One request the API's own agent client made, from an agent's access log.
struct AgentCall {
  pid_t pid = 0;  // the zlh-api process (request id "api<pid>-<n>")
  std::string method, path;
};

// Reads a console WebSocket until `needle` is printed (not merely echoed).
bool console_prints(http::WsClient& ws, const std::string& needle, std::string* out,
                    std::chrono::milliseconds timeout = 20s) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    for (size_t pos = out->find(needle); pos != std::string::npos; pos = out->find(needle, pos + 1))
      if (pos < 5 || out->compare(pos - 5, 5, "echo ") != 0) return true;
    if (Clock::now() > deadline) return false;
    auto m = ws.read(200ms);
    if (!m) {
      if (m.error().is(codes::kTimeout)) continue;
      return false;
    }
    if (m->binary) *out += m->data;
  }
}

// PostgreSQL, the fake Proxmox, and the replicas A (0) and B (1) of one suite.
class TwoReplicas {
 public:
  ~TwoReplicas() { stop(); }

  // Everything under make_temp_dir(tag), database <tag>_<random>. Failures
  // through gtest (check HasFatalFailure()).
  void start(const std::string& tag) {
    dir_ = make_temp_dir(tag);
    ASSERT_TRUE(cluster()) << cluster().error().message;
    db_ = tag + "_" + random_hex(4);
    auto ci = (*cluster())->create_database(db_);
    ASSERT_TRUE(ci) << ci.error().message;
    make_store();
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    make_keys();
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    start_fake();
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    vmid_lo_ = pick_window();
    ASSERT_GT(vmid_lo_, 0) << "no vmid window with free addresses";
    for (int i = 0; i < 2; ++i) {
      const std::string name = i == 0 ? "a" : "b";
      ASSERT_TRUE(fs::make_dirs(dir_ + "/" + name));
      ide_addr_[i] = unique_loopback();
      api_[i] = std::make_unique<ApiProcess>(dir_ + "/" + name, store_, keys_, api_args(i));
      // One after the other: the first migrates the database and makes the admin.
      ASSERT_TRUE(api_[i]->start(60s)) << "replica " << name << ":\n" << api_[i]->log();
    }
  }

  // A and B (SIGKILL), then the fake, which stops every container it runs.
  void stop() {
    for (auto& a : api_) a.reset();
    fake_.reset();
    if (!db_.empty() && cluster() && !::testing::Test::HasFailure())
      (void)(*cluster())->exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)", "postgres");
    db_.clear();
    if (!dir_.empty()) remove_unless_failed(dir_);
    dir_.clear();
  }

  // Starts replica i again (after kill9), with the same data and flags.
  bool restart(int i) {
    api_[i] =
        std::make_unique<ApiProcess>(dir_ + "/" + (i == 0 ? "a" : "b"), store_, keys_, api_args(i));
    return api_[i]->start(60s);
  }
  void kill9(int i) { api_[i]->stop(SIGKILL); }

  ApiProcess& api(int i) { return *api_[i]; }
  ApiClient client(int i) const { return ApiClient(api_[i]->base()); }
  FakeProxmox& fake() { return *fake_; }
  int vmid_lo() const { return vmid_lo_; }
  const std::string& dir() const { return dir_; }
  std::string logs() const {
    std::string out;
    for (int i = 0; i < 2; ++i)
      if (api_[i])
        out += std::string("---- replica ") + (i == 0 ? "A" : "B") + " (tail)\n" +
               tail(api_[i]->log(), 6000);
    return out;
  }
  static std::string tail(const std::string& s, size_t n) {
    return s.size() > n ? s.substr(s.size() - n) : s;
  }

  void open_gate() { ASSERT_TRUE(fs::write_file_atomic(dir_ + "/gate", "open\n")); }

  // The IDE listener of replica i and a request to it for `vmid`'s origin.
  std::string ide_base(int i) const { return "http://" + ide_addr_[i] + ":8081"; }
  static std::string origin(int vmid) {
    return "http://" + std::to_string(vmid) + ".localhost:8081";
  }

  // Every request the API's agent client made to `vmid`'s agent.
  std::vector<AgentCall> agent_calls(int vmid) const {
    std::vector<AgentCall> out;
    const std::string v = std::to_string(vmid);
    auto text =
        fs::read_file(dir_ + "/cts/" + v + "/containers/" + v + "/var/log/zlh-agent.log", 1 << 26);
    if (!text) return out;
    std::string_view all = *text;
    while (!all.empty()) {
      size_t nl = all.find('\n');
      std::string_view line = all.substr(0, nl);
      all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
      if (line.find("\"request\"") == std::string_view::npos) continue;
      auto j = json::parse(line, nullptr, false);
      if (!j.is_object() || j.value("msg", "") != "request") continue;
      std::string rid = j.value("request_id", "");
      if (!rid.starts_with("api")) continue;
      auto dash = rid.find('-');
      if (dash == std::string::npos) continue;
      AgentCall c;
      c.pid = pid_t(std::atoi(rid.substr(3, dash - 3).c_str()));
      c.method = j.value("method", "");
      c.path = j.value("path", "");
      out.push_back(std::move(c));
    }
    return out;
  }
  // Calls of `method` `path` to `vmid`'s agent by process `pid` (0: by any).
  int count_agent(int vmid, const std::string& method, const std::string& path,
                  pid_t pid = 0) const {
    int n = 0;
    for (const auto& c : agent_calls(vmid))
      if (c.method == method && c.path == path && (pid == 0 || c.pid == pid)) ++n;
    return n;
  }
  // Requests to the fake Proxmox whose method matches and path contains `part`.
  int count_pve(const json& state, const std::string& method, const std::string& part) const {
    int n = 0;
    for (const auto& r : state["requests"])
      if (r.value("method", "") == method && r.value("path", "").find(part) != std::string::npos)
        ++n;
    return n;
  }
  int count_clones(const json& state, int vmid) const {
    int n = 0;
    for (const auto& r : state["requests"])
      if (r.value("method", "") == "POST" && r.value("path", "").ends_with("/clone") &&
          r["params"].value("newid", "") == std::to_string(vmid))
        ++n;
    return n;
  }
  // The vmids of the fake's containers that are not templates or foreign.
  std::set<int> pve_vmids() const {
    std::set<int> out;
    const json st = fake_->state();
    for (const auto& c : st["cts"])
      if (c.value("template", 0) == 0 && !c.value("foreign", false)) out.insert(c.value("vmid", 0));
    return out;
  }

 private:
  std::vector<std::string> api_args(int i) const {
    return {"--driver",
            "proxmox",
            "--proxmox-config",
            dir_ + "/proxmox.toml",
            "--store",
            "postgres://zlh@/" + db_ + "?host=" + (*cluster())->socket_dir() +
                "&port=" + std::to_string((*cluster())->port()),
            "--store-password-file",
            dir_ + "/pg.password",
            "--jwt-secret-file",
            dir_ + "/shared/jwt.secret",
            "--api-key-file",
            keys_ + "/api.key",
            "--job-lease-ttl",
            kLeaseTtlMs,
            "--replica-ttl",
            kReplicaTtlMs,
            "--poll-interval",
            "0.3",
            "--dev-vmid-lo",
            std::to_string(vmid_lo_),
            "--dev-vmid-hi",
            std::to_string(vmid_lo_ + kWindow - 1),
            "--ide-listen",
            ide_addr_[i] + ":8081",
            "--ide-origin",
            "http://{vmid}.localhost:8081"};
  }

  // The tiny runtime "tool", the runtime "gate" (held until the gate file
  // exists) and the code-server stand-in, signed.
  void make_store() {
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    make_tool_store(dir_, store_, keys_, /*sign=*/false);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    std::string gate = dir_ + "/gate.tar.gz";
    write_archive(gate, {ArchiveEntry::dir("gate-1.0.0/"), ArchiveEntry::dir("gate-1.0.0/bin/"),
                         ArchiveEntry::file("gate-1.0.0/bin/gate",
                                            "#!/bin/sh\nwhile [ ! -e '" + dir_ +
                                                "/gate' ]; do sleep 0.05; done\n"
                                                "echo \"gate 1.0.0\"\n",
                                            0755)});
    auto add = zlhctl({"catalog",  "add",       "--store",   store_,      "--kind",
                       "runtime",  "--id",      "gate",      "--version", "1.0.0",
                       "--file",   gate,        "--channel", "stable",    "--strip",
                       "1",        "--bin",     "bin",       "--verify",  "bin/gate --version",
                       "--expect", "gate 1.0.0"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    std::string cs = dir_ + "/code-server.tar.gz";
    write_archive(
        cs,
        {ArchiveEntry::file(
             "cs/bin/code-server",
             "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/../lib/standin.py\" \"$@\"\n", 0755),
         ArchiveEntry::file("cs/lib/standin.py",
                            fs::read_file(fixture("code_server_standin.py")).value_or(""), 0644)});
    add = zlhctl({"catalog",
                  "add",
                  "--store",
                  store_,
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
                  "bin/code-server --bind-addr {bind} --auth none --user-data-dir {data} "
                  "{workspace}"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    ASSERT_EQ(
        zlhctl({"catalog", "sign", "--store", store_, "--key", keys_ + "/catalog.key"}).exit_code,
        0);
  }

  // The keys every replica shares: keygen's api.key/api.pub (the fake's
  // containers trust api.pub), a JWT secret, the database password.
  void make_keys() {
    ASSERT_TRUE(fs::make_dirs(dir_ + "/shared"));
    auto secret = crypto::random_bytes(32);
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/shared/jwt.secret",
                                      crypto::base64_encode(secret) + "\n", 0600));
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/pg.password", pg_password() + "\n", 0600));
  }

  void start_fake() {
    FakeProxmox::Options o;
    o.work_dir = dir_;
    o.real_cts = true;
    o.api_key = keys_ + "/api.pub";
    o.catalog_key = keys_ + "/catalog.pub";
    o.artifacts = "file://" + store_;
    auto f = FakeProxmox::start(o);
    ASSERT_TRUE(f) << f.error().message;
    fake_ = std::move(*f);
    // Clones of one template may overlap: 20 creates at once stay quick.
    fake_->configure({{"template_lock", false}});
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/pve.token", fake_->token() + "\n", 0600));
    ASSERT_TRUE(fs::write_file_atomic(
        dir_ + "/proxmox.toml",
        "url = \"" + fake_->url() + "\"\ntoken_file = \"" + dir_ +
            "/pve.token\"\nfingerprint = \"" + fake_->fingerprint_sha256() +
            "\"\npool = \"zlh\"\nlock_backoff_ms = 50\npoll_ms = 100\n"
            "[templates]\npve1 = 9001\npve2 = 9002\npve3 = 9003\n[bridges]\ndev = \"vmbr1\"\n"));
  }

  std::string dir_, db_, store_, keys_;
  std::string ide_addr_[2];
  int vmid_lo_ = 0;
  std::unique_ptr<FakeProxmox> fake_;
  std::unique_ptr<ApiProcess> api_[2];
};

// ---- helpers on the REST API ----

http::Headers bearer(const std::string& token) {
  http::Headers h;
  h.add("Authorization", "Bearer " + token);
  return h;
}

std::string login(const ApiClient& c, const std::string& name) {
  auto r = c.call("POST", "/api/auth/login", "",
                  json{{"identifier", name}, {"password", "password-" + name}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body, nullptr, false).value("token", "");
}

// POST /api/servers for a dev server; {id, vmid} (0 on failure).
std::pair<int64_t, int> create(const ApiClient& c, const std::string& token,
                               const std::string& runtime, bool code_server = false) {
  auto r = c.call("POST", "/api/servers", token,
                  json{{"type", "dev"},
                       {"runtime", runtime},
                       {"version", "1.0.0"},
                       {"enable_code_server", code_server}}
                      .dump());
  EXPECT_EQ(r.status, 202) << r.body;
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || r.status != 202) return {0, 0};
  return {j.value("id", int64_t(0)), j["server"].value("vmid", 0)};
}

// Polls the server through `c` until its state is ready or error; stops at
// once when the replica refuses the session or does not know the server
// (401/404: what a replica with a store of its own would answer).
json wait_done(const ApiClient& c, int64_t id, const std::string& token,
               std::chrono::milliseconds timeout = 180s) {
  json s;
  eventually(
      [&] {
        auto r = c.call("GET", "/api/servers/" + std::to_string(id), token);
        s = json::parse(r.body, nullptr, false);
        if (r.status == 401 || r.status == 404) return true;
        const std::string st = s.is_object() ? s.value("state", "") : "";
        return st == "ready" || st == "error";
      },
      timeout);
  return s;
}

json job_of(const ApiClient& c, const std::string& token, int64_t server_id) {
  json s = c.server(server_id, token);
  if (!s.is_object() || !s["job"].is_object()) return nullptr;
  return json::parse(
      c.call("GET", "/api/jobs/" + std::to_string(s["job"].value("id", 0)), token).body, nullptr,
      false);
}

// Each of `vmids` is asked GET /status by exactly one of `pids` once every
// server had `rounds` more polls: {vmid → the pids that polled it}.
std::map<int, std::set<pid_t>> pollers(const TwoReplicas& r, const std::vector<int>& vmids,
                                       const std::vector<pid_t>& pids, int rounds) {
  std::map<int, std::map<pid_t, int>> before;
  for (int v : vmids)
    for (pid_t p : pids) before[v][p] = r.count_agent(v, "GET", "/status", p);
  auto grown = [&](int v) {
    int n = 0;
    for (pid_t p : pids) n += r.count_agent(v, "GET", "/status", p) - before[v][p];
    return n;
  };
  EXPECT_TRUE(eventually(
      [&] {
        for (int v : vmids)
          if (grown(v) < rounds) return false;
        return true;
      },
      60s))
      << "the servers were not polled " << rounds << " times within 60 s";
  std::map<int, std::set<pid_t>> out;
  for (int v : vmids)
    for (pid_t p : pids)
      if (r.count_agent(v, "GET", "/status", p) > before[v][p]) out[v].insert(p);
  return out;
}

// ---- A and B serving everything ----

class ReplicasTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    r_ = new TwoReplicas();
    r_->start("replicas");
    started_ = !::testing::Test::HasFatalFailure();
  }
  static void TearDownTestSuite() {
    delete r_;
    r_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_) << "the replicas did not start (see above)"; }
  static ApiClient a() { return r_->client(0); }
  static ApiClient b() { return r_->client(1); }

  static inline TwoReplicas* r_ = nullptr;
  static inline bool started_ = false;
};

TEST_F(ReplicasTest, AUserMadeOnALogsInOnBAndAServerMadeOnAShowsOnB) {
  std::string ann = a().register_user("ann");
  ASSERT_FALSE(ann.empty()) << r_->logs();
  // The session A issued is good on B, and the password too.
  EXPECT_EQ(b().call("GET", "/api/auth/me", ann).status, 200);
  std::string on_b = login(b(), "ann");
  ASSERT_FALSE(on_b.empty());
  EXPECT_EQ(a().call("GET", "/api/auth/me", on_b).status, 200);

  auto [id, vmid] = create(a(), ann, "tool");
  ASSERT_GT(id, 0);
  json s = wait_done(b(), id, on_b);
  ASSERT_EQ(s.value("state", ""), "ready") << s.dump() << r_->logs();
  EXPECT_EQ(s["vmid"], vmid);
  auto list = json::parse(b().call("GET", "/api/servers", on_b).body, nullptr, false);
  bool listed = false;
  for (const auto& x : list.is_array() ? list : list.value("servers", json::array()))
    if (x.value("id", int64_t(0)) == id) listed = true;
  EXPECT_TRUE(listed) << list.dump();
  EXPECT_EQ(r_->pve_vmids().count(vmid), 1u);
}

TEST_F(ReplicasTest, TheConsoleAndTheIdeWorkThroughEitherReplica) {
  std::string cid = a().register_user("cid");
  auto [id, vmid] = create(b(), cid, "tool", /*code_server=*/true);
  ASSERT_GT(id, 0);
  json s = wait_done(a(), id, cid);
  ASSERT_EQ(s.value("state", ""), "ready") << s.dump() << r_->logs();

  // The console relay, once through each replica.
  for (int i = 0; i < 2; ++i) {
    int status = 0;
    auto ws = http::WsClient::connect(
        "ws://" + r_->api(i).addr() + ":8080/api/servers/" + std::to_string(id) + "/console",
        bearer(cid), 10s, &status);
    ASSERT_TRUE(ws) << "replica " << i << ": " << status << " " << ws.error().message;
    const std::string word = std::string("through-") + (i == 0 ? "a" : "b") + "-";
    ASSERT_TRUE((*ws)->send("echo " + word + "$((40+2))\n", true));
    std::string out;
    EXPECT_TRUE(console_prints(**ws, word + "42", &out)) << out;
    (*ws)->close();
  }

  // The IDE: a ticket from one replica, redeemed on the other's IDE
  // listener; the cookie then opens the IDE on both.
  auto ticket = [&](int i) {
    http::Headers h;
    h.add("Cookie", "zlh_session=" + cid);
    h.add("X-ZLH-CSRF", "1");
    h.add("Content-Type", "application/json");
    auto r = http::request(
        "POST", r_->api(i).url("/api/servers/" + std::to_string(id) + "/ide-ticket"), h, "{}", 30s);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message);
    std::string url = r ? json::parse(r->body, nullptr, false).value("url", "") : "";
    return url.rfind(TwoReplicas::origin(vmid), 0) == 0
               ? url.substr(TwoReplicas::origin(vmid).size())
               : "";
  };
  auto at = [&](int i, const std::string& path, const std::string& cookie) {
    http::Headers h;
    h.set("Host", std::to_string(vmid) + ".localhost:8081");
    if (!cookie.empty()) h.add("Cookie", "zlh_ide=" + cookie);
    auto r = http::request("GET", r_->ide_base(i) + path, h, {}, 30s);
    return r ? *r : http::ClientResponse{};
  };
  for (int issuer = 0; issuer < 2; ++issuer) {
    std::string path = ticket(issuer);
    ASSERT_FALSE(path.empty());
    auto redeemed = at(1 - issuer, path, "");
    ASSERT_EQ(redeemed.status, 302) << "a ticket of replica " << issuer << " on the other\n"
                                    << redeemed.body;
    std::string cookie;
    for (const auto& [k, v] : redeemed.headers.items())
      if (strings::iequals(k, "Set-Cookie") && v.rfind("zlh_ide=", 0) == 0)
        cookie = std::string(v.substr(8, v.find(';') - 8));
    ASSERT_FALSE(cookie.empty());
    for (int i = 0; i < 2; ++i) {
      auto r = at(i, "/dev/" + std::to_string(vmid) + "/ide/headers", cookie);
      EXPECT_EQ(r.status, 200) << "IDE through replica " << i << ": " << r.body;
      EXPECT_NE(r.body.find("\"path\""), std::string::npos) << r.body;
    }
  }
}

TEST_F(ReplicasTest, ALogoutOnAIsRefusedByBWithinOneSecond) {
  a().register_user("dee");
  std::string t = login(b(), "dee");
  ASSERT_FALSE(t.empty());
  // Both replicas have served the session (and may hold it in a cache).
  ASSERT_EQ(b().call("GET", "/api/auth/me", t).status, 200);
  ASSERT_EQ(a().call("GET", "/api/auth/me", t).status, 200);
  ASSERT_EQ(b().call("GET", "/api/servers", t).status, 200);

  const auto sent = Clock::now();
  ASSERT_EQ(a().call("POST", "/api/auth/logout", t).status, 200);
  const auto answered = Clock::now();
  int last = 0;
  bool refused = eventually(
      [&] {
        auto r = http::request("GET", r_->api(1).url("/api/auth/me"), bearer(t), {}, 1s);
        last = r ? r->status : 0;
        return last == 401;
      },
      1s);
  const auto seen = Clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  RecordProperty("logout_to_refusal_on_b_ms", std::to_string(ms(seen - answered)));
  std::cout << "[ replicas ] logout answered by A in " << ms(answered - sent)
            << " ms; B refused the session " << ms(seen - answered) << " ms after that\n";
  EXPECT_TRUE(refused) << "B still answers " << last << " 1 s after the logout on A";
  EXPECT_EQ(a().call("GET", "/api/auth/me", t).status, 401);
}

TEST_F(ReplicasTest, TwentyConcurrentCreatesOverBothGetDistinctVmidsAndEachIsPolledByOne) {
  std::vector<std::string> tokens;
  for (int u = 0; u < 4; ++u)
    tokens.push_back((u % 2 ? b() : a()).register_user("crowd" + std::to_string(u)));
  std::vector<int64_t> ids(20, 0);
  std::vector<std::thread> ts;
  for (int i = 0; i < 20; ++i)
    ts.emplace_back(
        [&, i] { ids[size_t(i)] = create(i % 2 ? b() : a(), tokens[i % 4], "tool").first; });
  for (auto& t : ts) t.join();
  std::set<int> vmids;
  std::set<std::string> ips, hostnames;
  for (int i = 0; i < 20; ++i) {
    ASSERT_GT(ids[size_t(i)], 0) << i;
    json s = wait_done(i % 2 ? a() : b(), ids[size_t(i)], tokens[size_t(i % 4)]);
    ASSERT_EQ(s.value("state", ""), "ready") << s.dump() << r_->logs();
    int v = s.value("vmid", 0);
    EXPECT_GE(v, r_->vmid_lo());
    EXPECT_LT(v, r_->vmid_lo() + kWindow);
    vmids.insert(v);
    ips.insert(s.value("ip", ""));
    hostnames.insert(s.value("hostname", ""));
  }
  EXPECT_EQ(vmids.size(), 20u);
  EXPECT_EQ(ips.size(), 20u);
  EXPECT_EQ(ips.count(""), 0u);
  EXPECT_EQ(hostnames.size(), 20u);
  // Each container was cloned once (no create ran twice) and exists.
  const json st = r_->fake().state();
  for (int v : vmids) EXPECT_EQ(r_->count_clones(st, v), 1) << v;
  std::set<int> at_pve = r_->pve_vmids();
  for (int v : vmids) EXPECT_EQ(at_pve.count(v), 1u) << v;

  // The poller: every server asked by exactly one replica.
  std::vector<int> vs(vmids.begin(), vmids.end());
  const std::vector<pid_t> pids{r_->api(0).pid(), r_->api(1).pid()};
  auto by = pollers(*r_, vs, pids, 3);
  std::map<pid_t, int> share;
  for (int v : vs) {
    EXPECT_EQ(by[v].size(), 1u) << "vmid " << v << " polled by " << by[v].size() << " replicas";
    for (pid_t p : by[v]) share[p]++;
  }
  std::cout << "[ replicas ] servers polled by A: " << share[pids[0]]
            << ", by B: " << share[pids[1]] << "\n";
  EXPECT_GT(share[pids[0]], 0) << "A polls none of 20 servers";
  EXPECT_GT(share[pids[1]], 0) << "B polls none of 20 servers";
}

// ---- kill -9 of A during its create jobs ----

class ReplicasFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    r_.start("failover");
    ASSERT_FALSE(HasFatalFailure());
  }
  void TearDown() override { r_.stop(); }
  TwoReplicas r_;
};

TEST_F(ReplicasFailoverTest, KillNineOfAWhileItsCreatesWaitForRunningBFinishesThemOnce) {
  ApiClient a = r_.client(0), b = r_.client(1);
  std::string eve = a.register_user("eve");
  ASSERT_FALSE(eve.empty());
  constexpr int kServers = 4;
  std::vector<int64_t> ids;
  for (int i = 0; i < kServers; ++i) ids.push_back(create(a, eve, "gate").first);
  const pid_t pid_a = r_.api(0).pid(), pid_b = r_.api(1).pid();

  // Every job at "wait for running", asked by A; the agents are "installing".
  std::vector<int> vmids;
  std::vector<int64_t> jobs;
  for (int64_t id : ids) {
    ASSERT_GT(id, 0);
    json job;
    int vmid = 0;
    ASSERT_TRUE(eventually(
        [&] {
          job = job_of(b, eve, id);
          if (!job.is_object() || job["steps"].size() < 6) return false;
          vmid = b.server(id, eve).value("vmid", 0);
          return job["steps"][5].value("state", "") == "running" &&
                 r_.count_agent(vmid, "GET", "/status", pid_a) > 0;
        },
        120s))
        << job.dump() << r_.logs();
    vmids.push_back(vmid);
    jobs.push_back(job.value("id", int64_t(0)));
  }
  for (int v : vmids) {
    EXPECT_EQ(r_.count_agent(v, "GET", "/status", pid_b), 0)
        << "B asked the agent of " << v << " while A ran its job";
    EXPECT_EQ(r_.count_agent(v, "POST", "/config", pid_a), 1) << v;
  }

  r_.kill9(0);
  const auto killed = Clock::now();
  // B takes the jobs over once A's leases expire, and resumes them at
  // "wait for running" (it asks the agents, nothing before that again).
  EXPECT_TRUE(eventually(
      [&] {
        for (int v : vmids)
          if (r_.count_agent(v, "GET", "/status", pid_b) == 0) return false;
        return true;
      },
      std::chrono::milliseconds(std::stoi(kLeaseTtlMs)) + 60s))
      << r_.logs();
  const auto taken = Clock::now();
  std::cout << "[ replicas ] B resumed A's " << kServers << " jobs "
            << std::chrono::duration_cast<std::chrono::milliseconds>(taken - killed).count()
            << " ms after kill -9 (lease ttl " << kLeaseTtlMs << " ms)\n";
  for (int64_t id : ids)
    EXPECT_NE(b.server(id, eve).value("state", ""), "ready") << "the gate is still closed";

  r_.open_gate();
  for (size_t i = 0; i < ids.size(); ++i) {
    json s = wait_done(b, ids[i], eve);
    EXPECT_EQ(s.value("state", ""), "ready") << s.dump() << r_.logs();
    json job;
    EXPECT_TRUE(eventually(
        [&] {
          job = json::parse(b.call("GET", "/api/jobs/" + std::to_string(jobs[i]), eve).body,
                            nullptr, false);
          return job.value("state", "") == "done";
        },
        30s))
        << job.dump();
    for (const auto& step : job["steps"]) EXPECT_EQ(step.value("state", ""), "done") << job.dump();
  }

  // No step ran twice: one clone, one start, one payload per container.
  const json st = r_.fake().state();
  for (int v : vmids) {
    const std::string lxc = "/lxc/" + std::to_string(v) + "/status/start";
    EXPECT_EQ(r_.count_clones(st, v), 1) << v;
    EXPECT_EQ(r_.count_pve(st, "POST", lxc), 1) << v;
    EXPECT_EQ(r_.count_agent(v, "POST", "/config"), 1) << v;
    EXPECT_EQ(r_.count_agent(v, "POST", "/config", pid_b), 0) << v;
  }
  // No vmid leaks: the store's servers are exactly the cluster's containers.
  auto list = json::parse(b.call("GET", "/api/servers", eve).body, nullptr, false);
  std::set<int> in_store;
  for (const auto& x : list.is_array() ? list : list.value("servers", json::array()))
    in_store.insert(x.value("vmid", 0));
  EXPECT_EQ(in_store, std::set<int>(vmids.begin(), vmids.end())) << list.dump();
  EXPECT_EQ(r_.pve_vmids(), in_store);

  // With A gone B polls all of them; with A back each is polled by one.
  auto alone = pollers(r_, vmids, {pid_b}, 2);
  for (int v : vmids) EXPECT_EQ(alone[v], std::set<pid_t>{pid_b}) << v;
  ASSERT_TRUE(r_.restart(0)) << r_.api(0).log();
  const pid_t pid_a2 = r_.api(0).pid();
  // While the membership changes a server may be asked by both; once it
  // has settled (within a replica ttl), a window of polls shows each
  // server asked by exactly one replica.
  int windows = 0;
  std::map<int, std::set<pid_t>> both;
  bool settled = eventually(
      [&] {
        ++windows;
        both = pollers(r_, vmids, {pid_a2, pid_b}, 3);
        for (int v : vmids)
          if (both[v].size() != 1) return false;
        return true;
      },
      std::chrono::milliseconds(3 * std::stoi(kReplicaTtlMs)) + 30s);
  std::cout << "[ replicas ] after A's restart: " << windows << " polling window(s) to settle\n";
  for (int v : vmids)
    EXPECT_EQ(both[v].size(), 1u) << "vmid " << v << (settled ? "" : " (never settled)");
}

}  // namespace
}  // namespace zlh::testing
