// The local driver (docs/design.md §10.5) with the real zlh-agent and zlh-shim:
// containers on their own 127.77.x.y address, agents that outlive the API
// (even kill -9) and are found again instead of started twice, stop and
// destroy that leave no process of the container behind (agent, shims,
// services, and what escaped their process groups), idempotent retries.
#include "api/drivers/local/local_driver.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "api/drivers/local/local_stats.hpp"
#include "archive_builder.hpp"
#include "base/fs.hpp"
#include "harness.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;
using namespace zlh::api::drivers;
using nlohmann::json;

std::string fixture(const std::string& name) {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/" + name;
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

std::string read_proc(pid_t pid, const char* what) {
  return fs::read_file("/proc/" + std::to_string(pid) + "/" + what, 1 << 20).value_or("");
}

char proc_state(pid_t pid) {
  std::string stat = read_proc(pid, "stat");
  auto rp = stat.rfind(')');
  return rp != std::string::npos && rp + 2 < stat.size() ? stat[rp + 2] : '\0';
}

// Running (not zombie, not gone) — independent of the code under test.
bool running(pid_t pid) {
  char s = proc_state(pid);
  return s != '\0' && s != 'Z' && s != 'X';
}

// Every live process (not this one) whose command line, environment or cwd
// mentions `dir`: what "no orphans" means, checked without the driver's code.
std::vector<pid_t> processes_mentioning(const std::string& dir) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  while (auto* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == getpid() || !running(pid_t(pid))) continue;
    std::string text = read_proc(pid_t(pid), "cmdline") + '\0' + read_proc(pid_t(pid), "environ");
    std::error_code ec;
    std::string cwd =
        std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec).string();
    if (text.find(dir) != std::string::npos || cwd.starts_with(dir))
      if (running(pid_t(pid))) out.push_back(pid_t(pid));
  }
  closedir(d);
  return out;
}

std::string describe(const std::vector<pid_t>& pids) {
  std::string s;
  for (pid_t p : pids) {
    std::string cmd = read_proc(p, "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    s += std::to_string(p) + ": " + cmd + "\n";
  }
  return s;
}

class LocalDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("ldrv");
    keys_ = dir_ + "/keys";
    data_ = dir_ + "/data";
    ASSERT_EQ(zlhctl({"keygen", "--out", keys_}).exit_code, 0);
    driver_ = open_driver();
    ASSERT_TRUE(driver_);
    vmid_ = pick_vmid();
    spec_.type = ContainerType::kDev;
    spec_.memory_mb = 512;
    spec_.cpu_cores = 1;
    spec_.agent.api_public_key_file = keys_ + "/api.pub";
    spec_.agent.catalog_public_key_file = keys_ + "/catalog.pub";
  }

  void TearDown() override {
    // Whatever the outcome, no process of this test survives it.
    for (int v : used_) (void)driver_->destroy(v, 5s);
    for (pid_t p : processes_mentioning(dir_)) ::kill(p, SIGKILL);
    remove_unless_failed(dir_);
  }

  std::unique_ptr<LocalDriver> open_driver() {
    auto d = LocalDriver::open({.data_dir = data_, .agent_bin = bin_dir() + "/zlh-agent"});
    EXPECT_TRUE(d) << d.error().message;
    return d ? std::move(*d) : nullptr;
  }

  // A vmid from a range no other test uses, whose address is free.
  int pick_vmid() {
    static std::mt19937 rng(std::random_device{}() ^ unsigned(getpid()));
    for (int i = 0; i < 500; ++i) {
      int v = 40000 + int(rng() % 25000);
      if (taken_.count(v)) continue;
      std::string addr = *local_address(v);
      if (port_free(addr, kAgentPort) && port_free(addr, 6000)) {
        taken_.insert(v);
        used_.push_back(v);
        return v;
      }
    }
    ADD_FAILURE() << "no free vmid";
    return 0;
  }

  std::string cdir(int vmid) { return driver_->container_dir(vmid); }
  std::string url(int vmid, const std::string& path) {
    return "http://" + *local_address(vmid) + ":18888" + path;
  }

  void create_and_start(int vmid) {
    auto c = driver_->create(vmid, spec_);
    ASSERT_TRUE(c) << c.error().message;
    auto s = driver_->start(vmid);
    ASSERT_TRUE(s) << s.error().message;
    auto a = driver_->address(vmid, 20s);
    ASSERT_TRUE(a) << a.error().message;
  }

  // Processes of the container, checked independently of the driver.
  std::vector<pid_t> leftovers(int vmid) { return processes_mentioning(cdir(vmid)); }

  std::string dir_, keys_, data_;
  std::unique_ptr<LocalDriver> driver_;
  int vmid_ = 0;
  ContainerSpec spec_;
  std::vector<int> used_;
  std::set<int> taken_;
};

