// The lxc driver end to end (docs/drivers.md, issue 19's "Must show"):
// zlh-api --driver lxc with real unprivileged containers on bridges,
// subnets, host ids and an nftables table of the suite's own
// (test_driver.hpp), two users with a dev container each, everything
// checked from inside their consoles through zlh-api's relay:
//   - the tenant is dev (uid 1000), its ids map to a host range >= 100000
//     distinct from the other container's;
//   - zlh-api's data dir does not exist inside, /usr is read-only, ps shows
//     only the container, the neighbour's :18888 and :6000 are unreachable
//     (while the host reaches the neighbour's :6000: the listener was up);
//     their host veths are isolated bridge ports, and the gateway's
//     containers' listener serves /artifacts/ and nothing else;
//   - the memory limit file equals memory_mb and a process allocating twice
//     that is killed while the host and the API stay up; writing past
//     disk_gb fails with ENOSPC; mount is refused and the container's
//     bounding set has no CAP_SYS_MODULE;
//   - awk and java run from the host's /usr, the CA bundle is there;
// then zlh-api is killed (-9) with both running and restarted: both still
// run and the consoles reattach to the same shells (same $$); a game
// server's host port reaches its 25565 from the host, and stopping its
// container stops the game by its stop policy (zlh-init's shutdown);
// deleting leaves no mount, veth, nft rule or process behind.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "harness.hpp"
#include "http/client.hpp"
#include "test_driver.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A console through zlh-api: run() types a command framed by markers and
// returns what it printed between them.
class Console {
 public:
  static std::unique_ptr<Console> open(const std::string& ws_url, const std::string& token) {
    http::Headers h;
    h.add("Authorization", "Bearer " + token);
    int status = 0;
    auto ws = http::WsClient::connect(ws_url, h, 15s, &status);
    if (!ws) {
      ADD_FAILURE() << "console " << ws_url << ": " << status << " " << ws.error().message;
      return nullptr;
    }
    auto c = std::unique_ptr<Console>(new Console);
    c->ws_ = std::move(*ws);
    return c;
  }
  std::string run(const std::string& cmd, std::chrono::milliseconds timeout = 60s) {
    // Unique per console: a reattached shell replays earlier markers first.
    const std::string tag = "M" + prefix_ + std::to_string(++n_) + "X";
    // The markers are printed by printf with split arguments, so the echo
    // of the typed line never matches them.
    ws_->send("printf '%s%s\\n' '<<" + tag + "' '>>'; " + cmd + "; printf '%s%s\\n' '<<" + tag +
                  "' '<<'\n",
              true);
    const std::string start = "<<" + tag + ">>", end = "<<" + tag + "<<";
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto a = out_.find(start + "\r\n");
      auto b = a == std::string::npos ? a : out_.find(end, a);
      if (b != std::string::npos) {
        std::string s = out_.substr(a + start.size() + 2, b - a - start.size() - 2);
        out_.erase(0, b + end.size());
        s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
        return s;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "console: no answer to " << cmd << "; output: " << out_;
        return "";
      }
      auto m = ws_->read(200ms);
      if (!m) {
        if (m.error().code == codes::kTimeout) continue;
        ADD_FAILURE() << "console closed: " << m.error().message;
        return "";
      }
      if (m->binary)
        out_ += m->data;
      else
        control_.push_back(json::parse(m->data, nullptr, false));
    }
  }
  std::string session() const {
    for (const auto& c : control_)
      if (c.is_object() && c.value("type", "") == "session") return c.value("id", "");
    return "";
  }

 private:
  Console() = default;
  std::unique_ptr<http::WsClient> ws_;
  std::string out_;
  std::vector<json> control_;
  int n_ = 0;
  std::string prefix_ = std::to_string(uint8_t(crypto::random_bytes(1)[0])) +
                        std::to_string(uint8_t(crypto::random_bytes(1)[0]));
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.erase(0, 1);
  return s;
}

bool tcp_connects(const std::string& ip, int port, std::chrono::milliseconds timeout = 3s) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{fd, POLLOUT, 0};
  bool ok = false;
  if (::poll(&p, 1, int(timeout.count())) == 1) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    ok = err == 0;
  }
  ::close(fd);
  return ok;
}

