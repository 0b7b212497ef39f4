#include "api/drivers/local/local_driver.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "api/drivers/local/local_shutdown.hpp"
#include "api/drivers/local/local_stats.hpp"
#include "api/drivers/local/process_handle.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "base/remove_tree.hpp"
#include "http/client.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::api::drivers {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kComponent = "driver";
constexpr const char* kRecordName = "zlh-local.json";
constexpr const char* kAgentLog = "var/log/zlh-agent.log";

const std::string& boot_id() {
  static const std::string id = [] {
    std::string s = fs::read_file("/proc/sys/kernel/random/boot_id", 256).value_or("");
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return id;
}

bool exists_nofollow(const std::string& path, struct stat* out = nullptr) {
  struct stat st {};
  bool ok = ::lstat(path.c_str(), &st) == 0;
  if (ok && out) *out = st;
  return ok;
}

// The record's agent when it is that very process and still runs. A zombie
// child of ours is reaped on the way.
std::optional<ProcessHandle> live_agent(const LocalRecord& r) {
  if (r.agent_pid <= 0 || r.agent_start_time == 0 || r.boot_id != boot_id()) return std::nullopt;
  auto h = ProcessHandle::open(r.agent_pid, r.agent_start_time, /*allow_exited=*/true);
  if (!h) return std::nullopt;
  if (!h->alive()) {
    h->reap_if_child();
    return std::nullopt;
  }
  return std::move(*h);
}

// Checks that nothing listens on addr:port (a foreign process there would
// answer our health checks, or make the agent fail to bind). SO_REUSEADDR
// like the agent's own listener, so connections in TIME_WAIT do not count.
Result<void> check_port_free(const std::string& addr, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Error::from_errno("socket", errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = errno;
  ::close(fd);
  if (rc == 0) return {};
  if (err == EADDRINUSE)
    return fail(codes::kConflict, addr + ":" + std::to_string(port) +
                                      " is in use by a process that is not this container's agent");
  return fail(Error::from_errno("bind " + addr + ":" + std::to_string(port), err));
}

Result<void> check_files(const ContainerSpec& spec) {
  if (::access(spec.agent.api_public_key_file.c_str(), R_OK) != 0)
    return fail(
        Error::invalid("api_public_key_file", "cannot read " + spec.agent.api_public_key_file));
  if (!spec.agent.catalog_public_key_file.empty() &&
      ::access(spec.agent.catalog_public_key_file.c_str(), R_OK) != 0)
    return fail(Error::invalid("catalog_public_key_file",
                               "cannot read " + spec.agent.catalog_public_key_file));
  return {};
}

// A create or configure request: its vmid, its spec and the files it names.
Result<void> check_request(int vmid, const ContainerSpec& spec) {
  if (auto r = check_vmid(vmid); !r) return r;
  if (auto r = check_spec(spec); !r) return r;
  return check_files(spec);
}

bool same_spec(const ContainerSpec& a, const ContainerSpec& b) {
  return a.type == b.type && a.memory_mb == b.memory_mb && a.cpu_cores == b.cpu_cores &&
         a.agent.api_public_key_file == b.agent.api_public_key_file &&
         a.agent.catalog_public_key_file == b.agent.catalog_public_key_file &&
         a.agent.artifacts_url == b.agent.artifacts_url && a.agent.dev_user == b.agent.dev_user;
}

}  // namespace

Result<std::string> local_address(int vmid) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  return "127.77." + std::to_string(vmid / 256) + "." + std::to_string(vmid % 256);
}

Result<std::unique_ptr<LocalDriver>> LocalDriver::open(LocalDriverOptions opts) {
  if (opts.data_dir.empty()) return fail(Error::invalid("data_dir", "data_dir is empty"));
  if (opts.agent_bin.empty()) return fail(Error::invalid("agent_bin", "agent_bin is empty"));
  std::string containers = fs::join(opts.data_dir, "containers");
  // Traversable but not listable: a dev user (root API, --dev-user dev)
  // must reach its home below it.
  if (auto r = fs::make_dirs(containers, 0711); !r) return fail(r.error().wrap("local driver"));
  // /proc shows canonical paths; the process sweep compares against them.
  char buf[PATH_MAX];
  if (!::realpath(containers.c_str(), buf))
    return fail(Error::from_errno("local driver: realpath " + containers, errno));
  return std::unique_ptr<LocalDriver>(new LocalDriver(std::move(opts), buf));
}

