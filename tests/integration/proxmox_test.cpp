// The proxmox driver's contract against tests/fixtures/fake_proxmox.py
// (docs/design.md §10.5, docs/proxmox.md): placement by free memory over three
// nodes, clones per node, lock errors retried, a failing clone compensated,
// a node going offline, guests that are not ours, idempotent operations,
// slow and overlong tasks, TLS verification and pinning, the token header
// and no token in any log. The first tests drive ProxmoxDriver directly with
// bookkeeping-only containers; the last ones run zlh-api --driver proxmox
// with real agents in the fake's containers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "api/drivers/proxmox/proxmox_driver.hpp"
#include "base/fs.hpp"
#include "fake_proxmox.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;
using api::drivers::ContainerSpec;
using api::drivers::PowerState;
using api::drivers::ProxmoxConfig;
using api::drivers::ProxmoxDriver;
using api::drivers::VmidUse;
using nlohmann::json;

const std::string kSecret = "fake-secret-0123456789";

// Captures this process's stderr (the JSON log) into a file while alive.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    saved_ = ::dup(2);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  std::string restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    return fs::read_file(path_, 1 << 24).value_or("");
  }

 private:
  std::string path_;
  int saved_ = -1;
};

class ProxmoxDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("pve");
    FakeProxmox::Options o;
    o.work_dir = dir_;
    auto f = FakeProxmox::start(o);
    ASSERT_TRUE(f) << f.error().message;
    fake_ = std::move(*f);
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/api.pub", "not used by bookkeeping containers"));
  }
  void TearDown() override {
    fake_.reset();
    remove_unless_failed(dir_);
  }
  ProxmoxConfig config() const {
    ProxmoxConfig c;
    c.url = fake_->url();
    c.token = fake_->token();
    c.token_id = c.token.substr(0, c.token.find('='));
    c.ca_file = fake_->cert_file();
    c.storage = "local-lvm";
    c.pool = "zlh";
    c.templates = {{"pve1", 9001}, {"pve2", 9002}, {"pve3", 9003}};
    c.bridges = {{"dev", "vmbr1"}, {"game", "vmbr2"}};
    c.lock_backoff = 20ms;
    c.poll = 50ms;
    c.task_timeout = 60s;
    return c;
  }
  ContainerSpec spec(int vmid, int memory_mb = 1024) const {
    ContainerSpec s;
    s.hostname = "dev-" + std::to_string(vmid);
    s.memory_mb = memory_mb;
    s.cpu_cores = 2;
    s.agent.api_public_key_file = dir_ + "/api.pub";
    return s;
  }
  json ct(int vmid) const {
    const json st = fake_->state();  // held: a range-for over a temporary's member dangles
    for (const auto& c : st["cts"])
      if (c.value("vmid", 0) == vmid) return c;
    return nullptr;
  }
  int count_requests(const std::string& method, const std::string& path_part) const {
    int n = 0;
    const json st = fake_->state();
    for (const auto& r : st["requests"])
      if (r.value("method", "") == method &&
          r.value("path", "").find(path_part) != std::string::npos)
        ++n;
    return n;
  }
  // create + configure + start, as the job runner runs them.
  void provision(ProxmoxDriver& d, int vmid, int memory_mb = 1024) {
    auto s = spec(vmid, memory_mb);
    auto c = d.create(vmid, s);
    ASSERT_TRUE(c) << c.error().message;
    auto k = d.configure(vmid, s);
    ASSERT_TRUE(k) << k.error().message;
    auto st = d.start(vmid);
    ASSERT_TRUE(st) << st.error().message;
  }

  std::string dir_;
  std::unique_ptr<FakeProxmox> fake_;
};

