// zlh-api under stress, through its real binary with the local driver and
// real agents on loopback (docs/design.md §10.3, §15):
//   - 50 concurrent creates: 50 distinct vmids, all ready, all deleted with
//     no agent left behind and every vmid back in the pool;
//   - kill -9 of the API at several points of a provisioning job: after a
//     restart every job ends ready or compensated, with no orphan agent and
//     no leaked vmid;
//   - the status poller: a killed agent stops being seen (agent_last_seen
//     frozen, agent_state "unreachable") and comes back after host/start.
// The fixture mirrors api_test.cpp: a store with a tiny "tool" runtime and a
// random dev vmid window so parallel runs never share loopback addresses.
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

#include <climits>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Live zlh-agent processes by pid → their --root, for roots under `prefix`.
std::map<pid_t, std::string> agents_under(const std::string& prefix) {
  std::map<pid_t, std::string> out;
  auto d = opendir("/proc");
  while (auto* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    auto cmd = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
    if (!cmd) continue;
    std::vector<std::string> argv;
    for (size_t i = 0; i < cmd->size();) {
      size_t z = cmd->find('\0', i);
      if (z == std::string::npos) z = cmd->size();
      argv.push_back(cmd->substr(i, z - i));
      i = z + 1;
    }
    if (argv.empty() || argv[0].find("zlh-agent") == std::string::npos) continue;
    for (size_t i = 0; i + 1 < argv.size(); ++i)
      if (argv[i] == "--root" && argv[i + 1].starts_with(prefix) && process_alive(pid))
        out[pid] = argv[i + 1];
  }
  closedir(d);
  return out;
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

std::string real(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? buf : p;
}

class ApiStressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("api-stress");
    data_ = dir_ + "/data";
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    make_tool_store(dir_, store_, keys_);
    ASSERT_FALSE(HasFatalFailure());
    vmid_lo_ = pick_window();
    ASSERT_GT(vmid_lo_, 0) << "no vmid window with free addresses";
    addr_ = unique_loopback();
  }
  void TearDown() override {
    stop_api(SIGKILL);
    // The containers' agents outlive the API by design; end them with the test.
    if (!data_.empty())
      for (auto& [p, root] : agents_under(real(data_) + "/")) ::kill(p, SIGKILL);
    auto d = opendir((data_ + "/containers").c_str());
    if (d) {
      while (auto* e = readdir(d))
        if (e->d_name[0] != '.') kill_services(data_ + "/containers/" + e->d_name);
      closedir(d);
    }
    remove_unless_failed(dir_);
  }
  // A random window of 200 dev vmids in 7000-15999, a range no other test
  // (api_test and relay_test: 20000-45599, local_driver_test: 40000-64999),
  // bench/api.sh (16000-19999) or `make run` (6000-6999) uses, whose
  // loopback addresses are all free now: the API hands out the lowest free
  // vmid, and a taken address would fail the create.
  static int pick_window() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      int lo = 7000 + int(uint8_t(crypto::random_bytes(1)[0]) % 45) * 200;
      bool free = true;
      for (int v = lo; v < lo + 200 && free; ++v) {
        std::string addr = "127.77." + std::to_string(v / 256) + "." + std::to_string(v % 256);
        free = port_free(addr, 18888) && port_free(addr, 6000);
      }
      if (free) return lo;
    }
    return 0;
  }
  void start_api(std::vector<std::string> extra = {}) {
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
              std::to_string(dev_hi_ > 0 ? dev_hi_ : vmid_lo_ + 199),
              "--driver",
              "local",
              "--insecure-local-driver",
              "--metrics-listen",
              addr_ + ":9464"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
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
        << api_log();
  }
  void stop_api(int sig) {
    if (api_pid_ <= 0) return;
    ::kill(api_pid_, sig);
    int st = 0;
    ::waitpid(api_pid_, &st, 0);
    api_pid_ = -1;
  }
  std::string api_log() { return fs::read_file(dir_ + "/api.log", 1 << 20).value_or(""); }
  std::string url(const std::string& p) { return "http://" + addr_ + ":8080" + p; }
  // Thread-safe (no gtest assertions): status 0 when the request failed.
  http::ClientResponse raw(const std::string& m, const std::string& p, const std::string& token,
                           const std::string& body = "") {
    http::Headers h;
    if (!token.empty()) h.add("Authorization", "Bearer " + token);
    if (!body.empty() && (body.front() == '{' || body.front() == '[') && !h.get("Content-Type"))
      h.add("Content-Type", "application/json");  // JSON routes refuse other types (415)
    auto r = http::request(m, url(p), h, body, 60s);
    return r ? *r : http::ClientResponse{};
  }
  http::ClientResponse call(const std::string& m, const std::string& p, const std::string& token,
                            const std::string& body = "") {
    auto r = raw(m, p, token, body);
    EXPECT_NE(r.status, 0) << m << " " << p << " failed";
    return r;
  }
  std::string user(const std::string& name) {
    auto r = call(
        "POST", "/api/auth/register", "",
        json{{"email", name + "@example.com"}, {"username", name}, {"password", "password-" + name}}
            .dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }
  json get_json(const std::string& p, const std::string& token) {
    return json::parse(call("GET", p, token).body, nullptr, false);
  }
  json server(int64_t id, const std::string& token) {
    return get_json("/api/servers/" + std::to_string(id), token);
  }
  static const std::string& dev_body() {
    static const std::string b =
        json{{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}}.dump();
    return b;
  }
  std::string container(int vmid) { return real(data_) + "/containers/" + std::to_string(vmid); }
  // Agents running for exactly this container.
  std::vector<pid_t> agents_of(int vmid) {
    std::vector<pid_t> out;
    for (auto& [p, root] : agents_under(container(vmid)))
      if (root == container(vmid)) out.push_back(p);
    return out;
  }
  // The API's /metrics from its --metrics-listen.
  http::ClientResponse metrics_raw() {
    auto r = http::request("GET", "http://" + addr_ + ":9464/metrics", {}, {}, 60s);
    return r ? *r : http::ClientResponse{};
  }
  // A sample of the API's /metrics, or -1.
  double metric(const std::string& name) {
    auto r = metrics_raw();
    std::string key = "\n" + name + " ";
    auto at = ("\n" + r.body).find(key);
    if (r.status != 200 || at == std::string::npos) return -1;
    return std::strtod(r.body.c_str() + at + key.size() - 1, nullptr);
  }

  std::string dir_, data_, store_, keys_, addr_;
  int vmid_lo_ = 0;
  int dev_hi_ = 0;  // the dev range's end, when not vmid_lo_ + 199
  pid_t api_pid_ = -1;
};