// Processes whose command line names `word`.
std::vector<pid_t> processes_naming(const std::string& word) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (auto* e = ::readdir(d)) {
    pid_t pid = ::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    auto cmd = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
    if (cmd && cmd->find(word) != std::string::npos) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

class LxcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("ZLH_TEST_DRIVER", "lxc", 1);
    if (::geteuid() != 0) GTEST_SKIP() << "the lxc driver needs root";
    dir_ = make_temp_dir("lxc");
    ::chmod(dir_.c_str(), 0711);  // the containers' mapped root traverses it to its rootfs
    data_ = dir_ + "/data";
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    const char* game_store = std::getenv("ZLH_GAME_STORE");
    if (game_store) {
      // The game fixture's store: the stand-in Minecraft jars, the host JDK
      // as the catalog's java, and the tool runtime added beside them.
      store_ = dir_ + "/store";
      ASSERT_EQ(
          run_command({"/bin/cp", "-a", std::string(game_store) + "/store", store_}).exit_code, 0);
      ASSERT_EQ(run_command({"/bin/cp", "-a", std::string(game_store) + "/keys", keys_}).exit_code,
                0);
    }
    make_tool_store(dir_, store_, keys_, true, /*init=*/!game_store);
    ASSERT_FALSE(HasFatalFailure());
    driver_.start(dir_, data_, store_, keys_);
    std::vector<std::string> args = {"--dev-vmid-lo",    "6000",
                                     "--dev-vmid-hi",    "6099",
                                     "--game-vmid-lo",   "5000",
                                     "--game-vmid-hi",   "5099",
                                     "--port-lo",        std::to_string(port_lo_),
                                     "--port-hi",        std::to_string(port_lo_ + 20),
                                     "--poll-interval",  "0.5",
                                     "--lxc-host-check", "1"};
    for (const auto& a : driver_.api_args()) args.push_back(a);
    api_ = std::make_unique<ApiProcess>(dir_, store_, keys_, args);
    client_ = std::make_unique<ApiClient>(api_->base());
    start_api();
  }
  void TearDown() override {
    stop_api(SIGKILL);
    driver_.stop();
    if (!HasFailure()) remove_unless_failed(dir_);
  }
  void start_api() { ASSERT_TRUE(api_->start(30s)) << api_->log(); }
  void stop_api(int sig) {
    if (api_) api_->stop(sig);
  }
  std::string url(const std::string& p) { return api_->url(p); }
  std::string ws(const std::string& p) { return "ws://" + api_->addr() + ":8080" + p; }
  std::string api_log() { return api_->log(); }
  http::ClientResponse call(const std::string& m, const std::string& p, const std::string& token,
                            const std::string& body = "") {
    http::Headers h;
    if (!body.empty()) h.add("Content-Type", "application/json");
    return client_->call(m, p, token, body, h);
  }
  std::string user(const std::string& name) { return client_->register_user(name); }
  json server(int64_t id, const std::string& token) { return client_->server(id, token); }
  int64_t create(const std::string& token, json body) {
    auto r = call("POST", "/api/servers", token, body.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body, nullptr, false).value("id", int64_t(0));
  }
  json wait_ready(int64_t id, const std::string& token, std::chrono::seconds timeout = 180s) {
    json s = client_->wait_state(id, token, {"ready", "error"}, timeout);
    const bool done = s.value("state", "") == "ready" || s.value("state", "") == "error";
    EXPECT_TRUE(done) << s.dump() << "\n" << api_log();
    EXPECT_EQ(s.value("state", ""), "ready") << s.dump() << "\n" << api_log();
    return s;
  }

  TestDriver driver_;
  std::string dir_, data_, store_, keys_;
  int port_lo_ = 27000 + int(uint8_t(crypto::random_bytes(1)[0])) * 20;
  std::unique_ptr<ApiProcess> api_;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(LxcTest, TenantsAreIsolatedLimitedAndSurviveAnApiKill) {
  const std::string alice = user("alice"), bob = user("bob");
  const int64_t a = create(alice, {{"type", "dev"},
                                   {"runtime", "tool"},
                                   {"version", "1.0.0"},
                                   {"memory_mb", 256},
                                   {"disk_gb", 1}});
  const int64_t b = create(bob, {{"type", "dev"},
                                 {"runtime", "tool"},
                                 {"version", "1.0.0"},
                                 {"memory_mb", 256},
                                 {"disk_gb", 1}});
  json sa = wait_ready(a, alice), sb = wait_ready(b, bob);
  ASSERT_FALSE(HasFailure());
  const std::string ip_a = sa.value("ip", ""), ip_b = sb.value("ip", "");
  ASSERT_FALSE(ip_b.empty()) << sb.dump();
  ASSERT_TRUE(sa.contains("resources")) << sa.dump();
  EXPECT_EQ(sa["resources"].value("memory_max", uint64_t(0)), 256ull << 20) << sa.dump();
  EXPECT_GT(sa["resources"].value("pids", uint64_t(0)), 1u);
  EXPECT_GT(sa["resources"].value("disk_max", uint64_t(0)), 900ull << 20);
  // Each container's host veth is an isolated port of its bridge: the bridge
  // forwards nothing between two such ports.
  for (const json* s : {&sa, &sb}) {
    const std::string veth = "z" + driver_.lxc_tag() + std::to_string(s->value("vmid", 0));
    auto isolated = fs::read_file("/sys/class/net/" + veth + "/brport/isolated", 64);
    ASSERT_TRUE(isolated) << veth << ": " << isolated.error().message;
    EXPECT_EQ(trim(*isolated), "1") << veth;
  }

  auto ca = Console::open(ws("/api/servers/" + std::to_string(a) + "/console"), alice);
  auto cb = Console::open(ws("/api/servers/" + std::to_string(b) + "/console"), bob);
  ASSERT_TRUE(ca && cb);

  // Who: dev, uid 1000, mapped to a host range of its own.
  EXPECT_EQ(trim(ca->run("id -un; id -u")), "dev\n1000");
  auto host_base = [](const std::string& map) {
    std::istringstream in(map);
    uint64_t inside = 1, host = 0, count = 0;
    in >> inside >> host >> count;
    return inside == 0 && count == 65536 ? host : 0;
  };
  uint64_t ha = host_base(ca->run("cat /proc/self/uid_map")),
           hb = host_base(cb->run("cat /proc/self/uid_map"));
  EXPECT_GE(ha, 100000u);
  EXPECT_GE(hb, 100000u);
  EXPECT_NE(ha, hb);

  // What it sees: not zlh-api's data, /usr read-only, only its own processes.
  EXPECT_EQ(trim(ca->run("test -e " + data_ + " && echo visible || echo absent")), "absent");
  EXPECT_EQ(trim(ca->run("ls " + dir_ + " 2>/dev/null | wc -l")), "0");
  EXPECT_EQ(trim(ca->run("awk '$2 == \"/usr\" { split($4, o, \",\"); print o[1] }' /proc/mounts")),
            "ro");
  EXPECT_NE(ca->run("touch /usr/x 2>&1").find("Read-only file system"), std::string::npos);
  std::string ps = ca->run("ps -e -o pid=,comm=");
  EXPECT_NE(ps.find("   1 zlh-init"), std::string::npos) << ps;
  EXPECT_EQ(ps.find("zlh-api"), std::string::npos) << ps;
  EXPECT_LT(std::count(ps.begin(), ps.end(), '\n'), 20) << ps;

  // The neighbour: a listener on bob's :6000 that the host reaches and alice does not.
  cb->run("(python3 -m http.server 6000 --bind 0.0.0.0 >/dev/null 2>&1 &)");
  EXPECT_TRUE(eventually([&] { return tcp_connects(ip_b, 6000, 1s); }, 20s))
      << "bob's :6000 never listened";
  // The agent reports it among the container's listening ports (port
  // preview), not its own 18888.
  {
    auto st =
        http::request("GET", "http://" + ip_b + ":18888/status",
                      bearer_from(data_ + "/keys", sb.value("vmid", 0), "GET", "/status"), {}, 5s);
    ASSERT_TRUE(st && st->status == 200) << (st ? st->body : st.error().message);
    auto ports = json::parse(st->body, nullptr, false)["ports_listening"];
    ASSERT_TRUE(ports.is_array()) << st->body;
    EXPECT_NE(std::find(ports.begin(), ports.end(), 6000), ports.end()) << ports.dump();
    EXPECT_EQ(std::find(ports.begin(), ports.end(), 18888), ports.end()) << ports.dump();
  }
  EXPECT_TRUE(tcp_connects(ip_b, 18888));
  for (int port : {18888, 6000})
    EXPECT_EQ(trim(ca->run("timeout 3 bash -c 'echo > /dev/tcp/" + ip_b + "/" +
                           std::to_string(port) + "' 2>/dev/null && echo open || echo closed")),
              "closed")
        << port;
  // Nor the host's other addresses: only the artifacts listener on the gateway.
  EXPECT_EQ(trim(ca->run("timeout 3 bash -c 'echo > /dev/tcp/" + driver_.lxc_gateway(false) +
                         "/8080' 2>/dev/null && echo open || echo closed")),
            "closed");
  // There, the containers' listener (--lxc-listener-port, 8089) serves the
  // artifacts and nothing else of zlh-api.
  {
    const std::string listener = "http://" + driver_.lxc_gateway(false) + ":8089";
    auto art = http::request("GET", listener + "/artifacts/catalog.json", {}, {}, 5s);
    ASSERT_TRUE(art) << art.error().message;
    EXPECT_EQ(art->status, 200) << art->body;
    EXPECT_NE(art->body.find("\"tool\""), std::string::npos) << art->body;
    for (const char* path :
         {"/healthz", "/api/servers", "/api/catalog/dev", "/metrics", "/", "/dev/6000/ide/"}) {
      auto r = http::request("GET", listener + path, {}, {}, 5s);
      ASSERT_TRUE(r) << path << ": " << r.error().message;
      EXPECT_EQ(r->status, 404) << path << ": " << r->body;
    }
    http::Headers h;
    h.add("Content-Type", "application/json");
    auto reg =
        http::request("POST", listener + "/api/auth/register", h,
                      R"({"email":"x@example.com","username":"x","password":"password-x"})", 5s);
    ASSERT_TRUE(reg) << reg.error().message;
    EXPECT_EQ(reg->status, 404) << reg->body;
    // And from inside, the same listener: the artifacts, not the API.
    const std::string gw = driver_.lxc_gateway(false);
    EXPECT_EQ(trim(ca->run("for p in /artifacts/catalog.json /api/servers; do (exec 3<>/dev/tcp/" +
                           gw + "/8089; printf 'GET %s HTTP/1.0\\r\\nHost: " + gw +
                           "\\r\\n\\r\\n' $p >&3; head -1 <&3 | cut -d' ' -f2); done")),
              "200\n404");
  }

  // Limits: memory (the cgroup file, and an allocation of twice the limit dies).
  std::string limit =
      trim(ca->run("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat "
                   "/sys/fs/cgroup/memory.max"));
  EXPECT_EQ(limit, std::to_string(256ull << 20));
  std::string oom =
      ca->run("python3 -c 'b = bytearray(512 * 1024 * 1024); print(len(b))'; echo rc=$?");
  EXPECT_NE(oom.find("rc=137"), std::string::npos) << oom;
  EXPECT_EQ(http::request("GET", url("/healthz"), {}, {}, 2s)->status, 200);
  EXPECT_EQ(trim(ca->run("echo still-here")), "still-here");
  // Disk: 1 GiB, then ENOSPC.
  std::string dd = ca->run(
      "dd if=/dev/zero of=$HOME/fill bs=1M count=1200 2>&1 | grep -o 'No space left on device' "
      "| head -1; rm -f $HOME/fill");
  EXPECT_EQ(trim(dd), "No space left on device");
  // Privileges: mount refused; no CAP_SYS_MODULE even for the container's root.
  EXPECT_NE(ca->run("mkdir -p /tmp/m; mount -t tmpfs x /tmp/m 2>&1; echo rc=$?").find("rc=32"),
            std::string::npos);
  std::string bnd = trim(ca->run("awk '/^CapBnd/ { print $2 }' /proc/1/status"));
  ASSERT_EQ(bnd.size(), 16u) << bnd;
  EXPECT_EQ(std::stoull(bnd, nullptr, 16) & (1ull << 16), 0u)
      << "CAP_SYS_MODULE in the bounding set";
  EXPECT_EQ(trim(ca->run("awk '/^CapEff/ { print $2 }' /proc/self/status")), "0000000000000000");
  // What the host's /usr needs from /etc: alternatives (awk), java's config, the CA bundle.
  EXPECT_EQ(trim(ca->run("echo 3 4 | awk '{ print $1 * $2 }'")), "12");
  EXPECT_NE(ca->run("java -version 2>&1 | head -1").find("version"), std::string::npos);
  EXPECT_EQ(trim(ca->run("python3 -c 'import ssl; c = ssl.create_default_context(); "
                         "print(c.cert_store_stats()[\"x509_ca\"] > 50)'")),
            "True");

  // kill -9 of zlh-api with both running: the containers and the shells survive.
  const std::string pid_a = trim(ca->run("echo $$")), pid_b = trim(cb->run("echo $$"));
  const std::string sess_a = ca->session(), sess_b = cb->session();
  ASSERT_FALSE(sess_a.empty());
  ca.reset();
  cb.reset();
  stop_api(SIGKILL);
  EXPECT_TRUE(tcp_connects(ip_a, 18888)) << "alice's agent went down with the API";
  start_api();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(wait_ready(a, alice).value("agent_state", ""), "running");
  auto ca2 =
      Console::open(ws("/api/servers/" + std::to_string(a) + "/console?session=" + sess_a), alice);
  auto cb2 =
      Console::open(ws("/api/servers/" + std::to_string(b) + "/console?session=" + sess_b), bob);
  ASSERT_TRUE(ca2 && cb2);
  EXPECT_EQ(trim(ca2->run("echo $$")), pid_a);
  EXPECT_EQ(trim(cb2->run("echo $$")), pid_b);
  ca2.reset();
  cb2.reset();

  // Delete: nothing of the containers is left.
  const int vmid_a = sa.value("vmid", 0), vmid_b = sb.value("vmid", 0);
  EXPECT_EQ(call("DELETE", "/api/servers/" + std::to_string(a), alice).status, 202);
  EXPECT_EQ(call("DELETE", "/api/servers/" + std::to_string(b), bob).status, 202);
  EXPECT_TRUE(eventually([&] { return server(a, alice).value("error", json{}).is_object(); }, 120s))
      << server(a, alice).dump();
  EXPECT_TRUE(eventually([&] { return server(b, bob).value("error", json{}).is_object(); }, 120s));
  const std::string tag = driver_.lxc_tag();
  for (int v : {vmid_a, vmid_b}) {
    const std::string name = tag + "-" + std::to_string(v);
    EXPECT_FALSE(fs::read_file("/proc/self/mountinfo", 1 << 22)->find(data_ + "/lxc/" + name) !=
                 std::string::npos);
    EXPECT_NE(::access(("/sys/class/net/z" + tag + std::to_string(v)).c_str(), F_OK), 0);
    EXPECT_TRUE(processes_naming(name).empty());
    EXPECT_NE(::access((data_ + "/lxc/" + name).c_str(), F_OK), 0);
    // No cgroup of the container in any hierarchy.
    auto find = run_command(
        {"/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "4", "-name", "lxc.payload." + name});
    EXPECT_TRUE(trim(find.out).empty()) << find.out;
  }
  // No loop device still backed by one of the suite's images.
  for (int i = 0; i < 256; ++i) {
    auto backing =
        fs::read_file("/sys/block/loop" + std::to_string(i) + "/loop/backing_file", 4096);
    if (backing) EXPECT_EQ(backing->find(data_), std::string::npos) << *backing;
  }
}

// The pid of container `name`'s init (zlh-init) and of its agent, on the host.
std::pair<pid_t, pid_t> init_and_agent(const std::string& name) {
  pid_t init = 0, agent = 0;
  for (pid_t p : processes_naming("/opt/zlh-agent/bin/zlh-")) {
    auto cg = fs::read_file("/proc/" + std::to_string(p) + "/cgroup", 1 << 16).value_or("");
    if (cg.find("/lxc.payload." + name + "\n") == std::string::npos) continue;
    auto comm = trim(fs::read_file("/proc/" + std::to_string(p) + "/comm", 64).value_or(""));
    if (comm == "zlh-init") init = p;
    if (comm == "zlh-agent") agent = p;
  }
  return {init, agent};
}

// Live stats (issue 24) on the lxc driver: a process burning a core shows
// as CPU time, 200 MiB allocated show in memory, bytes sent into the
// container show in rx. Every check waits for its condition with a
// generous deadline and sums what the samples measured (rate × their
// actual interval), so a loaded host (ctest -j, other builds) only makes
// it slower: nothing asserts how fast a figure moves.
TEST_F(LxcTest, StatsShowCpuMemoryAndNetworkOfTheContainer) {
  const std::string alice = user("alice");
  const int64_t a = create(alice, {{"type", "dev"},
                                   {"runtime", "tool"},
                                   {"version", "1.0.0"},
                                   {"memory_mb", 512},
                                   {"disk_gb", 1}});
  wait_ready(a, alice);
  ASSERT_FALSE(HasFailure());
  const std::string path = "/api/servers/" + std::to_string(a) + "/stats";
  auto samples = [&] {
    std::this_thread::sleep_for(200ms);  // polled: a new sample comes every 2 s
    auto r = call("GET", path, alice);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false).value("samples", json::array());
  };
  // The sum of rate × interval over the samples after t0 (what was
  // measured between readings), and the newest sample's t.
  auto measured = [&](const char* rate, int64_t t0) {
    double sum = 0;
    auto s = samples();
    for (size_t i = 1; i < s.size(); ++i)
      if (s[i]["t"].get<int64_t>() > t0 && !s[i][rate].is_null())
        sum += s[i][rate].get<double>() *
               double(s[i]["t"].get<int64_t>() - s[i - 1]["t"].get<int64_t>()) / 1000.0;
    return sum;
  };
  auto newest_t = [&] {
    auto s = samples();
    return s.empty() ? int64_t(0) : s.back()["t"].get<int64_t>();
  };
  json last;
  ASSERT_TRUE(eventually(
      [&] {
        auto s = samples();
        if (s.empty() || s.back()["cpu_cores"].is_null()) return false;
        last = s.back();
        return true;
      },
      60s));
  EXPECT_EQ(last["cores"], 1.0);
  EXPECT_EQ(last["memory_max"], 512ull << 20);
  EXPECT_FALSE(last["net_rx_bps"].is_null());
  EXPECT_FALSE(last["disk_bytes"].is_null());
  const uint64_t mem0 = last["memory_bytes"];
  auto c = Console::open(ws("/api/servers/" + std::to_string(a) + "/console"), alice);
  ASSERT_TRUE(c);

  // CPU: a busy loop shows as at least 3 core-seconds.
  const int64_t burn_t = newest_t();
  c->run("(sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $! > /tmp/burn.pid)");
  double cpu_s = 0;
  EXPECT_TRUE(eventually(
      [&] {
        cpu_s = measured("cpu_cores", burn_t);
        return cpu_s >= 3.0;
      },
      120s))
      << "core-seconds " << cpu_s;
  // ... and as about one whole core in a sample: the best 2 s sample since
  // the burner started reaches 0.8 of a core. How long after the start the
  // first such sample came is recorded (a figure, not a check).
  double best = 0;
  int64_t first_busy_t = 0;
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& smp : samples()) {
          if (smp["t"].get<int64_t>() <= burn_t || smp["cpu_cores"].is_null()) continue;
          best = std::max(best, smp["cpu_cores"].get<double>());
          if (!first_busy_t && smp["cpu_cores"].get<double>() >= 0.8)
            first_busy_t = smp["t"].get<int64_t>();
        }
        return best >= 0.8;
      },
      120s))
      << "best sample " << best << " cores";
  RecordProperty("burner_first_busy_sample_ms", std::to_string(first_busy_t - burn_t));
  RecordProperty("burner_best_sample_cores", std::to_string(best));
  std::cout << "[ stats ] burner: best sample " << best << " cores; first >= 0.8 core "
            << (first_busy_t - burn_t) << " ms after the last idle sample\n";
  c->run("kill $(cat /tmp/burn.pid)");

  // Memory: 200 MiB written (touched, so resident).
  c->run("(python3 -c 'import time; b = b\"x\" * (200 << 20); time.sleep(300)' >/dev/null 2>&1 &)");
  uint64_t mem = 0;
  EXPECT_TRUE(eventually(
      [&] {
        auto s = samples();
        mem = s.empty() ? 0 : s.back()["memory_bytes"].get<uint64_t>();
        return mem >= mem0 + (180ull << 20);
      },
      120s))
      << "memory " << mem << " from " << mem0;

  // Network: 32 MiB written into the container through the file relay.
  const int64_t before_ms = newest_t();
  http::Headers h;
  h.add("Content-Type", "application/octet-stream");
  auto put = client_->call("PUT", "/api/servers/" + std::to_string(a) + "/files/write?path=big.bin",
                           alice, std::string(32 << 20, 'z'), h);
  ASSERT_EQ(put.status, 200) << put.body;
  double rx = 0;
  EXPECT_TRUE(eventually(
      [&] {
        rx = measured("net_rx_bps", before_ms);
        return rx >= double(28 << 20);
      },
      120s))
      << "rx bytes " << rx;
}