TEST_F(ProxmoxDriverTest, PlacesByFreeMemoryOverThreeNodesAndConfiguresTheClone) {
  ProxmoxDriver d(config());
  // Sequential creates: each goes to the node with the most free memory.
  std::map<std::string, int> per_node;
  for (int vmid = 7100; vmid < 7106; ++vmid) {
    provision(d, vmid);
    ASSERT_FALSE(HasFatalFailure());
    auto s = d.status(vmid);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->state, PowerState::kRunning);
    per_node[s->node]++;
  }
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"pve1", 2}, {"pve2", 2}, {"pve3", 2}}));
  // The clone and its configuration, as §10.5 lists them.
  json c = ct(7100);
  EXPECT_EQ(c["hostname"], "dev-7100");
  EXPECT_EQ(c["cores"], 2);
  EXPECT_EQ(c["memory"], 1024);
  EXPECT_NE(c["net0"].get<std::string>().find("bridge=vmbr1"), std::string::npos) << c["net0"];
  EXPECT_NE(c["tags"].get<std::string>().find("zlh"), std::string::npos);
  EXPECT_EQ(c["pool"], "zlh");
  EXPECT_EQ(c["storage"], "local-lvm");
  const json st = fake_->state();
  for (const auto& r : st["requests"])
    if (r.value("path", "").ends_with("/clone"))
      EXPECT_EQ(r["params"].value("full", ""), "1") << r.dump();
  // The address comes from /interfaces.
  auto s = d.status(7100);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->address, "10.10.27.188");  // 7100 = 27*256 + 188
  // A bigger node wins: pve3 gets the next one once the others are fuller.
  provision(d, 7106, 4096);
  provision(d, 7107, 512);
  auto big = d.status(7106), next = d.status(7107);
  ASSERT_TRUE(big && next);
  EXPECT_NE(big->node, next->node) << "the 4 GiB container's node is the fullest now";
}

TEST_F(ProxmoxDriverTest, AtMostNClonesPerNodeRunAtOnce) {
  fake_->configure({{"task_ms", 400}, {"template_lock", false}});
  auto cfg = config();
  cfg.clones_per_node = 1;
  cfg.nodes = {"pve1"};  // every clone on one node
  ProxmoxDriver d(cfg);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      if (d.create(7200 + i, spec(7200 + i))) ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(fake_->state()["max_concurrent_clones"].value("pve1", 0), 1);

  cfg.clones_per_node = 2;
  ProxmoxDriver d2(cfg);
  ts.clear();
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] { (void)d2.create(7210 + i, spec(7210 + i)); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(fake_->state()["max_concurrent_clones"].value("pve1", 0), 2)
      << "two overlap, never three";
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(ct(7210 + i).is_null());
}

TEST_F(ProxmoxDriverTest, LockErrorsAreRetriedWithBackoff) {
  ProxmoxDriver d(config());
  StderrCapture cap(dir_ + "/driver.log");
  fake_->configure({{"lock_errors",
                     {{"clone", 2}, {"config", 2}, {"start", 1}, {"shutdown", 1}, {"delete", 1}}}});
  provision(d, 7300);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(d.stop(7300, 10s));
  EXPECT_TRUE(d.destroy(7300, 10s));
  std::string log = cap.restore();
  EXPECT_TRUE(ct(7300).is_null());
  EXPECT_EQ(count_requests("POST", "/clone"), 3) << "two locked answers, then the clone";
  EXPECT_EQ(count_requests("PUT", "/lxc/7300/config"), 3);
  EXPECT_EQ(count_requests("POST", "/lxc/7300/status/start"), 2);
  EXPECT_EQ(count_requests("DELETE", "/lxc/7300"), 2);
  EXPECT_NE(log.find("locked; retrying"), std::string::npos);
  EXPECT_NE(log.find("can't lock file"), std::string::npos);
  EXPECT_EQ(log.find(kSecret), std::string::npos) << "the token must never be logged";

  // A lock that never clears gives up after lock_retries tries, naming it.
  auto cfg = config();
  cfg.lock_retries = 3;
  ProxmoxDriver impatient(cfg);
  fake_->configure({{"lock_errors", {{"clone", 10}}}});
  auto r = impatient.create(7301, spec(7301));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("still locked after 3 tries"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(count_requests("POST", "/clone"), 3 + 3);
  fake_->configure({{"lock_errors", {{"clone", 0}}}});
}

TEST_F(ProxmoxDriverTest, AFailedCloneIsReportedAndDestroyRemovesWhatItLeft) {
  ProxmoxDriver d(config());
  fake_->configure({{"fail_clones", 1}});
  auto r = d.create(7400, spec(7400));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kIo);
  EXPECT_NE(r.error().message.find("out of space"), std::string::npos) << r.error().message;
  EXPECT_FALSE(ct(7400).is_null()) << "Proxmox leaves the half-made CT behind";
  ASSERT_TRUE(d.destroy(7400, 5s));
  EXPECT_TRUE(ct(7400).is_null());
  EXPECT_EQ(count_requests("DELETE", "/lxc/7400"), 1);
  // The next create of that vmid works.
  provision(d, 7400);
}