LocalDriver::LocalDriver(LocalDriverOptions opts, std::string containers_dir)
    : opts_(std::move(opts)), containers_dir_(std::move(containers_dir)) {}

std::string LocalDriver::container_dir(int vmid) const {
  return containers_dir_ + "/" + std::to_string(vmid);
}

std::mutex& LocalDriver::lock_for(int vmid) {
  std::lock_guard lk(locks_mu_);
  auto& m = locks_[vmid];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

Result<std::optional<LocalRecord>> LocalDriver::load(int vmid) const {
  auto text = fs::read_file(container_dir(vmid) + "/" + kRecordName, 1 << 20);
  if (!text) {
    if (text.error().is(codes::kNotFound)) return std::optional<LocalRecord>{};
    return fail(text.error().wrap("read record"));
  }
  auto r = parse_record(*text);
  if (!r) return fail(codes::kIo, "read record: " + r.error().message);
  if (r->vmid != vmid)
    return fail(codes::kIo, "read record: it is for vmid " + std::to_string(r->vmid));
  return std::optional<LocalRecord>(std::move(*r));
}

Result<void> LocalDriver::save(const LocalRecord& r) const {
  if (auto w = fs::write_file_atomic(container_dir(r.vmid) + "/" + kRecordName, to_json(r), 0600);
      !w)
    return fail(w.error().wrap("write record"));
  return {};
}

std::string LocalDriver::agent_log_tail(int vmid) const {
  std::string path = container_dir(vmid) + "/" + kAgentLog;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return "";
  struct stat st {};
  std::string buf;
  if (::fstat(fd, &st) == 0) {
    off_t from = st.st_size > 2048 ? st.st_size - 2048 : 0;
    buf.resize(size_t(st.st_size - from));
    ssize_t n = ::pread(fd, buf.data(), buf.size(), from);
    buf.resize(n > 0 ? size_t(n) : 0);
  }
  ::close(fd);
  while (!buf.empty() && buf.back() == '\n') buf.pop_back();
  auto nl = buf.rfind('\n');
  return nl == std::string::npos ? buf : buf.substr(nl + 1);
}

Result<void> LocalDriver::create(int vmid, const ContainerSpec& spec) {
  const std::string ctx = "create " + std::to_string(vmid);
  if (auto r = check_request(vmid, spec); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  auto existing = load(vmid);
  if (!existing) return fail(existing.error().wrap(ctx));
  if (*existing) {
    if ((*existing)->spec.type != spec.type)
      return fail(codes::kConflict, ctx + ": a " + std::string(to_string((*existing)->spec.type)) +
                                        " container exists");
    return {};
  }
  std::string dir = container_dir(vmid);
  struct stat st {};
  if (exists_nofollow(dir, &st) && !S_ISDIR(st.st_mode))
    return fail(codes::kConflict, ctx + ": " + dir + " exists and is not a directory");
  // A half-done create left the directory: completing it is fine.
  if (auto r = fs::make_dirs(fs::join(dir, "var/log"), 0755); !r) return fail(r.error().wrap(ctx));
  LocalRecord rec;
  rec.vmid = vmid;
  rec.spec = spec;
  rec.created_at = log::now_rfc3339();
  // The record last: a container exists once its record does.
  if (auto r = save(rec); !r) return fail(r.error().wrap(ctx));
  log::info(kComponent, "container created", {{"vmid", vmid}, {"type", spec.type}});
  return {};
}

Result<void> LocalDriver::configure(int vmid, const ContainerSpec& spec) {
  const std::string ctx = "configure " + std::to_string(vmid);
  if (auto r = check_request(vmid, spec); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  auto rec = load_existing(vmid, ctx);
  if (!rec) return fail(rec.error());
  if (rec->spec.type != spec.type)
    return fail(codes::kConflict, ctx + ": the type of a container cannot change");
  if (same_spec(rec->spec, spec)) return {};
  rec->spec = spec;
  if (auto r = save(*rec); !r) return fail(r.error().wrap(ctx));
  log::info(kComponent, "container configured",
            {{"vmid", vmid}, {"memory_mb", spec.memory_mb}, {"cpu_cores", spec.cpu_cores}});
  return {};
}

Result<LocalRecord> LocalDriver::load_existing(int vmid, const std::string& ctx) const {
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error().wrap(ctx));
  if (!*loaded) return fail(codes::kNotFound, ctx + ": no such container");
  return std::move(**loaded);
}

namespace {

// What start() needs in place: the agent and the shim beside it, the spec's
// files, the agent's address free and the log directory.
Result<void> check_startable(const std::string& agent_bin, const LocalRecord& rec,
                             const std::string& dir, const std::string& addr,
                             const std::string& ctx) {
  std::string bin_dir = agent_bin.substr(0, agent_bin.rfind('/') + 1);
  if (::access(agent_bin.c_str(), X_OK) != 0)
    return fail(codes::kInternal, ctx + ": agent binary " + agent_bin + " is not executable");
  if (::access((bin_dir + "zlh-shim").c_str(), X_OK) != 0)
    return fail(codes::kInternal, ctx + ": zlh-shim is missing beside " + agent_bin);
  if (auto r = check_files(rec.spec); !r) return fail(r.error().wrap(ctx));
  if (auto r = check_port_free(addr, kAgentPort); !r) return fail(r.error().wrap(ctx));
  if (auto r = fs::make_dirs(fs::join(dir, "var/log"), 0755); !r) return fail(r.error().wrap(ctx));
  return {};
}

// How the container's agent is run: its flags, a clean environment, its
// own session, output to `log_fd`.
process::SpawnOptions agent_spawn_options(const std::string& agent_bin, const LocalRecord& rec,
                                          const std::string& dir, const std::string& addr,
                                          int log_fd) {
  const AgentConfig& a = rec.spec.agent;
  process::SpawnOptions so;
  so.argv = {agent_bin,
             "--root",
             dir,
             "--listen",
             addr + ":" + std::to_string(kAgentPort),
             "--vmid",
             std::to_string(rec.vmid),
             "--api-key",
             a.api_public_key_file};
  if (!a.catalog_public_key_file.empty())
    so.argv.insert(so.argv.end(), {"--catalog-key", a.catalog_public_key_file});
  if (!a.artifacts_url.empty()) so.argv.insert(so.argv.end(), {"--artifacts", a.artifacts_url});
  so.argv.insert(so.argv.end(), {"--dev-user", a.dev_user});
  // Nothing of the API's environment leaks in; ZLH_CONTAINER_ROOT marks the
  // agent as the container's for the process sweep in stop().
  so.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
            "HOME=" + fs::join(dir, "home/dev"), "ZLH_CONTAINER_ROOT=" + dir};
  so.cwd = dir;
  // Its own session: no controlling terminal, so nothing the API's terminal
  // or process group receives (SIGHUP, ^C) reaches it.
  so.new_session = true;
  so.stdout_fd = log_fd;
  so.stderr_fd = log_fd;
  return so;
}

}  // namespace

Result<bool> LocalDriver::adopt_orphan(LocalRecord& rec, const std::string& dir,
                                       const std::string& ctx) {
  auto orphan = find_agent(dir);
  if (!orphan) return false;
  rec.agent_pid = orphan->pid();
  rec.agent_start_time = orphan->start_time();
  rec.boot_id = boot_id();
  if (auto r = save(rec); !r) return fail(r.error().wrap(ctx));
  log::info(kComponent, "adopted unrecorded agent", {{"vmid", rec.vmid}, {"pid", orphan->pid()}});
  return true;
}

Result<void> LocalDriver::record_agent(LocalRecord& rec, pid_t pid, const std::string& ctx) {
  auto handle = ProcessHandle::open(pid);
  uint64_t start_time = handle ? handle->start_time() : shim::proc_start_time(pid).value_or(0);
  rec.agent_pid = pid;
  rec.agent_start_time = start_time;
  rec.boot_id = boot_id();
  Result<void> saved =
      start_time == 0 ? fail(codes::kIo, "cannot read the agent's start time") : save(rec);
  if (!saved) {
    // An agent nobody can find again would hold the address forever.
    ::kill(pid, SIGKILL);
    (void)process::wait_exit(pid);
    return fail(saved.error().wrap(ctx));
  }
  return {};
}

Result<void> LocalDriver::start(int vmid) {
  const std::string ctx = "start " + std::to_string(vmid);
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  auto loaded = load_existing(vmid, ctx);
  if (!loaded) return fail(loaded.error());
  LocalRecord rec = std::move(*loaded);
  if (live_agent(rec)) return {};
  const std::string dir = container_dir(vmid);
  // An agent started by an API that died before recording it: adopt it
  // rather than fail on its address or start a second one.
  auto adopted = adopt_orphan(rec, dir, ctx);
  if (!adopted) return fail(adopted.error());
  if (*adopted) return {};

  const std::string addr = *local_address(vmid);
  if (auto r = check_startable(opts_.agent_bin, rec, dir, addr, ctx); !r) return r;
  std::string log_path = fs::join(dir, kAgentLog);
  int log_fd =
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (log_fd < 0) return fail(Error::from_errno(ctx + ": open " + log_path, errno));
  auto pid = process::spawn(agent_spawn_options(opts_.agent_bin, rec, dir, addr, log_fd));
  ::close(log_fd);
  if (!pid) return fail(pid.error().wrap(ctx));
  if (auto r = record_agent(rec, *pid, ctx); !r) return r;
  log::info(kComponent, "agent started",
            {{"vmid", vmid}, {"pid", *pid}, {"listen", addr + ":" + std::to_string(kAgentPort)}});
  return {};
}

Result<std::string> LocalDriver::address(int vmid, std::chrono::milliseconds timeout) {
  const std::string ctx = "address " + std::to_string(vmid);
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  // No vmid lock: this waits, and must neither wait for nor delay a stop.
  auto loaded = load_existing(vmid, ctx);
  if (!loaded) return fail(loaded.error());
  auto agent = live_agent(*loaded);
  if (!agent) {
    // Started and never stopped: the agent died on its own; say why.
    std::string tail = loaded->agent_pid != 0 ? agent_log_tail(vmid) : "";
    if (!tail.empty())
      return fail(codes::kUnavailable, ctx + ": the agent exited (last log line: " + tail + ")");
    return fail(codes::kUnavailable, ctx + ": the container is stopped");
  }

  const std::string addr = *local_address(vmid);
  const auto deadline = Clock::now() + timeout;
  auto delay = 20ms;
  for (;;) {
    auto probe = std::min(opts_.health_probe_timeout, std::max(left_until(deadline), 50ms));
    if (agent_healthy(addr, probe)) return addr;
    if (!agent->alive()) {
      agent->reap_if_child();
      std::string tail = agent_log_tail(vmid);
      return fail(codes::kUnavailable, ctx + ": the agent exited" +
                                           (tail.empty() ? "" : " (last log line: " + tail + ")"));
    }
    if (Clock::now() >= deadline)
      return fail(codes::kTimeout, ctx + ": the agent at " + addr + " did not answer /health in " +
                                       std::to_string(timeout.count()) + " ms");
    // Sleeps, but wakes at once when the agent dies.
    agent->wait_exit(std::min<std::chrono::milliseconds>(delay, left_until(deadline)));
    delay = std::min<std::chrono::milliseconds>(delay * 2, 250ms);
  }
}

Result<void> LocalDriver::stop(int vmid, std::chrono::milliseconds timeout) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  return stop_locked(vmid, timeout);
}