TEST_F(LxcTest, TheAgentPortCannotBeSquattedAndStoppedContainersComeBackAtStart) {
  const std::string dana = user("dana");
  const int64_t id =
      create(dana, {{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}, {"disk_gb", 1}});
  json s = wait_ready(id, dana);
  ASSERT_FALSE(HasFailure());
  const std::string name = driver_.lxc_tag() + "-" + std::to_string(s.value("vmid", 0));
  auto [init, agent] = init_and_agent(name);
  ASSERT_GT(init, 0);
  ASSERT_GT(agent, 0);

  // With the agent dead and zlh-init held still, :18888 is still taken in
  // the container: init keeps the listening socket it hands to each agent.
  ASSERT_EQ(::kill(init, SIGSTOP), 0);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return !process_alive(agent); }, 10s));
  int bind_errno = -1;
  {
    pid_t child = ::fork();
    if (child == 0) {
      int ns = ::open(("/proc/" + std::to_string(init) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) _exit(100);
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(18888);
      _exit(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
                ? 0
                : (errno == EADDRINUSE ? 98 : 101));
    }
    int st = 0;
    ::waitpid(child, &st, 0);
    bind_errno = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  EXPECT_EQ(bind_errno, 98) << "0 = the port was free while the agent was down";
  ASSERT_EQ(::kill(init, SIGCONT), 0);
  const std::string ip = s.value("ip", "");
  EXPECT_TRUE(eventually([&] { return tcp_connects(ip, 18888, 1s); }, 20s))
      << "zlh-init did not restart the agent";
  EXPECT_NE(init_and_agent(name).second, agent);

  // A container that stopped while zlh-api was down (a host reboot) is
  // started again when zlh-api starts.
  stop_api(SIGKILL);
  ASSERT_EQ(::kill(init, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return processes_naming(name).empty(); }, 20s));
  EXPECT_FALSE(tcp_connects(ip, 18888, 1s));
  start_api();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(eventually([&] { return tcp_connects(ip, 18888, 1s); }, 30s)) << api_log();
  EXPECT_TRUE(
      eventually([&] { return server(id, dana).value("agent_state", "") == "running"; }, 30s));
}