TEST_F(LocalDriverTest, StartedAgentAnswersOnTheContainerAddress) {
  ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
  std::string addr = "127.77." + std::to_string(vmid_ / 256) + "." + std::to_string(vmid_ % 256);
  EXPECT_EQ(*driver_->address(vmid_, 5s), addr);
  auto h = http::request("GET", "http://" + addr + ":18888/health");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["ok"], true);

  auto st = driver_->status(vmid_);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, PowerState::kRunning);
  EXPECT_EQ(st->address, addr);

  pid_t pid = *driver_->agent_pid(vmid_);
  std::string cmd = read_proc(pid, "cmdline");
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  EXPECT_NE(cmd.find("--root " + cdir(vmid_) + " "), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("--listen " + addr + ":18888"), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("--vmid " + std::to_string(vmid_)), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("--dev-user -"), std::string::npos) << cmd;
  // Its own session: the API's terminal and process group never reach it.
  EXPECT_EQ(getsid(pid), pid);
  EXPECT_NE(getsid(pid), getsid(0));
  // Authenticated routes need a token minted for this vmid.
  EXPECT_EQ(http::request("GET", url(vmid_, "/status"))->status, 401);
  EXPECT_EQ(http::request("GET", url(vmid_, "/status"), bearer_from(keys_, vmid_, "GET", "/status"))
                ->status,
            200);
  // The record and the agent's log.
  auto rec = parse_record(*fs::read_file(cdir(vmid_) + "/zlh-local.json"));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->agent_pid, pid);
  EXPECT_EQ(rec->agent_start_time, *shim::proc_start_time(pid));
  EXPECT_NE(fs::read_file(cdir(vmid_) + "/var/log/zlh-agent.log")->find("agent started"),
            std::string::npos);
}

