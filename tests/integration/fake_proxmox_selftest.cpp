// The Proxmox VE fake itself (tests/fixtures/fake_proxmox.py through
// fake_proxmox.hpp): its TLS certificate and pin, PVE's answer shapes and
// error paths the proxmox driver's tests rely on, the /_fake/ controls, and
// real containers whose agents answer and do not outlive the fake.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "base/fs.hpp"
#include "fake_proxmox.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Reply {
  int status = 0;
  std::string reason;  // the HTTP reason phrase
  json body;
};

size_t collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// One PVE API call with libcurl (TLS verified against the fake's own
// certificate). `form` is an x-www-form-urlencoded body; `auth` the whole
// Authorization value ("" = none).
Reply call(const FakeProxmox& f, const std::string& method, const std::string& path,
           const std::string& form, const std::string& auth) {
  Reply r;
  CURL* c = curl_easy_init();
  std::string body, headers;
  curl_slist* hs = nullptr;
  if (!auth.empty()) hs = curl_slist_append(hs, ("Authorization: " + auth).c_str());
  std::string url = f.url() + "/api2/json" + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!form.empty()) curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  if (!f.cert_file().empty()) curl_easy_setopt(c, CURLOPT_CAINFO, f.cert_file().c_str());
  CURLcode rc = curl_easy_perform(c);
  EXPECT_EQ(rc, CURLE_OK) << method << " " << path << ": " << curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  r.status = int(status);
  // "HTTP/1.1 500 CT is locked (create)\r\n…"
  auto sp1 = headers.find(' ');
  auto sp2 = sp1 == std::string::npos ? sp1 : headers.find(' ', sp1 + 1);
  auto eol = headers.find("\r\n");
  if (sp2 != std::string::npos && eol != std::string::npos && sp2 < eol)
    r.reason = headers.substr(sp2 + 1, eol - sp2 - 1);
  r.body = json::parse(body, nullptr, false);
  return r;
}

std::string encode(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), int(s.size()));
  std::string out(e);
  curl_free(e);
  return out;
}

std::string message(const Reply& r) {
  return r.body.is_object() && r.body.contains("message") && r.body["message"].is_string()
             ? r.body["message"].get<std::string>()
             : "";
}

class Pve {
 public:
  explicit Pve(const FakeProxmox& f) : f_(f), auth_("PVEAPIToken=" + f.token()) {}
  Reply get(const std::string& p) const { return call(f_, "GET", p, "", auth_); }
  Reply post(const std::string& p, const std::string& form = "") const {
    return call(f_, "POST", p, form, auth_);
  }
  Reply put(const std::string& p, const std::string& form) const {
    return call(f_, "PUT", p, form, auth_);
  }
  Reply del(const std::string& p) const { return call(f_, "DELETE", p, "", auth_); }
  // Polls the task until it stops; its final status object.
  json wait(const std::string& node, const std::string& upid) const {
    json last;
    eventually(
        [&] {
          auto r = get("/nodes/" + node + "/tasks/" + encode(upid) + "/status");
          last = r.body.value("data", json());
          return last.is_object() && last.value("status", "") == "stopped";
        },
        40s);
    return last;
  }

 private:
  const FakeProxmox& f_;
  std::string auth_;
};

json find_resource(const json& list, const std::string& id) {
  for (const auto& e : list)
    if (e.value("id", "") == id) return e;
  return json();
}

json find_ct(const json& state, int vmid) {
  for (const auto& c : state.value("cts", json::array()))
    if (c.value("vmid", 0) == vmid) return c;
  return json();
}

FakeProxmox::Options plain() {
  FakeProxmox::Options o;
  o.tls = false;
  return o;
}

class FakeProxmoxTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("fakepve"); }
  void TearDown() override {
    fake_.reset();
    remove_unless_failed(dir_);
  }
  void start(FakeProxmox::Options o) {
    o.work_dir = dir_;
    auto f = FakeProxmox::start(o);
    ASSERT_TRUE(f) << f.error().to_string();
    fake_ = std::move(*f);
  }

  std::string dir_;
  std::unique_ptr<FakeProxmox> fake_;
};