TEST_F(ProxmoxDriverTest, ANodeGoingOfflineIsUnavailableAndPlacementAvoidsIt) {
  ProxmoxDriver d(config());
  provision(d, 7500);  // pve1
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(d.status(7500)->node, "pve1");
  fake_->configure({{"offline", {"pve1"}}});
  auto st = d.status(7500);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, codes::kUnavailable) << st.error().message;
  auto del = d.destroy(7500, 5s);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, codes::kUnavailable);
  EXPECT_FALSE(d.start(7500));
  for (int vmid : {7501, 7502, 7503}) {
    provision(d, vmid);
    EXPECT_NE(d.status(vmid)->node, "pve1");
  }
  fake_->configure({{"offline", json::array()}});
  EXPECT_TRUE(d.destroy(7500, 5s));
  EXPECT_TRUE(ct(7500).is_null());
  // Every node offline: nowhere to place.
  fake_->configure({{"offline", {"pve1", "pve2", "pve3"}}});
  auto none = d.create(7504, spec(7504));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, codes::kUnavailable);
  fake_->configure({{"offline", json::array()}});
}

TEST_F(ProxmoxDriverTest, GuestsThatAreNotOursAreNeverTouched) {
  ProxmoxDriver d(config());
  fake_->configure({{"foreign", {{{"vmid", 7600}, {"node", "pve2"}}}}});
  EXPECT_EQ(d.vmid_use(7600, "dev-7600"), VmidUse::kForeign);
  EXPECT_EQ(d.vmid_use(7601, "dev-7601"), VmidUse::kFree);
  EXPECT_EQ(d.vmid_use(9001, "dev-9001"), VmidUse::kForeign) << "a template";
  auto c = d.create(7600, spec(7600));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, codes::kConflict);
  auto x = d.destroy(7600, 5s);
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().code, codes::kConflict);
  EXPECT_FALSE(d.stop(7600, 5s));
  EXPECT_FALSE(ct(7600).is_null());
  EXPECT_EQ(count_requests("DELETE", "/lxc/7600"), 0);
  EXPECT_EQ(count_requests("POST", "/lxc/7600/status"), 0);
  provision(d, 7601);
  EXPECT_EQ(d.vmid_use(7601, "dev-7601"), VmidUse::kOurs);
}

TEST_F(ProxmoxDriverTest, EveryOperationIsIdempotent) {
  ProxmoxDriver d(config());
  provision(d, 7700);
  ASSERT_FALSE(HasFatalFailure());
  provision(d, 7700);  // again: nothing new
  EXPECT_EQ(count_requests("POST", "/clone"), 1);
  EXPECT_EQ(count_requests("POST", "/lxc/7700/status/start"), 1);
  EXPECT_TRUE(d.stop(7700, 5s));
  EXPECT_TRUE(d.stop(7700, 5s));
  EXPECT_EQ(count_requests("POST", "/lxc/7700/status/shutdown"), 1);
  EXPECT_EQ(d.status(7700)->state, PowerState::kStopped);
  EXPECT_TRUE(d.destroy(7700, 5s));
  EXPECT_TRUE(d.destroy(7700, 5s));
  EXPECT_EQ(count_requests("DELETE", "/lxc/7700"), 1);
  EXPECT_EQ(d.status(7700)->state, PowerState::kMissing);
  EXPECT_EQ(d.start(7700).error().code, codes::kNotFound);
  EXPECT_EQ(d.configure(7700, spec(7700)).error().code, codes::kNotFound);
  // A create whose clone is still running (an API killed mid-clone, then
  // resumed) waits for it instead of cloning again.
  fake_->configure({{"task_ms", 1500}});
  std::thread first([&] { (void)d.create(7701, spec(7701)); });
  ASSERT_TRUE(eventually([&] { return !ct(7701).is_null(); }, 10s));
  ProxmoxDriver resumed(config());
  EXPECT_TRUE(resumed.create(7701, spec(7701)));
  first.join();
  EXPECT_EQ(count_requests("POST", "/clone"), 2);
  EXPECT_TRUE(ct(7701)["lock"].is_null());

  // A second destroy while the first one's delete task runs (a resumed
  // delete job): its own delete finds the container gone, which is success.
  fake_->configure({{"task_ms", 800}});
  provision(d, 7702);
  Result<void> first_destroy;
  std::thread a([&] { first_destroy = d.destroy(7702, 5s); });
  EXPECT_TRUE(eventually([&] { return count_requests("DELETE", "/lxc/7702") == 1; }, 20s));
  auto second = resumed.destroy(7702, 5s);
  EXPECT_TRUE(second) << second.error().message;
  a.join();
  EXPECT_TRUE(first_destroy) << first_destroy.error().message;
  EXPECT_TRUE(ct(7702).is_null());
}