// CPU time of `pid` in ns, read independently of the driver's sum.
uint64_t cpu_ns_of(pid_t pid) {
  auto u = parse_proc_stat(read_proc(pid, "stat"));
  return u ? u->cpu_ticks * (1'000'000'000ull / uint64_t(::sysconf(_SC_CLK_TCK))) : 0;
}

// Live stats (Driver::sample): a process of the container burning a core
// shows in the container's CPU time (what it really got: this machine is
// shared, so not a full core); a stopped or missing container is absent
// from the batch; net and disk are not measured by this driver (absent, not
// zero).
TEST_F(LocalDriverTest, SampleSumsTheContainersProcesses) {
  ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
  pid_t burner = ::fork();
  ASSERT_GE(burner, 0);
  if (burner == 0) {
    if (::chdir(cdir(vmid_).c_str()) != 0) ::_exit(1);
    ::execl("/bin/sh", "sh", "-c", "while :; do :; done", nullptr);
    ::_exit(1);
  }
  const int missing = pick_vmid();
  const int other = pick_vmid();  // sampled in the same batch: its own processes only
  ASSERT_NO_FATAL_FAILURE(create_and_start(other));
  // Until the burner has exec'd in its directory, it is not the container's.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (read_proc(burner, "cmdline").find("while") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  const uint64_t burner_a = cpu_ns_of(burner);
  auto first = driver_->sample({vmid_, missing, other});
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->size(), 2u);
  const RawCounters a = first->at(vmid_);
  EXPECT_EQ(a.cores, 1);
  EXPECT_EQ(a.memory_max, 512ull << 20);
  EXPECT_GT(a.memory_bytes, 0u);
  EXPECT_GE(a.pids.value_or(0), 2u);  // the agent and the burner at least
  EXPECT_FALSE(a.net_rx);
  EXPECT_FALSE(a.disk_bytes);
  std::this_thread::sleep_for(1s);  // let it burn: the measured interval
  auto b = driver_->sample({vmid_, other});
  const uint64_t burner_b = cpu_ns_of(burner);
  ::kill(burner, SIGKILL);
  ::waitpid(burner, nullptr, 0);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->count(vmid_), 1u);
  const double secs = std::chrono::duration<double>(b->at(vmid_).at - a.at).count();
  const double cores = double(b->at(vmid_).cpu_ns - a.cpu_ns) / 1e9 / secs;
  const double burner_cores = double(burner_b - burner_a) / 1e9 / secs;
  EXPECT_GT(burner_cores, 0.2);  // it did run
  // The sum holds the burner (clock-tick granularity: 10 ms each way) and
  // not much else (the idle agent).
  EXPECT_GT(cores, burner_cores - 0.05);
  EXPECT_LT(cores, burner_cores + 0.3);
  ASSERT_EQ(b->count(other), 1u);
  const double other_cores =
      double(b->at(other).cpu_ns - first->at(other).cpu_ns) / 1e9 / secs;  // an idle agent
  EXPECT_LT(other_cores, 0.3);
  ASSERT_TRUE(driver_->stop(vmid_, 10s));
  auto after = driver_->sample({vmid_});
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
}

TEST_F(LocalDriverTest, StartIsIdempotentAndARestartedApiFindsTheSameAgent) {
  ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
  pid_t pid = *driver_->agent_pid(vmid_);
  ASSERT_TRUE(driver_->start(vmid_));
  ASSERT_TRUE(driver_->start(vmid_));
  EXPECT_EQ(*driver_->agent_pid(vmid_), pid);

  // A new driver over the same data directory: what an API restart sees.
  auto second = open_driver();
  ASSERT_TRUE(second);
  auto st = second->status(vmid_);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, PowerState::kRunning);
  EXPECT_EQ(*second->agent_pid(vmid_), pid);
  ASSERT_TRUE(second->create(vmid_, spec_));  // a retried create step
  ASSERT_TRUE(second->start(vmid_));          // a retried start step
  EXPECT_EQ(*second->agent_pid(vmid_), pid);
  EXPECT_TRUE(second->address(vmid_, 5s));
  int agents = 0;
  for (pid_t p : leftovers(vmid_))
    agents += read_proc(p, "cmdline").find("zlh-agent") != std::string::npos;
  EXPECT_EQ(agents, 1) << describe(leftovers(vmid_));
}

TEST_F(LocalDriverTest, ConcurrentStartsStartOneAgent) {
  ASSERT_TRUE(driver_->create(vmid_, spec_));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ok += bool(driver_->start(vmid_)); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  ASSERT_TRUE(driver_->address(vmid_, 20s));
  EXPECT_EQ(leftovers(vmid_).size(), 1u) << describe(leftovers(vmid_));
}