TEST_F(ApiStressTest, FiftyConcurrentCreatesGetDistinctVmidsRunAndAreDeletedWithoutLeftovers) {
  start_api();
  std::string t = user("load");
  constexpr int kN = 50;
  std::vector<http::ClientResponse> created(kN);
  {
    std::vector<std::thread> th;
    for (int i = 0; i < kN; ++i)
      th.emplace_back([&, i] { created[size_t(i)] = raw("POST", "/api/servers", t, dev_body()); });
    for (auto& x : th) x.join();
  }
  std::set<int64_t> ids;
  std::set<int> vmids;
  for (const auto& r : created) {
    ASSERT_EQ(r.status, 202) << r.body;
    auto j = json::parse(r.body);
    ids.insert(j["id"].get<int64_t>());
    int vmid = j["server"]["vmid"];
    EXPECT_GE(vmid, vmid_lo_);
    EXPECT_LE(vmid, vmid_lo_ + 199);
    vmids.insert(vmid);
  }
  EXPECT_EQ(ids.size(), size_t(kN));
  ASSERT_EQ(vmids.size(), size_t(kN)) << "a vmid was handed out twice";
  // The lowest free ones, since the pool was empty.
  EXPECT_EQ(*vmids.begin(), vmid_lo_);
  EXPECT_EQ(*vmids.rbegin(), vmid_lo_ + kN - 1);

  // All of them reach ready (generous: 50 agents installing at once on a small machine).
  json list;
  bool settled = eventually(
      [&] {
        list = get_json("/api/servers", t);
        if (!list.contains("servers")) return false;
        int done = 0;
        for (const auto& s : list["servers"]) {
          if (s["state"] == "error") return true;  // reported below
          if (s["state"] == "ready") ++done;
        }
        return done == kN;
      },
      300s);
  ASSERT_TRUE(settled) << list.dump();
  ASSERT_EQ(list["servers"].size(), size_t(kN));
  for (const auto& s : list["servers"]) {
    EXPECT_EQ(s["state"], "ready") << s.dump();
    EXPECT_EQ(s["agent_state"], "running") << s.dump();
  }
  // One agent per container, none twice.
  auto agents = agents_under(real(data_) + "/");
  EXPECT_EQ(agents.size(), size_t(kN));
  for (int v : vmids) EXPECT_EQ(agents_of(v).size(), 1u) << "vmid " << v;

  // Delete them all at once.
  std::vector<http::ClientResponse> deleted(kN);
  {
    std::vector<std::thread> th;
    size_t i = 0;
    for (int64_t id : ids) {
      th.emplace_back(
          [&, i, id] { deleted[i] = raw("DELETE", "/api/servers/" + std::to_string(id), t); });
      ++i;
    }
    for (auto& x : th) x.join();
  }
  for (const auto& r : deleted) EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(eventually(
      [&] {
        list = get_json("/api/servers", t);
        return list.contains("servers") && list["servers"].empty();
      },
      300s))
      << list.dump();
  EXPECT_TRUE(eventually([&] { return agents_under(real(data_) + "/").empty(); }, 30s))
      << agents_under(real(data_) + "/").size() << " agents left";
  for (int v : vmids)
    EXPECT_FALSE(fs::read_file(container(v) + "/zlh-local.json", 4096)) << "vmid " << v;
  // Every vmid went back to the pool: the next create gets the lowest again.
  auto again = call("POST", "/api/servers", t, dev_body());
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(json::parse(again.body)["server"]["vmid"], vmid_lo_);
}