Result<void> LocalDriver::stop_locked(int vmid, std::chrono::milliseconds timeout) {
  const std::string ctx = "stop " + std::to_string(vmid);
  const std::string dir = container_dir(vmid);
  struct stat st {};
  if (!exists_nofollow(dir, &st) || !S_ISDIR(st.st_mode))
    return fail(codes::kNotFound, ctx + ": no such container");
  const auto started = Clock::now();
  const auto deadline = started + timeout;

  // A broken record must not keep the container running: the sweep below
  // still finds the agent (its cwd and environment are in the directory).
  auto loaded = load(vmid);
  if (!loaded)
    log::warn(kComponent, "stop without a readable record",
              {{"vmid", vmid}, {"error", loaded.error().message}});
  std::optional<LocalRecord> rec = loaded ? std::move(*loaded) : std::nullopt;

  std::optional<ProcessHandle> agent;
  if (rec) agent = live_agent(*rec);
  ShutdownOptions so{opts_.agent_stop_timeout, opts_.kill_grace};
  if (auto r = end_container(dir, vmid, std::move(agent), deadline, so); !r)
    return fail(r.error().wrap(ctx));

  if (rec && rec->agent_pid != 0) {
    rec->agent_pid = 0;
    rec->agent_start_time = 0;
    if (auto r = save(*rec); !r) return fail(r.error().wrap(ctx));
  }
  log::info(
      kComponent, "container stopped",
      {{"vmid", vmid},
       {"duration_ms",
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()}});
  return {};
}