TEST_F(LocalDriverTest, AgentOutlivesAnApiKilledWithSigkill) {
  auto r = run_command({bin_dir() + "/local_driver_helper", data_, bin_dir() + "/zlh-agent",
                        std::to_string(vmid_), keys_ + "/api.pub"});
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  pid_t pid = pid_t(std::stol(r.out));
  ASSERT_TRUE(running(pid));
  EXPECT_NE(getsid(pid), getsid(0));
  // Its parent died; it still serves, and the next API finds it.
  auto st = driver_->status(vmid_);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, PowerState::kRunning);
  EXPECT_EQ(*driver_->agent_pid(vmid_), pid);
  ASSERT_TRUE(driver_->start(vmid_));
  EXPECT_EQ(*driver_->agent_pid(vmid_), pid);
  EXPECT_TRUE(driver_->address(vmid_, 5s));
  // Stopping an agent that is not our child (init adopted it) works too.
  ASSERT_TRUE(driver_->stop(vmid_, 10s));
  EXPECT_FALSE(running(pid));
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kStopped);
  EXPECT_TRUE(leftovers(vmid_).empty()) << describe(leftovers(vmid_));
}

TEST_F(LocalDriverTest, UnrecordedAgentIsAdoptedNotDuplicated) {
  // The API died between spawning the agent and recording it.
  ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
  pid_t pid = *driver_->agent_pid(vmid_);
  auto rec = parse_record(*fs::read_file(cdir(vmid_) + "/zlh-local.json"));
  rec->agent_pid = 0;
  rec->agent_start_time = 0;
  ASSERT_TRUE(fs::write_file_atomic(cdir(vmid_) + "/zlh-local.json", to_json(*rec)));
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kStopped);
  ASSERT_TRUE(driver_->start(vmid_));
  EXPECT_EQ(*driver_->agent_pid(vmid_), pid);
  EXPECT_EQ(leftovers(vmid_).size(), 1u) << describe(leftovers(vmid_));
}

TEST_F(LocalDriverTest, StopEndsTheAgentAndIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
  pid_t pid = *driver_->agent_pid(vmid_);
  auto s = driver_->stop(vmid_, 10s);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(running(pid));
  EXPECT_EQ(proc_state(pid), '\0');  // our child: reaped, not left a zombie
  EXPECT_TRUE(leftovers(vmid_).empty()) << describe(leftovers(vmid_));
  auto st = driver_->status(vmid_);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, PowerState::kStopped);
  EXPECT_EQ(st->address, *local_address(vmid_));
  EXPECT_FALSE(http::request("GET", url(vmid_, "/health"), {}, {}, 1s));
  auto a = driver_->address(vmid_, 5s);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, codes::kUnavailable);
  EXPECT_TRUE(driver_->stop(vmid_, 10s));  // again: nothing to do
  EXPECT_FALSE(driver_->agent_pid(vmid_));

  // And back up: a new agent on the same address, with the same data.
  ASSERT_TRUE(driver_->start(vmid_));
  ASSERT_TRUE(driver_->address(vmid_, 20s));
  EXPECT_NE(*driver_->agent_pid(vmid_), pid);
  ASSERT_TRUE(driver_->stop(vmid_, 10s));
  EXPECT_TRUE(leftovers(vmid_).empty()) << describe(leftovers(vmid_));
}

TEST_F(LocalDriverTest, DestroyRemovesEverythingAndIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
  pid_t pid = *driver_->agent_pid(vmid_);
  // Something that must not be followed out of the container.
  std::string outside = dir_ + "/outside";
  ASSERT_TRUE(fs::make_dirs(outside));
  ASSERT_TRUE(fs::write_file_atomic(outside + "/keep", "x"));
  std::filesystem::create_directory_symlink(outside, cdir(vmid_) + "/escape");

  auto d = driver_->destroy(vmid_, 10s);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_FALSE(running(pid));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(cdir(vmid_))));
  EXPECT_TRUE(std::filesystem::exists(outside + "/keep"));
  for (auto& e : std::filesystem::directory_iterator(data_ + "/containers"))
    ADD_FAILURE() << "left in containers/: " << e.path();
  EXPECT_TRUE(leftovers(vmid_).empty()) << describe(leftovers(vmid_));
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kMissing);
  EXPECT_EQ(driver_->status(vmid_)->address, "");

  EXPECT_TRUE(driver_->destroy(vmid_, 10s));  // missing: done already
  auto stop = driver_->stop(vmid_, 1s);
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().code, codes::kNotFound);
  auto start = driver_->start(vmid_);
  ASSERT_FALSE(start);
  EXPECT_EQ(start.error().code, codes::kNotFound);
  auto addr = driver_->address(vmid_, 1s);
  ASSERT_FALSE(addr);
  EXPECT_EQ(addr.error().code, codes::kNotFound);
  // The vmid can be used again, from scratch.
  ASSERT_TRUE(driver_->create(vmid_, spec_));
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kStopped);
  EXPECT_FALSE(std::filesystem::exists(cdir(vmid_) + "/escape"));
}