// Game servers take a vmid from their own range and a port from the pool in
// the create transaction. To see the pool under concurrency, the
// allocations must stay held while all 50 creates run: the game's Java
// artifact in the store is replaced by a FIFO after signing, so every
// agent blocks opening it (file:// store) and no job ends — and releases
// its port — before the test has looked. Deleting them all must return every
// vmid and port to the pool.
TEST_F(ApiStressTest, FiftyConcurrentGameCreatesHoldDistinctVmidsAndPortsUntilDeleted) {
  // A java runtime and a vanilla entry beside the tool runtime, re-signed.
  std::string java_tar = dir_ + "/java.tar.gz";
  write_archive(java_tar, {ArchiveEntry::dir("j/"), ArchiveEntry::dir("j/bin/"),
                           ArchiveEntry::file("j/bin/java", "#!/bin/sh\necho fake java\n", 0755)});
  std::string jar = dir_ + "/server.jar";
  ASSERT_TRUE(fs::write_file_atomic(jar, "not really a jar", 0644));
  auto add = zlhctl({"catalog",   "add",      "--store", store_,     "--channel",
                     "stable",    "--kind",   "runtime", "--id",     "java",
                     "--version", "21.0.5",   "--file",  java_tar,   "--strip",
                     "1",         "--bin",    "bin",     "--verify", "bin/java -version",
                     "--expect",  "fake java"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  add = zlhctl({"catalog",     "add",    "--store", store_,      "--channel",      "stable",
                "--kind",      "game",   "--id",    "minecraft", "--variant",      "vanilla",
                "--version",   "1.21.4", "--file",  jar,         "--java",         "21",
                "--game-kind", "jar",    "--ready", "Done \\(",  "--stop-command", "stop"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ASSERT_EQ(
      zlhctl({"catalog", "sign", "--store", store_, "--key", keys_ + "/catalog.key"}).exit_code, 0);
  std::string java_artifact;
  {
    auto cat = json::parse(fs::read_file(store_ + "/catalog.json", 1 << 20).value_or("{}"), nullptr,
                           false);
    for (const auto& rt : cat.value("runtimes", json::array()))
      if (rt.value("id", "") == "java")
        for (const auto& v : rt.value("versions", json::array()))
          java_artifact = v.value("artifact", "");
  }
  ASSERT_FALSE(java_artifact.empty()) << "no java entry in the signed catalog";
  ASSERT_EQ(::unlink((store_ + "/" + java_artifact).c_str()), 0) << java_artifact;
  ASSERT_EQ(::mkfifo((store_ + "/" + java_artifact).c_str(), 0644), 0);

  // Games use the upper half of this test's window, dev the lower half; a
  // small pool of ports so that its bounds are checked too.
  constexpr int kPortLo = 30000;
  dev_hi_ = vmid_lo_ + 49;
  start_api({"--game-vmid-lo", std::to_string(vmid_lo_ + 100), "--game-vmid-hi",
             std::to_string(vmid_lo_ + 199), "--port-lo", std::to_string(kPortLo), "--port-hi",
             std::to_string(kPortLo + 59)});
  std::string t = user("gamer");
  const std::string body =
      json{{"type", "game"},      {"game", "minecraft"}, {"variant", "vanilla"},
           {"version", "1.21.4"}, {"eula", true},        {"memory_mb", 1024}}
          .dump();
  constexpr int kN = 50;
  std::vector<http::ClientResponse> created(kN);
  {
    std::vector<std::thread> th;
    for (int i = 0; i < kN; ++i)
      th.emplace_back([&, i] { created[size_t(i)] = raw("POST", "/api/servers", t, body); });
    for (auto& x : th) x.join();
  }
  std::set<int64_t> ids;
  std::set<int> vmids, ports;
  for (const auto& r : created) {
    ASSERT_EQ(r.status, 202) << r.body;
    auto j = json::parse(r.body);
    ids.insert(j["id"].get<int64_t>());
    int vmid = j["server"]["vmid"];
    EXPECT_GE(vmid, vmid_lo_ + 100);
    EXPECT_LE(vmid, vmid_lo_ + 199);
    vmids.insert(vmid);
    ASSERT_EQ(j["server"]["ports"].size(), 1u) << r.body;
    int port = j["server"]["ports"][0];
    EXPECT_GE(port, kPortLo);
    EXPECT_LE(port, kPortLo + 59);
    ports.insert(port);
  }
  EXPECT_EQ(ids.size(), size_t(kN));
  EXPECT_EQ(vmids.size(), size_t(kN)) << "a vmid was handed out twice";
  EXPECT_EQ(ports.size(), size_t(kN)) << "a port was handed out twice";
  EXPECT_EQ(*ports.begin(), kPortLo);
  EXPECT_EQ(*ports.rbegin(), kPortLo + kN - 1);

  // The allocations are still held: every job is still running, blocked in
  // the agent's Java download, and the list shows the same vmids and ports.
  json list = get_json("/api/servers", t);
  ASSERT_EQ(list["servers"].size(), size_t(kN));
  std::set<int> listed_ports;
  for (const auto& s : list["servers"]) {
    EXPECT_EQ(s["state"], "provisioning") << s.dump();
    if (s["ports"].size() == 1) listed_ports.insert(s["ports"][0].get<int>());
  }
  EXPECT_EQ(listed_ports, ports);
  // Pool exhaustion is an error with a code, not a reused port: 10 ports
  // are left, so the 11th of 11 more creates is refused.
  int refused = 0;
  for (int i = 0; i < 11; ++i) {
    auto r = call("POST", "/api/servers", t, body);
    if (r.status == 202) {
      auto j = json::parse(r.body);
      ids.insert(j["id"].get<int64_t>());
      int port = j["server"]["ports"][0];
      EXPECT_FALSE(ports.count(port)) << "port " << port << " handed out twice";
      ports.insert(port);
    } else {
      ++refused;
      EXPECT_EQ(r.status, 503) << r.body;
      EXPECT_NE(r.body.find("\"code\""), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(ports.size(), size_t(kN + 10));

  // Delete them all at once, while their jobs are still running: each
  // delete cancels the create job (no 409: a stuck provisioning must not
  // make a server undeletable), and every vmid and port goes back to the pool.
  std::vector<int64_t> create_jobs;
  for (const auto& r : created) create_jobs.push_back(json::parse(r.body)["job"].get<int64_t>());
  std::vector<http::ClientResponse> deleted(ids.size());
  {
    std::vector<std::thread> th;
    size_t i = 0;
    for (int64_t id : ids) {
      th.emplace_back(
          [&, i, id] { deleted[i] = raw("DELETE", "/api/servers/" + std::to_string(id), t); });
      ++i;
    }
    for (auto& x : th) x.join();
  }
  for (const auto& r : deleted) EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(eventually(
      [&] {
        list = get_json("/api/servers", t);
        return list.contains("servers") && list["servers"].empty();
      },
      300s))
      << list["servers"].size() << " servers left, the first: " << list["servers"][0].dump();
  for (int64_t job : create_jobs) {
    auto jj = get_json("/api/jobs/" + std::to_string(job), t);
    EXPECT_EQ(jj["state"], "cancelled") << jj.dump();
  }
  EXPECT_TRUE(eventually([&] { return agents_under(real(data_) + "/").empty(); }, 60s))
      << agents_under(real(data_) + "/").size() << " agents left";
  auto again = call("POST", "/api/servers", t, body);
  ASSERT_EQ(again.status, 202) << again.body;
  auto j = json::parse(again.body);
  EXPECT_EQ(j["server"]["vmid"], vmid_lo_ + 100);
  EXPECT_EQ(j["server"]["ports"][0], kPortLo);
}

TEST_F(ApiStressTest, KillingTheApiDuringProvisioningLeavesNoOrphanAndNoLeakedVmid) {
  start_api();
  std::string t = user("crash");
  // Round k kills the API once the first k steps of the job are done (k = 0:
  // right after the 202), so the kill lands in a different step each time.
  const int kSteps = 6;          // kCreateSteps
  std::map<int64_t, int> ready;  // server id → vmid
  int compensated = 0;
  for (int k = 0; k < kSteps; ++k) {
    SCOPED_TRACE("kill after step " + std::to_string(k));
    auto r = call("POST", "/api/servers", t, dev_body());
    ASSERT_EQ(r.status, 202) << r.body;
    auto created = json::parse(r.body);
    int64_t id = created["id"];
    int64_t job = created["job"];
    int vmid = created["server"]["vmid"];
    if (k > 0) {
      ASSERT_TRUE(eventually(
          [&] {
            auto j = get_json("/api/jobs/" + std::to_string(job), t);
            if (!j.contains("steps") || j["steps"].size() != size_t(kSteps)) return false;
            if (j["state"] != "queued" && j["state"] != "running")
              return true;  // ended first: kill anyway
            for (int i = 0; i < k; ++i)
              if (j["steps"][size_t(i)]["state"] != "done") return false;
            return true;
          },
          60s));
    }
    stop_api(SIGKILL);
    start_api();

    // The restarted API finishes the job one way or the other.
    json j;
    ASSERT_TRUE(eventually(
        [&] {
          j = get_json("/api/jobs/" + std::to_string(job), t);
          std::string st = j.value("state", "");
          return st == "done" || st == "compensated" || st == "failed";
        },
        120s))
        << j.dump();
    auto s = server(id, t);
    if (j["state"] == "done") {
      EXPECT_EQ(s["state"], "ready") << s.dump();
      EXPECT_EQ(s["vmid"], vmid) << s.dump();
      EXPECT_EQ(agents_of(vmid).size(), 1u) << "exactly one agent for the ready server";
      ready[id] = vmid;
    } else {
      // Compensated: container gone, vmid released, the server says why.
      EXPECT_EQ(j["state"], "compensated") << j.dump();
      EXPECT_EQ(s["state"], "error") << s.dump();
      EXPECT_TRUE(s["vmid"].is_null()) << s.dump();
      EXPECT_FALSE(s["error"].is_null()) << s.dump();
      EXPECT_TRUE(agents_of(vmid).empty());
      EXPECT_FALSE(fs::read_file(container(vmid) + "/zlh-local.json", 4096));
      ++compensated;
    }
    // No orphan anywhere: only the ready servers have agents.
    auto all = agents_under(real(data_) + "/");
    EXPECT_EQ(all.size(), ready.size());
    std::set<std::string> roots;
    for (auto& [p, root] : all) roots.insert(root);
    for (auto& [sid, v] : ready) EXPECT_TRUE(roots.count(container(v))) << "server " << sid;
  }
  RecordProperty("ready", int(ready.size()));
  RecordProperty("compensated", compensated);
  // No vmid leaked: the next create gets the lowest vmid that no ready server holds.
  std::set<int> held;
  for (auto& [sid, v] : ready) held.insert(v);
  int expected = vmid_lo_;
  while (held.count(expected)) ++expected;
  auto next = call("POST", "/api/servers", t, dev_body());
  ASSERT_EQ(next.status, 202) << next.body;
  EXPECT_EQ(json::parse(next.body)["server"]["vmid"], expected);
}

TEST_F(ApiStressTest, PollerSeesAKilledAgentStopAndComeBackAfterHostStart) {
  start_api({"--poll-interval", "0.3", "--poll-timeout", "1"});
  std::string t = user("watch");
  auto r = call("POST", "/api/servers", t, dev_body());
  ASSERT_EQ(r.status, 202) << r.body;
  int64_t id = json::parse(r.body)["id"];
  ASSERT_TRUE(eventually(
      [&] {
        auto st = server(id, t).value("state", "");
        return st == "ready" || st == "error";
      },
      60s));
  auto s = server(id, t);
  ASSERT_EQ(s["state"], "ready") << s.dump();
  int vmid = s["vmid"];
  auto agents = agents_of(vmid);
  ASSERT_EQ(agents.size(), 1u);

  // The poller keeps agent_last_seen moving (the API shows whole seconds).
  ASSERT_TRUE(eventually([&] { return server(id, t)["agent_last_seen"].is_string(); }, 10s));
  auto first = server(id, t)["agent_last_seen"];
  ASSERT_TRUE(eventually([&] { return server(id, t)["agent_last_seen"] != first; }, 10s))
      << "not polled";
  EXPECT_EQ(server(id, t)["agent_state"], "running");
  EXPECT_GE(metric("zlh_poller_cycles_total"), 2);
  {
    // Every metric family is exposed once: a second TYPE line for a name
    // makes Prometheus reject the whole scrape.
    std::string m = metrics_raw().body;
    std::map<std::string, int> types;
    for (size_t at = m.find("# TYPE "); at != std::string::npos; at = m.find("# TYPE ", at + 1))
      ++types[m.substr(at + 7, m.find(' ', at + 7) - at - 7)];
    EXPECT_GT(types.size(), 5u) << m;
    for (const auto& [name, n] : types) EXPECT_EQ(n, 1) << name;
  }

  // kill -9 of the agent: after 3 failed polls the poller says so and stops
  // moving agent_last_seen.
  ASSERT_EQ(::kill(agents[0], SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !process_alive(agents[0]); }, 10s));
  ASSERT_TRUE(eventually([&] { return server(id, t)["agent_state"] == "unreachable"; }, 15s))
      << server(id, t).dump();
  auto frozen = server(id, t)["agent_last_seen"];
  double cycles = metric("zlh_poller_cycles_total");
  double failures = metric("zlh_poller_failures_total");
  ASSERT_GE(failures, 3);
  ASSERT_TRUE(eventually([&] { return metric("zlh_poller_cycles_total") >= cycles + 4; }, 15s));
  s = server(id, t);
  EXPECT_EQ(s["agent_last_seen"], frozen) << s.dump();
  EXPECT_EQ(s["agent_state"], "unreachable");
  EXPECT_EQ(s["state"], "ready");  // the control-plane state is not the poller's
  EXPECT_GE(metric("zlh_poller_failures_total"), failures + 4);
  EXPECT_EQ(metric("zlh_poller_unreachable"), 1);
  // The list says the same, from the store.
  auto list = get_json("/api/servers", t);
  ASSERT_EQ(list["servers"].size(), 1u);
  EXPECT_EQ(list["servers"][0]["agent_state"], "unreachable");

  // Container power on again: a new agent, seen again by the poller.
  auto start = call("POST", "/api/servers/" + std::to_string(id) + "/host/start", t);
  ASSERT_EQ(start.status, 200) << start.body;
  EXPECT_EQ(json::parse(start.body)["power"], "running");
  ASSERT_TRUE(eventually(
      [&] {
        auto x = server(id, t);
        return x["agent_state"] == "running" && x["agent_last_seen"] != frozen;
      },
      30s))
      << server(id, t).dump();
  auto now_agents = agents_of(vmid);
  ASSERT_EQ(now_agents.size(), 1u);
  EXPECT_NE(now_agents[0], agents[0]);
  EXPECT_TRUE(eventually([&] { return metric("zlh_poller_unreachable") == 0; }, 10s));
}

}  // namespace
}  // namespace zlh::testing