Result<void> LocalDriver::destroy(int vmid, std::chrono::milliseconds stop_timeout) {
  const std::string ctx = "destroy " + std::to_string(vmid);
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  const std::string dir = container_dir(vmid);
  // Renamed out of the way before the (long, interruptible) removal, so a
  // half-removed container never looks like one; a retry finishes it.
  const std::string trash = containers_dir_ + "/.destroying-" + std::to_string(vmid);
  auto remove_trash = [&]() -> Result<void> {
    if (!exists_nofollow(trash)) return {};
    // An earlier destroy stopped everything before the rename; anything
    // found in there now is killed without ceremony.
    kill_all_inside(trash, vmid, opts_.kill_grace);
    auto r = fs::remove_tree(trash);
    if (!r && !r.error().is(codes::kNotFound)) return fail(r.error().wrap(ctx));
    return {};
  };

  struct stat st {};
  const bool existed = exists_nofollow(dir, &st) || exists_nofollow(trash);
  if (exists_nofollow(dir, &st)) {
    if (S_ISDIR(st.st_mode)) {
      if (auto r = stop_locked(vmid, stop_timeout); !r && !r.error().is(codes::kNotFound))
        return fail(r.error().wrap(ctx));
    }
    if (auto r = remove_trash(); !r) return r;
    if (::rename(dir.c_str(), trash.c_str()) != 0)
      return fail(Error::from_errno(ctx + ": rename " + dir, errno));
    (void)fs::fsync_dir(containers_dir_);
  }
  if (auto r = remove_trash(); !r) return r;
  if (existed) log::info(kComponent, "container destroyed", {{"vmid", vmid}});
  return {};
}