TEST_F(LocalDriverTest, CreateAndConfigureAreIdempotentAndCheckTheirInput) {
  ASSERT_TRUE(driver_->create(vmid_, spec_));
  ASSERT_TRUE(driver_->create(vmid_, spec_));
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kStopped);
  ContainerSpec game = spec_;
  game.type = ContainerType::kGame;
  auto c = driver_->create(vmid_, game);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, codes::kConflict);
  EXPECT_EQ(driver_->configure(vmid_, game).error().code, codes::kConflict);

  ContainerSpec bigger = spec_;
  bigger.memory_mb = 4096;
  bigger.cpu_cores = 4;
  ASSERT_TRUE(driver_->configure(vmid_, bigger));
  ASSERT_TRUE(driver_->configure(vmid_, bigger));
  auto rec = parse_record(*fs::read_file(cdir(vmid_) + "/zlh-local.json"));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->spec.memory_mb, 4096);
  EXPECT_EQ(rec->spec.cpu_cores, 4);

  int other = pick_vmid();
  EXPECT_EQ(driver_->configure(other, spec_).error().code, codes::kNotFound);
  EXPECT_EQ(driver_->status(other)->state, PowerState::kMissing);
  for (int bad : {0, 65536, -3}) {
    EXPECT_EQ(driver_->create(bad, spec_).error().field, "vmid");
    EXPECT_EQ(driver_->status(bad).error().code, codes::kInvalid);
  }
  ContainerSpec nokey = spec_;
  nokey.agent.api_public_key_file = dir_ + "/missing.pub";
  auto r = driver_->create(other, nokey);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "api_public_key_file");
  EXPECT_EQ(driver_->status(other)->state, PowerState::kMissing);  // nothing half-made
}

TEST_F(LocalDriverTest, StartRefusesAnAddressHeldByAForeignProcess) {
  ASSERT_TRUE(driver_->create(vmid_, spec_));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kAgentPort);
  ::inet_pton(AF_INET, local_address(vmid_)->c_str(), &sa.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  auto r = driver_->start(vmid_);
  ::close(fd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kConflict) << r.error().message;
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kStopped);
  EXPECT_TRUE(leftovers(vmid_).empty());
}

TEST_F(LocalDriverTest, AddressReportsAnAgentThatDiedAtOnce) {
  // A catalog key that is not a key: the agent refuses to start.
  std::string bad = dir_ + "/bad.pub";
  ASSERT_TRUE(fs::write_file_atomic(bad, "not a key\n"));
  spec_.agent.catalog_public_key_file = bad;
  ASSERT_TRUE(driver_->create(vmid_, spec_));
  ASSERT_TRUE(driver_->start(vmid_));
  auto t0 = std::chrono::steady_clock::now();
  auto a = driver_->address(vmid_, 30s);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, codes::kUnavailable);
  EXPECT_NE(a.error().message.find("catalog-key"), std::string::npos) << a.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // no waiting out the deadline
  EXPECT_EQ(driver_->status(vmid_)->state, PowerState::kStopped);
}