TEST_F(FakeProxmoxTest, TlsCertificateAndAuthentication) {
  ASSERT_NO_FATAL_FAILURE(start({}));
  EXPECT_TRUE(fake_->url().starts_with("https://127.0.0.1:"));
  EXPECT_EQ(fake_->fingerprint_sha256().size(), 95u);
  EXPECT_EQ(fake_->fingerprint_sha256()[2], ':');
  // call() verifies the peer and the IP subjectAltName against cert_file().
  Pve pve(*fake_);
  auto v = pve.get("/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_TRUE(v.body["data"].contains("version"));

  auto missing = call(*fake_, "GET", "/cluster/resources", "", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_TRUE(missing.body.contains("data") && missing.body["data"].is_null());
  auto bad = call(*fake_, "GET", "/cluster/resources", "", "PVEAPIToken=zlh@pve!api=wrong");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.reason, "authentication failure");
  auto reqs = fake_->state()["requests"];
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["auth"], "ok");
  EXPECT_EQ(reqs[1]["auth"], "missing");
  EXPECT_EQ(reqs[2]["auth"], "bad");
  auto log = fs::read_file(fake_->log_file()).value_or("");
  EXPECT_NE(log.find("/api2/json/cluster/resources"), std::string::npos);
  EXPECT_EQ(log.find("fake-secret"), std::string::npos) << "the token leaked into the log";
}