TEST_F(ProxmoxDriverTest, SlowTasksAreWaitedForAndOverlongOnesTimeOut) {
  fake_->configure({{"task_ms", 1200}});
  ProxmoxDriver d(config());
  provision(d, 7800);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GE(count_requests("GET", "/tasks/"), 4) << "each slow task was polled until it stopped";
  fake_->configure({{"task_ms", 3000}});
  auto cfg = config();
  cfg.task_timeout = 1s;
  ProxmoxDriver hasty(cfg);
  auto r = hasty.create(7801, spec(7801));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kTimeout) << r.error().message;
}

TEST_F(ProxmoxDriverTest, TlsRefusesAnUnknownCertificateUnlessTrustedOrPinned) {
  auto cfg = config();
  cfg.ca_file.clear();  // the system CAs do not know the fake's certificate
  ProxmoxDriver strict(cfg);
  auto r = strict.check_connection();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;
  EXPECT_EQ(fake_->state()["requests"].size(), 0u) << "nothing (no token) reached the server";

  auto wrong = cfg;
  std::array<uint8_t, 32> bad{};
  bad.fill(0xAB);
  wrong.fingerprint = bad;
  auto w = ProxmoxDriver(wrong).check_connection();
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("pinned"), std::string::npos) << w.error().message;
  EXPECT_EQ(fake_->state()["requests"].size(), 0u);

  auto pinned = cfg;
  pinned.fingerprint = *api::drivers::parse_fingerprint(fake_->fingerprint_sha256());
  auto p = ProxmoxDriver(pinned).check_connection();
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, "8.2.4");

  auto trusted = ProxmoxDriver(config()).check_connection();  // ca_file = the fake's certificate
  ASSERT_TRUE(trusted) << trusted.error().message;
  auto reqs = fake_->state()["requests"];
  ASSERT_EQ(reqs.size(), 2u);
  for (const auto& q : reqs) EXPECT_EQ(q["auth"], "ok");
}

TEST_F(ProxmoxDriverTest, TheTokenHeaderIsCheckedAndTheTokenNeverLogged) {
  StderrCapture cap(dir_ + "/driver.log");
  auto cfg = config();
  cfg.token = "zlh@pve!api=wrong-secret-999";
  auto r = ProxmoxDriver(cfg).check_connection();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("401"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("wrong-secret-999"), std::string::npos);
  EXPECT_EQ(fake_->state()["requests"][0]["auth"], "bad");
  ProxmoxDriver d(config());
  fake_->configure({{"lock_errors", {{"config", 1}}}, {"fail_clones", 1}});
  EXPECT_FALSE(d.create(7900, spec(7900)));
  EXPECT_TRUE(d.destroy(7900, 5s));
  provision(d, 7901);
  EXPECT_TRUE(d.destroy(7901, 5s));
  std::string log = cap.restore();
  EXPECT_NE(log.find("cloning"), std::string::npos) << "the driver logged its work";
  EXPECT_EQ(log.find(kSecret), std::string::npos);
  EXPECT_EQ(log.find("wrong-secret-999"), std::string::npos);
  EXPECT_EQ(log.find("PVEAPIToken"), std::string::npos);
  const json all = fake_->state()["requests"];
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i]["auth"], "ok") << all[i].dump();
  auto fake_log = fs::read_file(fake_->log_file(), 1 << 24).value_or("");
  EXPECT_EQ(fake_log.find(kSecret), std::string::npos);
}

// ---- zlh-api --driver proxmox: provisioning jobs with real agents ----

class ProxmoxApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("pveapi");
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    make_tool_store(dir_, store_, keys_);
    ASSERT_FALSE(HasFatalFailure());
    FakeProxmox::Options o;
    o.work_dir = dir_;
    o.real_cts = true;
    o.api_key = dir_ + "/data/keys/api.pub";  // made by zlh-api at its first start
    o.catalog_key = keys_ + "/catalog.pub";
    o.artifacts = "file://" + store_;
    auto f = FakeProxmox::start(o);
    ASSERT_TRUE(f) << f.error().message;
    fake_ = std::move(*f);
    ASSERT_TRUE(fs::write_file_atomic(dir_ + "/pve.token", fake_->token() + "\n"));
    ASSERT_TRUE(fs::write_file_atomic(
        dir_ + "/proxmox.toml", "url = \"" + fake_->url() + "\"\n" + "token_file = \"" + dir_ +
                                    "/pve.token\"\n" + "fingerprint = \"" +
                                    fake_->fingerprint_sha256() + "\"\n" + "pool = \"zlh\"\n" +
                                    "lock_backoff_ms = 50\npoll_ms = 100\n" +
                                    "[templates]\npve1 = 9001\npve2 = 9002\n"
                                    "pve3 = 9003\n[bridges]\ndev = \"vmbr1\"\n"));
    vmid_lo_ = 1000 + int(crypto_byte() % 10) * 100;  // 1000-1999: no other test's window
    api_ = std::make_unique<ApiProcess>(
        dir_, store_, keys_,
        std::vector<std::string>{"--driver", "proxmox", "--proxmox-config", dir_ + "/proxmox.toml",
                                 "--dev-vmid-lo", std::to_string(vmid_lo_), "--dev-vmid-hi",
                                 std::to_string(vmid_lo_ + 99)});
    ASSERT_TRUE(api_->start()) << api_->log();
  }
  void TearDown() override {
    api_.reset();
    fake_.reset();  // stops every container it runs
    remove_unless_failed(dir_);
  }
  static int crypto_byte() {
    unsigned char b = 0;
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::read(fd, &b, 1);
      ::close(fd);
    }
    return b;
  }
  ApiClient api() const { return ApiClient(api_->base()); }
  http::ClientResponse call(const std::string& m, const std::string& p, const std::string& token) {
    return api().call(m, p, token);
  }
  std::string user(const std::string& name) { return api().register_user(name); }
  int64_t create_dev(const std::string& token) { return api().create_dev(token); }
  json server(int64_t id, const std::string& token) { return api().server(id, token); }
  json wait_state(int64_t id, const std::string& token, std::set<std::string> states) {
    return api().wait_state(id, token, states);
  }
  json ct(int vmid) const {
    const json st = fake_->state();
    for (const auto& c : st["cts"])
      if (c.value("vmid", 0) == vmid) return c;
    return nullptr;
  }

  std::string dir_, store_, keys_;
  int vmid_lo_ = 1000;
  std::unique_ptr<FakeProxmox> fake_;
  std::unique_ptr<ApiProcess> api_;
};

TEST_F(ProxmoxApiTest, ProvisioningJobsSpreadOverThreeNodesAndDeleteRemovesTheContainers) {
  std::string ann = user("ann");
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(create_dev(ann));
  std::set<std::string> nodes;
  std::vector<int> vmids;
  for (int64_t id : ids) {
    json s = wait_state(id, ann, {"ready", "error"});
    ASSERT_EQ(s["state"], "ready") << s.dump() << api_->log();
    EXPECT_EQ(s["agent_state"], "running");
    nodes.insert(s.value("node", ""));
    int vmid = s["vmid"];
    vmids.push_back(vmid);
    // The agent runs in the fake's container, with the runtime installed.
    EXPECT_TRUE(fs::read_file(dir_ + "/cts/" + std::to_string(vmid) + "/containers/" +
                                  std::to_string(vmid) + "/opt/zlh/runtimes/tool/current/bin/tool",
                              4096))
        << vmid;
    EXPECT_EQ(ct(vmid)["hostname"], "dev-" + std::to_string(vmid));
    EXPECT_EQ(ct(vmid)["status"], "running");
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"pve1", "pve2", "pve3"}));
  for (int64_t id : ids)
    ASSERT_EQ(call("DELETE", "/api/servers/" + std::to_string(id), ann).status, 202);
  for (int vmid : vmids) EXPECT_TRUE(eventually([&] { return ct(vmid).is_null(); }, 60s)) << vmid;
  for (pid_t p : agents_under(dir_ + "/cts"))  // the fake's own command line names zlh-agent too
    if (fs::read_file("/proc/" + std::to_string(p) + "/comm", 64)
            .value_or("")
            .starts_with("zlh-agent"))
      ADD_FAILURE() << "agent " << p << " outlived its container";
  std::string log = api_->log();
  EXPECT_EQ(log.find(kSecret), std::string::npos) << "token in the API log";
  EXPECT_NE(log.find("proxmox reachable"), std::string::npos);
}