// A dev container with work running: code-server (a supervised service under
// its zlh-shim) and a console shell with a child that left its process group.
class LocalDriverServiceTest : public LocalDriverTest {
 protected:
  void SetUp() override {
    LocalDriverTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = dir_ + "/store";
    ASSERT_EQ(zlhctl({"catalog", "init", "--store", store_}).exit_code, 0);
    std::string tool = dir_ + "/tool.tar.gz";
    write_archive(tool,
                  {ArchiveEntry::file("t/bin/tool", "#!/bin/sh\necho \"tool 1.0.0\"\n", 0755)});
    add({"--kind", "runtime", "--id", "tool", "--version", "1.0.0", "--file", tool, "--channel",
         "stable", "--strip", "1", "--bin", "bin", "--verify", "bin/tool --version", "--expect",
         "tool 1.0.0"});
    std::string cs = dir_ + "/code-server.tar.gz";
    write_archive(
        cs, {ArchiveEntry::file(
                 "cs/bin/code-server",
                 "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/../lib/standin.py\" \"$@\"\n", 0755),
             ArchiveEntry::file("cs/lib/standin.py",
                                *fs::read_file(fixture("code_server_standin.py")), 0644)});
    add({"--kind", "addon", "--id", "code-server", "--version", "4.96.4", "--file", cs, "--channel",
         "stable", "--strip", "1", "--port", "6000", "--health", "/healthz", "--launch",
         "bin/code-server --bind-addr {bind} --auth none --disable-telemetry "
         "--disable-update-check "
         "--user-data-dir {data} {workspace}"});
    ASSERT_EQ(
        zlhctl({"catalog", "sign", "--store", store_, "--key", keys_ + "/catalog.key"}).exit_code,
        0);
    spec_.agent.artifacts_url = "file://" + store_;
  }
  void add(std::vector<std::string> args) {
    args.insert(args.begin(), {"catalog", "add", "--store", store_});
    auto r = zlhctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }
  json agent_status() {
    auto r =
        http::request("GET", url(vmid_, "/status"), bearer_from(keys_, vmid_, "GET", "/status"));
    return r && r->status == 200 ? json::parse(r->body) : json();
  }

  struct Running {
    std::vector<shim::ShimStatus> shims;  // from run/zlh/*.json
    pid_t escaped = 0;                    // `setsid sleep` started from the console
  };

  // Provisions code-server, opens a console and starts a process that leaves
  // the shell's process group and session.
  void provision(Running& out) {
    ASSERT_NO_FATAL_FAILURE(create_and_start(vmid_));
    json payload = {{"vmid", vmid_},
                    {"container_type", "dev"},
                    {"runtime", "tool"},
                    {"version", "1.0.0"},
                    {"enable_code_server", true}};
    auto cfg = http::request("POST", url(vmid_, "/config"),
                             bearer_from(keys_, vmid_, "POST", "/config"), payload.dump());
    ASSERT_TRUE(cfg);
    ASSERT_EQ(cfg->status, 202) << cfg->body;
    ASSERT_TRUE(eventually(
        [&] {
          auto s = agent_status();
          return s.is_object() && (s["state"] == "running" || s["state"] == "error");
        },
        120s));
    ASSERT_EQ(agent_status()["state"], "running") << agent_status().dump();
    auto h = http::request("GET", "http://" + *local_address(vmid_) + ":6000/healthz");
    ASSERT_TRUE(h && h->status == 200);  // code-server on the container's address

    auto ws = http::WsClient::connect("ws" + url(vmid_, "/console").substr(4),
                                      bearer_from(keys_, vmid_, "GET", "/console"));
    ASSERT_TRUE(ws) << ws.error().message;
    // setsid forks when it leads a process group (a background job does), so
    // the escaped process reports its own pid.
    ASSERT_TRUE((*ws)->send("setsid sh -c 'echo $$ > escaped.pid; exec sleep 3001' &\n", true));
    std::string pid_file = cdir(vmid_) + "/home/dev/workspace/escaped.pid";
    ASSERT_TRUE(eventually(
        [&] {
          auto t = fs::read_file(pid_file);
          return t && t->find('\n') != std::string::npos;
        },
        15s));
    out.escaped = pid_t(std::stol(*fs::read_file(pid_file)));
    (*ws)->close();
    ASSERT_TRUE(eventually([&] { return read_proc(out.escaped, "cmdline").starts_with("sleep"); }));
    EXPECT_EQ(getsid(out.escaped), out.escaped);  // out of the shell's session and group

    for (auto& e : std::filesystem::directory_iterator(cdir(vmid_) + "/run/zlh")) {
      if (e.path().extension() != ".json") continue;
      auto st = shim::parse_status(*fs::read_file(e.path().string()));
      if (st && st->state == shim::ShimState::kRunning) out.shims.push_back(*st);
    }
    ASSERT_GE(out.shims.size(), 2u);  // code-server and the console shell
    for (auto& s : out.shims) {
      EXPECT_TRUE(running(s.shim_pid)) << s.name;
      EXPECT_TRUE(running(s.pid)) << s.name;
    }
  }