TEST_F(FakeProxmoxTest, CloneConfigPowerDeleteWithLocks) {
  ASSERT_NO_FATAL_FAILURE(start(plain()));
  Pve pve(*fake_);
  fake_->configure({{"task_ms", 400}});

  EXPECT_EQ(pve.get("/cluster/nextid").body["data"], "100");
  auto taken = pve.get("/cluster/nextid?vmid=9002");
  EXPECT_EQ(taken.status, 400);
  EXPECT_EQ(taken.body["errors"]["vmid"], "VM 9002 already exists");

  auto noid = pve.post("/nodes/pve1/lxc/9001/clone", "hostname=dev-101");
  EXPECT_EQ(noid.status, 400);
  EXPECT_TRUE(noid.body["errors"].contains("newid"));
  EXPECT_EQ(pve.post("/nodes/pve2/lxc/9001/clone", "newid=101").status, 500);  // wrong node
  EXPECT_EQ(message(pve.post("/nodes/pve1/lxc/9999/clone", "newid=101")),
            "CT 9999 does not exist\n");

  auto clone = pve.post("/nodes/pve1/lxc/9001/clone",
                        "newid=101&hostname=dev-101&full=1&storage=local-lvm&pool=zlh");
  ASSERT_EQ(clone.status, 200) << clone.body.dump();
  std::string upid = clone.body["data"];
  EXPECT_TRUE(upid.starts_with("UPID:pve1:")) << upid;
  EXPECT_NE(upid.find(":vzclone:101:zlh@pve!api:"), std::string::npos) << upid;

  auto conf = pve.get("/nodes/pve1/lxc/101/config");
  EXPECT_EQ(conf.body["data"]["lock"], "create");
  EXPECT_EQ(conf.body["data"]["hostname"], "dev-101");
  auto busy = pve.post("/nodes/pve1/lxc/9001/clone", "newid=102&full=1");
  EXPECT_EQ(busy.status, 500);
  EXPECT_EQ(busy.reason, "CT is locked (disk)");
  EXPECT_EQ(message(pve.post("/nodes/pve1/lxc/101/status/start")), "CT is locked (create)\n");
  auto res = pve.get("/cluster/resources?type=vm").body["data"];
  EXPECT_EQ(find_resource(res, "lxc/101")["lock"], "create");

  auto done = pve.wait("pve1", upid);
  EXPECT_EQ(done.value("exitstatus", ""), "OK") << done.dump();
  conf = pve.get("/nodes/pve1/lxc/101/config");
  EXPECT_FALSE(conf.body["data"].contains("lock"));
  auto node = find_resource(pve.get("/cluster/resources?type=node").body["data"], "node/pve1");
  EXPECT_EQ(node["mem"], (512 + 512) * 1024 * 1024);
  EXPECT_EQ(message(pve.get("/nodes/pve2/lxc/101/config")),
            "Configuration file 'nodes/pve2/lxc/101.conf' does not exist\n");

  fake_->configure({{"lock_errors", {{"config", 2}}}, {"task_ms", 20}});
  auto l1 = pve.put("/nodes/pve1/lxc/101/config", "cores=2");
  auto l2 = pve.put("/nodes/pve1/lxc/101/config", "cores=2");
  EXPECT_EQ(l1.status, 500);
  EXPECT_EQ(l1.reason, "CT is locked (clone)");
  EXPECT_EQ(l2.reason, "can't lock file '/run/lock/lxc/pve-config-101.conf' - got timeout");
  auto put =
      pve.put("/nodes/pve1/lxc/101/config", "cores=2&memory=1024&tags=zlh%3Bdev&description=x");
  EXPECT_EQ(put.status, 200) << put.body.dump();
  EXPECT_EQ(pve.put("/nodes/pve1/lxc/101/config", "cores=abc").status, 400);
  EXPECT_EQ(pve.put("/nodes/pve1/lxc/101/config", "bogus=1").status, 400);
  conf = pve.get("/nodes/pve1/lxc/101/config");
  EXPECT_EQ(conf.body["data"]["cores"], 2);
  EXPECT_EQ(conf.body["data"]["tags"], "dev;zlh");  // PVE's default tag style sorts

  EXPECT_EQ(pve.get("/nodes/pve1/lxc/101/interfaces").status, 500);
  EXPECT_EQ(message(pve.post("/nodes/pve1/lxc/101/status/stop")), "CT 101 not running\n");
  auto start = pve.post("/nodes/pve1/lxc/101/status/start");
  EXPECT_EQ(pve.wait("pve1", start.body["data"])["exitstatus"], "OK");
  EXPECT_EQ(pve.get("/nodes/pve1/lxc/101/status/current").body["data"]["status"], "running");
  auto ifs = pve.get("/nodes/pve1/lxc/101/interfaces").body["data"];
  ASSERT_EQ(ifs.size(), 2u);
  EXPECT_EQ(ifs[1]["name"], "eth0");
  EXPECT_EQ(ifs[1]["inet"], "10.10.0.101/24");
  EXPECT_EQ(message(pve.post("/nodes/pve1/lxc/101/status/start")), "CT 101 already running\n");
  EXPECT_EQ(message(pve.del("/nodes/pve1/lxc/101?purge=1")),
            "CT 101 is running - destroy failed\n");
  auto shut = pve.post("/nodes/pve1/lxc/101/status/shutdown", "timeout=5&forceStop=1");
  EXPECT_EQ(pve.wait("pve1", shut.body["data"])["exitstatus"], "OK");
  auto del = pve.del("/nodes/pve1/lxc/101?purge=1&destroy-unreferenced-disks=1");
  EXPECT_EQ(pve.wait("pve1", del.body["data"])["exitstatus"], "OK");
  EXPECT_TRUE(find_ct(fake_->state(), 101).is_null());
}