TEST_F(ProxmoxApiTest, AFailedCloneIsCompensatedByDeletingWhatItLeft) {
  std::string bob = user("bob");
  fake_->configure({{"fail_clones", 1}});
  int64_t id = create_dev(bob);
  json s = wait_state(id, bob, {"error", "ready"});
  ASSERT_EQ(s["state"], "error") << s.dump();
  EXPECT_NE(s.dump().find("out of space"), std::string::npos) << s.dump();
  int64_t job = s["job"]["id"];
  json j;
  ASSERT_TRUE(eventually(
      [&] {
        j = json::parse(call("GET", "/api/jobs/" + std::to_string(job), bob).body, nullptr, false);
        return j.value("state", "") == "compensated";
      },
      60s))
      << j.dump();
  // The half-made container was deleted; nothing of it is left.
  int deletes = 0;
  const json st = fake_->state();
  for (const auto& r : st["requests"])
    if (r.value("method", "") == "DELETE") ++deletes;
  EXPECT_GE(deletes, 1);
  for (const auto& c : st["cts"]) EXPECT_TRUE(c.value("template", 0) == 1) << c.dump();
  // The vmid went back to the pool: the next server gets it and works.
  int64_t again = create_dev(bob);
  json a = wait_state(again, bob, {"ready", "error"});
  EXPECT_EQ(a["state"], "ready") << a.dump();
  EXPECT_EQ(a["vmid"], vmid_lo_);
  EXPECT_EQ(api_->log().find(kSecret), std::string::npos);
}

TEST_F(ProxmoxApiTest, AVmidTakenOnTheClusterMovesTheServerToTheNextAndLockErrorsAreRidden) {
  std::string cid = user("cid");
  fake_->configure({{"foreign", {{{"vmid", vmid_lo_}, {"node", "pve1"}}}},
                    {"lock_errors", {{"config", 1}, {"start", 1}}}});
  int64_t id = create_dev(cid);
  json s = wait_state(id, cid, {"ready", "error"});
  ASSERT_EQ(s["state"], "ready") << s.dump() << api_->log();
  EXPECT_EQ(s["vmid"], vmid_lo_ + 1);
  EXPECT_EQ(s["hostname"], "dev-" + std::to_string(vmid_lo_ + 1));
  EXPECT_EQ(ct(vmid_lo_).value("hostname", ""), "someone-else") << "the foreign guest is untouched";
  EXPECT_NE(api_->log().find("vmid taken outside zlh"), std::string::npos);
  // The reserved vmid is not handed out again.
  int64_t id2 = create_dev(cid);
  json s2 = wait_state(id2, cid, {"ready", "error"});
  EXPECT_EQ(s2["vmid"], vmid_lo_ + 2) << s2.dump();
}

TEST_F(ProxmoxApiTest, ADeleteWaitsForAnOfflineNodeAndFinishesWhenItIsBack) {
  std::string dee = user("dee");
  int64_t id = create_dev(dee);
  json s = wait_state(id, dee, {"ready", "error"});
  ASSERT_EQ(s["state"], "ready") << s.dump();
  const std::string node = s["node"];
  const int vmid = s["vmid"];
  fake_->configure({{"offline", {node}}});
  auto del = call("DELETE", "/api/servers/" + std::to_string(id), dee);
  ASSERT_EQ(del.status, 202) << del.body;
  int64_t job = json::parse(del.body)["job"];
  // It waits (the container is out of reach), not fails.
  ASSERT_TRUE(eventually(
      [&] { return api_->log().find("container unavailable; delete waits") != std::string::npos; },
      30s));
  EXPECT_EQ(
      json::parse(call("GET", "/api/jobs/" + std::to_string(job), dee).body).value("state", ""),
      "running");
  EXPECT_FALSE(ct(vmid).is_null());
  fake_->configure({{"offline", json::array()}});
  EXPECT_TRUE(eventually(
      [&] {
        return json::parse(call("GET", "/api/jobs/" + std::to_string(job), dee).body)
                   .value("state", "") == "done";
      },
      60s));
  EXPECT_TRUE(ct(vmid).is_null());
}

}  // namespace
}  // namespace zlh::testing