  void expect_all_gone(const Running& r) {
    for (auto& s : r.shims) {
      EXPECT_FALSE(running(s.shim_pid)) << s.name << " shim " << s.shim_pid;
      EXPECT_FALSE(running(s.pid)) << s.name << " service " << s.pid;
    }
    EXPECT_FALSE(running(r.escaped)) << "escaped process " << r.escaped;
    EXPECT_TRUE(leftovers(vmid_).empty()) << describe(leftovers(vmid_));
    EXPECT_FALSE(
        http::request("GET", "http://" + *local_address(vmid_) + ":6000/healthz", {}, {}, 1s));
  }

  std::string store_;
};

TEST_F(LocalDriverServiceTest, StopEndsShimsServicesAndEscapedProcesses) {
  Running r;
  ASSERT_NO_FATAL_FAILURE(provision(r));
  auto s = driver_->stop(vmid_, 20s);
  ASSERT_TRUE(s) << s.error().message;
  expect_all_gone(r);
  // Graceful: code-server ended by its stop policy, not SIGKILL.
  auto cs = shim::parse_status(*fs::read_file(cdir(vmid_) + "/run/zlh/code-server.json"));
  ASSERT_TRUE(cs);
  EXPECT_EQ(cs->state, shim::ShimState::kExited);
  EXPECT_EQ(cs->graceful, std::optional<bool>(true));

  // A later start brings the container's wanted services back.
  ASSERT_TRUE(driver_->start(vmid_));
  ASSERT_TRUE(driver_->address(vmid_, 20s));
  EXPECT_TRUE(eventually(
      [&] {
        auto h =
            http::request("GET", "http://" + *local_address(vmid_) + ":6000/healthz", {}, {}, 1s);
        return h && h->status == 200;
      },
      30s));
  ASSERT_TRUE(driver_->destroy(vmid_, 20s));
  EXPECT_TRUE(leftovers(vmid_).empty()) << describe(leftovers(vmid_));
}

TEST_F(LocalDriverServiceTest, StopAfterTheAgentCrashedStillEndsTheServices) {
  Running r;
  ASSERT_NO_FATAL_FAILURE(provision(r));
  pid_t agent = *driver_->agent_pid(vmid_);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return driver_->status(vmid_)->state == PowerState::kStopped; }));
  for (auto& s : r.shims) EXPECT_TRUE(running(s.pid)) << s.name;  // services outlive the agent
  auto s = driver_->stop(vmid_, 20s);
  ASSERT_TRUE(s) << s.error().message;
  expect_all_gone(r);
}

TEST_F(LocalDriverServiceTest, DestroyWithServicesRunning) {
  Running r;
  ASSERT_NO_FATAL_FAILURE(provision(r));
  auto d = driver_->destroy(vmid_, 20s);
  ASSERT_TRUE(d) << d.error().message;
  expect_all_gone(r);
  EXPECT_FALSE(std::filesystem::exists(cdir(vmid_)));
}

}  // namespace
}  // namespace zlh::testing