TEST_F(LxcTest, ZlhApiRefusesAHostWithoutTheIdRangeAndLocalAsRoot) {
  // Ids beyond root's subordinate ranges: refused at start, naming the file.
  std::vector<std::string> argv = {bin_dir() + "/zlh-api", "--listen", api_->addr() + ":8099",
                                   "--data", dir_ + "/bad"};
  auto lxc_args = driver_.api_args();
  for (size_t i = 0; i + 1 < lxc_args.size(); ++i)
    if (lxc_args[i] == "--lxc-id-base") lxc_args[i + 1] = "3000000000";
  argv.insert(argv.end(), lxc_args.begin(), lxc_args.end());
  auto r = run_command(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("/etc/subuid"), std::string::npos) << r.out << r.err;
  // The local driver as root without the flag: refused, saying why.
  auto l = run_command({bin_dir() + "/zlh-api", "--listen", api_->addr() + ":8099", "--data",
                        dir_ + "/bad", "--driver", "local"});
  EXPECT_EQ(l.exit_code, 2);
  EXPECT_NE((l.out + l.err).find("--insecure-local-driver"), std::string::npos) << l.out << l.err;
}

TEST_F(LxcTest, GameHostPortReachesTheContainersMinecraftPort) {
  if (!std::getenv("ZLH_GAME_STORE")) GTEST_SKIP() << "needs the game store fixture";
  const std::string carol = user("carol");
  const int64_t g = create(carol, {{"type", "game"},
                                   {"game", "minecraft"},
                                   {"variant", "vanilla"},
                                   {"version", "1.21.4"},
                                   {"eula", true},
                                   {"memory_mb", 512},
                                   {"disk_gb", 2}});
  json s = wait_ready(g, carol);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(s.contains("ports") && !s["ports"].empty()) << s.dump();
  const int host_port = s["ports"][0].get<int>();
  const std::string table = "zlh_" + driver_.lxc_tag();
  auto nft = run_command({"/usr/sbin/nft", "list", "table", "inet", table});
  EXPECT_NE(nft.out.find("dport " + std::to_string(host_port) + " dnat ip to " + s.value("ip", "") +
                         ":25565"),
            std::string::npos)
      << nft.out;
  // A connect from the host to a host address at the allocated port lands
  // on the stand-in's 25565 inside the container.
  EXPECT_TRUE(
      eventually([&] { return tcp_connects(driver_.lxc_gateway(true), host_port, 1s); }, 60s));
  EXPECT_FALSE(tcp_connects(driver_.lxc_gateway(true), host_port + 1, 1s));
  // `systemctl restart nftables` flushes everything: zlh-api puts its table
  // back (every --lxc-host-check, 1 s here) and the forward works again.
  ASSERT_EQ(run_command({"/usr/sbin/nft", "delete", "table", "inet", table}).exit_code, 0);
  EXPECT_TRUE(eventually(
      [&] {
        auto n = run_command({"/usr/sbin/nft", "list", "table", "inet", table});
        return n.out.find("dport " + std::to_string(host_port) + " dnat") != std::string::npos;
      },
      30s))
      << api_log();
  EXPECT_TRUE(
      eventually([&] { return tcp_connects(driver_.lxc_gateway(true), host_port, 1s); }, 10s));

  // The game grows past memory_mb: the kernel's OOM killer ends it, and the
  // server says so (last_exit.reason), then the supervisor restarts it.
  {
    http::Headers h;
    h.add("Authorization", "Bearer " + carol);
    int status = 0;
    auto con = http::WsClient::connect(ws("/api/servers/" + std::to_string(g) + "/console"), h, 15s,
                                       &status);
    ASSERT_TRUE(con) << status;
    ASSERT_TRUE((*con)->send("zlh-test-hog\n", true));
    json last;
    EXPECT_TRUE(eventually(
        [&] {
          last = server(g, carol);
          return last.value("last_exit", json{}).is_object() &&
                 last["last_exit"].value("reason", "") == "out of memory";
        },
        90s))
        << last.dump();
    EXPECT_EQ(last["last_exit"].value("signal", 0), SIGKILL);
    EXPECT_GE(last.value("crash_count", 0), 1);
    EXPECT_EQ(http::request("GET", url("/healthz"), {}, {}, 2s)->status, 200);
  }
  // Stopping the container (host stop: SIGPWR to zlh-init, which passes
  // SIGTERM to the game's shim) stops the game by its catalog stop policy:
  // the stand-in saves its world on the `stop` command only.
  {
    json now;
    ASSERT_TRUE(eventually(
        [&] {
          now = server(g, carol);
          return now.value("agent_state", "") == "running";
        },
        90s))
        << now.dump();
    const std::string level =
        driver_.ct_dir(s.value("vmid", 0)) + "/opt/zlh/server/world/level.dat";
    auto saves = [](const std::string& text) {
      auto i = text.find("saves=");
      return i == std::string::npos ? 0 : std::atoi(text.c_str() + i + 6);
    };
    const int before = saves(fs::read_file(level, 4096).value_or(""));
    auto stop = call("POST", "/api/servers/" + std::to_string(g) + "/host/stop", carol);
    EXPECT_EQ(stop.status, 200) << stop.body;
    EXPECT_EQ(json::parse(stop.body, nullptr, false).value("power", ""), "stopped") << stop.body;
    EXPECT_EQ(saves(fs::read_file(level, 4096).value_or("")), before + 1) << api_log();
  }
  EXPECT_EQ(call("DELETE", "/api/servers/" + std::to_string(g), carol).status, 202);
  EXPECT_TRUE(eventually(
      [&] {
        auto n = run_command({"/usr/sbin/nft", "list", "table", "inet", table});
        return n.out.find("dport " + std::to_string(host_port) + " ") == std::string::npos;
      },
      120s));
  EXPECT_FALSE(tcp_connects(driver_.lxc_gateway(true), host_port, 1s));
}

}  // namespace
}  // namespace zlh::testing