Result<ContainerStatus> LocalDriver::status(int vmid) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error().wrap("status " + std::to_string(vmid)));
  ContainerStatus s;
  if (!*loaded) return s;
  s.address = *local_address(vmid);
  s.node = "local";
  s.state = live_agent(**loaded) ? PowerState::kRunning : PowerState::kStopped;
  return s;
}

Result<VmidUse> LocalDriver::vmid_use(int vmid, std::string_view) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error().wrap("vmid " + std::to_string(vmid)));
  return *loaded ? VmidUse::kOurs : VmidUse::kFree;
}

Result<pid_t> LocalDriver::agent_pid(int vmid) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error());
  if (!*loaded) return fail(codes::kNotFound, "no container " + std::to_string(vmid));
  auto agent = live_agent(**loaded);
  if (!agent)
    return fail(codes::kNotFound, "the agent of " + std::to_string(vmid) + " does not run");
  return agent->pid();
}

Result<std::map<int, RawCounters>> LocalDriver::sample(const std::vector<int>& vmids) {
  std::vector<int> running;
  std::vector<LocalRecord> records;
  std::vector<std::string> dirs;
  for (int vmid : vmids) {
    if (!check_vmid(vmid)) continue;
    auto loaded = load(vmid);
    if (!loaded || !*loaded || !live_agent(**loaded)) continue;  // not running
    running.push_back(vmid);
    records.push_back(**loaded);
    dirs.push_back(container_dir(vmid));
  }
  auto procs = processes_inside_each(dirs);  // one /proc scan for the batch
  std::map<int, RawCounters> out;
  for (size_t i = 0; i < running.size(); ++i) {
    auto usage = tree_usage(procs[i]);
    RawCounters raw;
    raw.at = std::chrono::steady_clock::now();
    raw.cpu_ns = usage.cpu_ns;
    raw.cores = records[i].spec.cpu_cores;
    raw.memory_bytes = usage.memory_bytes;
    raw.memory_max = uint64_t(records[i].spec.memory_mb) << 20;
    raw.pids = usage.pids;
    out.emplace(running[i], raw);
  }
  return out;
}

}  // namespace zlh::api::drivers