TEST_F(FakeProxmoxTest, FailedClonesOfflineNodesAndForeignCts) {
  ASSERT_NO_FATAL_FAILURE(start(plain()));
  Pve pve(*fake_);
  fake_->configure({{"fail_clones", 1},
                    {"foreign", {{{"vmid", 150}, {"node", "pve2"}}}},
                    {"template_lock", false},
                    {"task_ms", 300}});

  auto a = pve.post("/nodes/pve1/lxc/9001/clone", "newid=201&hostname=dev-201&full=1");
  auto b = pve.post("/nodes/pve1/lxc/9001/clone", "newid=202&hostname=mc-paper-202&full=1");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(pve.wait("pve1", a.body["data"])["exitstatus"],
            "clone failed: storage 'local-lvm' out of space");
  EXPECT_EQ(pve.wait("pve1", b.body["data"])["exitstatus"], "OK");
  auto st = fake_->state();
  EXPECT_EQ(st["max_concurrent_clones"]["pve1"], 2);
  auto half = find_ct(st, 201);
  EXPECT_EQ(half["status"], "stopped");
  EXPECT_TRUE(half["lock"].is_null());
  auto del = pve.del("/nodes/pve1/lxc/201");
  EXPECT_EQ(pve.wait("pve1", del.body["data"])["exitstatus"], "OK");

  auto foreign = find_resource(pve.get("/cluster/resources").body["data"], "lxc/150");
  EXPECT_EQ(foreign["name"], "someone-else");
  EXPECT_FALSE(foreign.contains("tags"));
  EXPECT_EQ(pve.get("/cluster/nextid?vmid=150").status, 400);

  fake_->configure({{"offline", {"pve2"}}});
  auto off = pve.get("/nodes/pve2/lxc/150/config");
  EXPECT_EQ(off.status, 595);
  auto res = pve.get("/cluster/resources").body["data"];
  EXPECT_EQ(find_resource(res, "node/pve2")["status"], "offline");
  EXPECT_EQ(find_resource(res, "lxc/150")["status"], "unknown");
  fake_->configure({{"offline", json::array()}});
  EXPECT_EQ(pve.get("/nodes/pve2/lxc/150/config").status, 200);
  EXPECT_EQ(pve.get("/nodes/pve9/lxc/150/config").status, 500);
}

// Live zlh-agent processes (argv[0], not the fake's --agent-bin flag) whose
// command line names `dir`.
std::vector<pid_t> agents_in(const std::string& dir) {
  std::vector<pid_t> out;
  for (pid_t p : agents_under(dir)) {
    auto cmd = fs::read_file("/proc/" + std::to_string(p) + "/cmdline", 1 << 16).value_or("");
    std::string argv0 = cmd.substr(0, cmd.find('\0'));
    if (argv0.ends_with("/zlh-agent")) out.push_back(p);
  }
  return out;
}

bool address_free(int vmid) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(18888);
  std::string ip = "127.77." + std::to_string(vmid / 256) + "." + std::to_string(vmid % 256);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

TEST_F(FakeProxmoxTest, RealContainersHaveAgentsThatDoNotOutliveTheFake) {
  ASSERT_EQ(zlhctl({"keygen", "--out", dir_ + "/keys"}).exit_code, 0);
  FakeProxmox::Options o;
  o.real_cts = true;
  o.api_key = dir_ + "/keys/api.pub";
  o.catalog_key = dir_ + "/keys/catalog.pub";
  ASSERT_NO_FATAL_FAILURE(start(o));
  Pve pve(*fake_);
  std::mt19937 rng(std::random_device{}() ^ unsigned(getpid()));
  int vmid = 0;
  for (int i = 0; i < 100 && vmid == 0; ++i) {
    int v = 40000 + int(rng() % 25000);
    if (address_free(v)) vmid = v;
  }
  ASSERT_NE(vmid, 0);
  const std::string id = std::to_string(vmid);

  auto clone =
      pve.post("/nodes/pve3/lxc/9003/clone", "newid=" + id + "&hostname=dev-" + id + "&full=1");
  ASSERT_EQ(clone.status, 200) << clone.body.dump();
  ASSERT_EQ(pve.wait("pve3", clone.body["data"])["exitstatus"], "OK");
  auto start = pve.post("/nodes/pve3/lxc/" + id + "/status/start");
  ASSERT_EQ(pve.wait("pve3", start.body["data"])["exitstatus"], "OK");
  auto ifs = pve.get("/nodes/pve3/lxc/" + id + "/interfaces").body["data"];
  ASSERT_EQ(ifs.size(), 2u);
  std::string inet = ifs[1]["inet"];
  std::string ip = inet.substr(0, inet.find('/'));
  EXPECT_EQ(inet, ip + "/8");
  auto health = http::request("GET", "http://" + ip + ":18888/health", {}, {}, 5s);
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(agents_in(dir_).size(), 1u);

  fake_.reset();  // SIGTERM: the fake stops its containers first
  EXPECT_TRUE(eventually([&] { return agents_in(dir_).empty(); }, 5s));
}

}  // namespace
}  // namespace zlh::testing
