#include "api/drivers/lxc/lxc_driver.hpp"

#include <dirent.h>
#include <lxc/lxccontainer.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "api/drivers/lxc/lxc_host.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "base/remove_tree.hpp"
#include "http/client.hpp"

namespace zlh::api::drivers {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kAgentBinDir = "opt/zlh-agent/bin";

// One liblxc container handle for one call.
struct Ct {
  lxc_container* c = nullptr;
  Ct(const std::string& name, const std::string& lxcpath)
      : c(lxc_container_new(name.c_str(), lxcpath.c_str())) {}
  ~Ct() {
    if (c) lxc_container_put(c);
  }
  Ct(const Ct&) = delete;
  Ct& operator=(const Ct&) = delete;
};

// What create and configure both take from a spec (the hostname and the
// disk size are fixed at create).
void apply_spec(auto& r, const ContainerSpec& spec) {
  r.memory_mb = spec.memory_mb;
  r.cpu_cores = spec.cpu_cores;
  r.game_port = spec.game_port;
  r.api_key = spec.agent.api_public_key_file;
  r.catalog_key = spec.agent.catalog_public_key_file;
  r.artifacts = spec.agent.artifacts_url;
}

nlohmann::json to_json(const auto& r) {
  return {{"vmid", r.vmid},           {"type", r.type},
          {"hostname", r.hostname},   {"slot", r.slot},
          {"memory_mb", r.memory_mb}, {"cpu_cores", r.cpu_cores},
          {"disk_gb", r.disk_gb},     {"game_port", r.game_port},
          {"api_key", r.api_key},     {"catalog_key", r.catalog_key},
          {"artifacts", r.artifacts}, {"want_running", r.want_running}};
}

}  // namespace

LxcDriver::LxcDriver(LxcDriverOptions opts, SlotStore& slots, lxc::Ipv4Net dev, lxc::Ipv4Net game)
    : opts_(std::move(opts)),
      slots_(slots),
      dev_(dev),
      game_(game),
      lxcpath_(opts_.data_dir + "/lxc") {}

LxcDriver::~LxcDriver() {
  {
    std::lock_guard lk(checks_mu_);
    checks_stop_ = true;
  }
  checks_cv_.notify_all();
  if (checks_.joinable()) checks_.join();
}

Limits LxcDriver::limits() const {
  Limits l;
  l.disk_gb_default = opts_.disk_gb_default;
  l.disk_gb_max = opts_.disk_gb_max;
  l.disk_gb_min_code_server = opts_.disk_gb_min_code_server;
  return l;
}

std::mutex& LxcDriver::lock_for(int vmid) {
  std::lock_guard lk(locks_mu_);
  auto& m = locks_[vmid];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

Result<std::optional<LxcDriver::Record>> LxcDriver::load(int vmid) const {
  const std::string p = container_dir(vmid) + "/zlh-lxc.json";
  if (::access(p.c_str(), F_OK) != 0) return std::optional<Record>{};
  auto data = fs::read_file(p, 64 * 1024);
  if (!data) return fail(data.error());
  auto j = nlohmann::json::parse(*data, nullptr, false);
  if (!j.is_object()) return fail(codes::kIo, p + ": not a JSON object");
  Record r;
  r.vmid = j.value("vmid", 0);
  auto type = parse_container_type(j.value("type", ""));
  r.type = type.value_or(ContainerType::kDev);
  r.hostname = j.value("hostname", "");
  r.slot = j.value("slot", -1);
  r.memory_mb = j.value("memory_mb", 1024);
  r.cpu_cores = j.value("cpu_cores", 1);
  r.disk_gb = j.value("disk_gb", 0);
  r.game_port = j.value("game_port", 0);
  r.api_key = j.value("api_key", "");
  r.catalog_key = j.value("catalog_key", "");
  r.artifacts = j.value("artifacts", "");
  r.want_running = j.value("want_running", false);
  if (r.vmid != vmid || !type || r.slot < 0) return fail(codes::kIo, p + ": a broken record");
  return std::optional<Record>(std::move(r));
}

Result<void> LxcDriver::save(const Record& r) const {
  return fs::write_file_atomic(container_dir(r.vmid) + "/zlh-lxc.json", to_json(r).dump(2) + "\n",
                               0600);
}

uint32_t LxcDriver::id_base_of(const Record& r) const {
  return opts_.id_base + uint32_t(r.slot) * lxc::kIdsPerContainer;
}

std::string LxcDriver::address_of(const Record& r) const {
  return subnet_of(r.type).host(uint32_t(r.slot) + 2);
}

std::string LxcDriver::log_tail(int vmid) const {
  // liblxc's own log first: its first ERROR lines say why a start failed; else
  // the last line of the agent's log (zlh-init writes there too).
  if (auto d = fs::read_file(container_dir(vmid) + "/lxc.log", 4 << 20)) {
    std::vector<std::string> errors;
    size_t pos = 0;
    while (pos < d->size()) {
      size_t nl = d->find('\n', pos);
      std::string line = d->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? d->size() : nl + 1;
      if (line.find(" ERROR ") != std::string::npos) errors.push_back(line.substr(0, 300));
    }
    if (!errors.empty()) {
      std::string out;
      for (size_t i = 0; i < errors.size() && i < 3; ++i)
        out += (out.empty() ? "" : " | ") + errors[i];
      return out;
    }
  }
  // The tenant controls the rootfs: read beneath it only.
  auto d = lxc::read_tail_beneath(rootfs(vmid), "var/log/zlh-agent.log", 64 * 1024);
  if (!d || d->empty()) return "";
  std::string s = *d;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  auto nl = s.rfind('\n');
  std::string out = s.substr(nl == std::string::npos ? 0 : nl + 1);
  return out.size() > 300 ? out.substr(0, 300) : out;
}

// ---- the container ----

Result<void> LxcDriver::prepare_rootfs(const Record& r) {
  const std::string dir = container_dir(r.vmid);
  const uint32_t owner = id_base_of(r);
  if (auto x = fs::make_dirs(dir, 0711); !x) return x;
  ::chmod(dir.c_str(), 0711);
  if (auto x = lxc::make_image(dir + "/disk.img", r.disk_gb > 0 ? r.disk_gb : opts_.disk_gb_default,
                               owner);
      !x)
    return x;
  if (auto x = fs::make_dirs(rootfs(r.vmid), 0755); !x) return x;
  if (auto x = lxc::mount_image(dir + "/disk.img", rootfs(r.vmid)); !x) return x;
  // The agent reaches the artifact store through zlh-api's listener on the
  // gateway when the API serves it from a directory.
  std::string artifacts = r.artifacts;
  if (artifacts.starts_with("file://") && opts_.listener_port > 0)
    artifacts = "http://" + subnet_of(r.type).gateway() + ":" +
                std::to_string(opts_.listener_port) + "/artifacts/";
  std::string toml = "# written by zlh-api's lxc driver at every start\n";
  toml += "listen = \"0.0.0.0:" + std::to_string(kAgentPort) + "\"\n";
  toml += "vmid = " + std::to_string(r.vmid) + "\n";
  toml += "dev-user = \"dev\"\n";
  toml += "api-key = \"/etc/zlh/keys/api.pub\"\n";
  if (!r.catalog_key.empty()) toml += "catalog-key = \"/etc/zlh/keys/catalog.pub\"\n";
  if (!artifacts.empty()) toml += "artifacts = \"" + artifacts + "\"\n";
  // The public keys, copied beside the container (the API's keys directory
  // is 0700: the container's mapped root could not bind-mount from it) and
  // refreshed at every start; bind-mounted read-only from there.
  if (auto x = fs::make_dirs(dir + "/keys", 0711); !x) return x;
  ::chmod((dir + "/keys").c_str(), 0711);
  for (const auto& [from, to] : {std::pair{r.api_key, std::string("api.pub")},
                                 std::pair{r.catalog_key, std::string("catalog.pub")}}) {
    if (from.empty()) continue;
    auto key = fs::read_file(from, 64 * 1024);
    if (!key) return fail(key.error().wrap("read " + to));
    if (auto x = fs::write_file_atomic(dir + "/keys/" + to, *key, 0644); !x) return x;
    ::chmod((dir + "/keys/" + to).c_str(), 0644);
  }
  lxc::Skeleton s;
  s.rootfs = rootfs(r.vmid);
  s.owner = owner;
  s.hostname = r.hostname;
  s.agent_toml = toml;
  s.bind_targets = {
      std::string(kAgentBinDir) + "/zlh-init", std::string(kAgentBinDir) + "/zlh-agent",
      std::string(kAgentBinDir) + "/zlh-shim", "etc/zlh/keys/api.pub", "etc/zlh/keys/catalog.pub"};
  return lxc::populate_rootfs(s);
}

Result<void> LxcDriver::write_config(const Record& r) {
  lxc::CtConfig c;
  c.name = container_name(r.vmid);
  c.hostname = r.hostname;
  c.rootfs = rootfs(r.vmid);
  c.id_base = id_base_of(r);
  c.bridge = bridge_of(r.type);
  c.veth = lxc::veth_name(opts_.tag, r.vmid);
  c.hwaddr = lxc::mac_for(opts_.tag, r.slot);
  const auto& net = subnet_of(r.type);
  c.address = address_of(r) + "/" + std::to_string(net.prefix);
  c.gateway = net.gateway();
  c.memory_mb = r.memory_mb;
  c.cpu_cores = r.cpu_cores;
  c.pids_max = opts_.pids_max;
  c.cgroup_v1 = lxc::cgroup_v1();
  c.memsw = ::access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
  c.net_up_hook = opts_.bin_dir + "/zlh-lxc-helper net-up";
  c.usr = opts_.usr;
  c.file_binds = {{opts_.bin_dir + "/zlh-init", std::string(kAgentBinDir) + "/zlh-init"},
                  {opts_.bin_dir + "/zlh-agent", std::string(kAgentBinDir) + "/zlh-agent"},
                  {opts_.bin_dir + "/zlh-shim", std::string(kAgentBinDir) + "/zlh-shim"},
                  {container_dir(r.vmid) + "/keys/api.pub", "etc/zlh/keys/api.pub"}};
  if (!r.catalog_key.empty())
    c.file_binds.push_back(
        {container_dir(r.vmid) + "/keys/catalog.pub", "etc/zlh/keys/catalog.pub"});
  const std::string bin = std::string("/") + kAgentBinDir;
  c.init = {bin + "/zlh-init",
            "--port",
            std::to_string(kAgentPort),
            "--stop-timeout",
            std::to_string(opts_.init_stop_timeout.count()),
            "--",
            bin + "/zlh-agent",
            "--root",
            "/",
            "--config",
            "/etc/zlh/agent.toml",
            "--listen",
            "0.0.0.0:" + std::to_string(kAgentPort)};
  c.log_file = container_dir(r.vmid) + "/lxc.log";
  auto text = lxc::render_config(c);
  if (!text) return fail(text.error());
  return fs::write_file_atomic(container_dir(r.vmid) + "/config", *text, 0600);
}

Result<bool> LxcDriver::running(int vmid) {
  std::lock_guard lk(lxc_mu_);
  Ct ct(container_name(vmid), lxcpath_);
  if (!ct.c) return fail(codes::kIo, "liblxc: cannot open container " + container_name(vmid));
  return ct.c->is_running(ct.c);
}

Result<pid_t> LxcDriver::init_pid(int vmid) {
  std::lock_guard lk(lxc_mu_);
  Ct ct(container_name(vmid), lxcpath_);
  if (!ct.c || !ct.c->is_running(ct.c))
    return fail(codes::kNotFound, "container " + std::to_string(vmid) + " is not running");
  pid_t p = ct.c->init_pid(ct.c);
  if (p <= 0)
    return fail(codes::kNotFound, "container " + std::to_string(vmid) + " is not running");
  return p;
}

Result<VmidUse> LxcDriver::vmid_use(int vmid, std::string_view) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  return ::access(container_dir(vmid).c_str(), F_OK) == 0 ? VmidUse::kOurs : VmidUse::kFree;
}

Result<void> LxcDriver::create(int vmid, const ContainerSpec& spec) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  if (auto r = check_spec(spec); !r) return fail(r.error());
  const std::string ctx = "create " + std::to_string(vmid);
  if (spec.disk_gb > opts_.disk_gb_max)
    return fail(
        Error::invalid("disk_gb", "disk_gb must be at most " + std::to_string(opts_.disk_gb_max)));
  std::lock_guard lk(lock_for(vmid));
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error().wrap(ctx));
  Record r;
  if (*loaded) {
    if ((*loaded)->type != spec.type)
      return fail(codes::kConflict,
                  ctx + ": exists as a " + std::string(to_string((*loaded)->type)) + " container");
    r = **loaded;
  } else {
    auto slot = slots_.acquire(vmid, opts_.slots);
    if (!slot) return fail(slot.error().wrap(ctx));
    r.vmid = vmid;
    r.type = spec.type;
    r.slot = *slot;
  }
  r.hostname = spec.hostname.empty()
                   ? std::string(to_string(spec.type)) + "-" + std::to_string(vmid)
                   : spec.hostname;
  r.disk_gb = spec.disk_gb > 0 ? spec.disk_gb : opts_.disk_gb_default;
  apply_spec(r, spec);
  if (auto x = prepare_rootfs(r); !x) return fail(x.error().wrap(ctx));
  if (auto x = write_config(r); !x) return fail(x.error().wrap(ctx));
  if (auto x = save(r); !x) return fail(x.error().wrap(ctx));
  return {};
}

Result<LxcDriver::Record> LxcDriver::load_existing(int vmid, const std::string& ctx) const {
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error().wrap(ctx));
  if (!*loaded) return fail(codes::kNotFound, ctx + ": no such container");
  return std::move(**loaded);
}

Result<void> LxcDriver::configure(int vmid, const ContainerSpec& spec) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  if (auto r = check_spec(spec); !r) return fail(r.error());
  const std::string ctx = "configure " + std::to_string(vmid);
  std::lock_guard lk(lock_for(vmid));
  auto loaded = load_existing(vmid, ctx);
  if (!loaded) return fail(loaded.error());
  Record r = *loaded;
  if (r.type != spec.type) return fail(codes::kConflict, ctx + ": the type cannot change");
  apply_spec(r, spec);
  if (auto x = save(r); !x) return fail(x.error().wrap(ctx));
  if (auto x = write_config(r); !x) return fail(x.error().wrap(ctx));
  if (r.game_port > 0)
    if (auto x = apply_firewall(); !x) return fail(x.error().wrap(ctx));
  return {};
}

Result<void> LxcDriver::start(int vmid) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  const std::string ctx = "start " + std::to_string(vmid);
  std::lock_guard lk(lock_for(vmid));
  auto loaded = load_existing(vmid, ctx);
  if (!loaded) return fail(loaded.error());
  Record r = *loaded;
  auto run = running(vmid);
  if (!run) return fail(run.error().wrap(ctx));
  if (!r.want_running) {
    r.want_running = true;
    if (auto x = save(r); !x) return fail(x.error().wrap(ctx));
  }
  if (*run) return {};
  // After a host reboot the bridge and the mount are gone: make them again.
  if (auto x = lxc::ensure_bridge(bridge_of(r.type), subnet_of(r.type).gateway_cidr()); !x)
    return fail(x.error().wrap(ctx));
  if (auto x = prepare_rootfs(r); !x) return fail(x.error().wrap(ctx));
  if (auto x = write_config(r); !x) return fail(x.error().wrap(ctx));
  if (auto x = apply_firewall(); !x) return fail(x.error().wrap(ctx));
  process::SpawnOptions o;
  o.argv = {opts_.bin_dir + "/zlh-lxc-helper", "start", lxcpath_, container_name(vmid)};
  o.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  auto res = process::run(o, 60s, 64 * 1024);
  if (!res) return fail(res.error().wrap(ctx));
  if (res->exit_code != 0) {
    std::string out = res->output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    std::string tail = log_tail(vmid);
    return fail(codes::kIo, ctx + ": " + (out.empty() ? "zlh-lxc-helper failed" : out) +
                                (tail.empty() ? "" : " (log: " + tail + ")"));
  }
  return {};
}

Result<std::string> LxcDriver::address(int vmid, std::chrono::milliseconds timeout) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  const std::string ctx = "address " + std::to_string(vmid);
  auto loaded = load_existing(vmid, ctx);
  if (!loaded) return fail(loaded.error());
  const std::string addr = address_of(*loaded);
  const auto deadline = Clock::now() + timeout;
  auto delay = 20ms;
  for (;;) {
    auto run = running(vmid);
    if (!run) return fail(run.error().wrap(ctx));
    if (!*run) {
      std::string tail = log_tail(vmid);
      return fail(codes::kUnavailable, ctx + ": the container is stopped" +
                                           (tail.empty() ? "" : " (last log line: " + tail + ")"));
    }
    auto probe = std::min(opts_.health_probe_timeout, std::max(left_until(deadline), 50ms));
    if (agent_healthy(addr, probe)) return addr;
    if (Clock::now() >= deadline)
      return fail(codes::kTimeout, ctx + ": the agent at " + addr + " did not answer /health in " +
                                       std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(delay, left_until(deadline)));
    delay = std::min<std::chrono::milliseconds>(delay * 2, 250ms);
  }
}

Result<void> LxcDriver::stop(int vmid, std::chrono::milliseconds timeout) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  const std::string ctx = "stop " + std::to_string(vmid);
  auto loaded = load_existing(vmid, ctx);
  if (!loaded) return fail(loaded.error());
  if (loaded->want_running) {
    Record r = *loaded;
    r.want_running = false;
    if (auto x = save(r); !x) return fail(x.error().wrap(ctx));
  }
  return stop_locked(vmid, timeout);
}

Result<void> LxcDriver::stop_locked(int vmid, std::chrono::milliseconds timeout) {
  const std::string ctx = "stop " + std::to_string(vmid);
  // SIGPWR to zlh-init: it stops the agent, then the services by their
  // stop policy, and exits; liblxc's monitor then ends the container.
  {
    auto pid = init_pid(vmid);
    if (!pid) return {};  // not running
    ::kill(*pid, SIGPWR);
  }
  auto gone = wait_stopped(vmid, Clock::now() + timeout);
  if (!gone) return fail(gone.error().wrap(ctx));
  if (*gone) return {};
  log::warn("lxc", "container did not stop in time: killing it", {{"vmid", vmid}});
  {
    std::lock_guard lk(lxc_mu_);
    Ct ct(container_name(vmid), lxcpath_);
    if (ct.c && ct.c->is_running(ct.c)) ct.c->stop(ct.c);
  }
  gone = wait_stopped(vmid, Clock::now() + 10s);
  if (!gone) return fail(gone.error().wrap(ctx));
  if (!*gone) return fail(codes::kIo, ctx + ": the container would not die");
  return {};
}

Result<bool> LxcDriver::wait_stopped(int vmid, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto run = running(vmid);
    if (!run) return fail(run.error());
    if (!*run) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(50ms, left_until(deadline)));
  }
}

Result<void> LxcDriver::destroy(int vmid, std::chrono::milliseconds stop_timeout) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  std::lock_guard lk(lock_for(vmid));
  const std::string ctx = "destroy " + std::to_string(vmid);
  const std::string dir = container_dir(vmid);
  if (::access(dir.c_str(), F_OK) == 0) {
    if (auto x = stop_locked(vmid, stop_timeout); !x) return fail(x.error().wrap(ctx));
    if (auto x = lxc::unmount(rootfs(vmid)); !x) return fail(x.error().wrap(ctx));
    if (auto x = fs::remove_tree(dir); !x && !x.error().is(codes::kNotFound))
      return fail(x.error().wrap(ctx));
  }
  if (auto x = slots_.release(vmid); !x) return fail(x.error().wrap(ctx));
  if (auto x = apply_firewall(); !x) return fail(x.error().wrap(ctx));
  return {};
}

Result<ContainerStatus> LxcDriver::status(int vmid) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  auto loaded = load(vmid);
  if (!loaded) return fail(loaded.error());
  ContainerStatus st;
  if (!*loaded) return st;
  st.address = address_of(**loaded);
  st.node = "lxc";
  auto run = running(vmid);
  if (!run) return fail(run.error());
  st.state = *run ? PowerState::kRunning : PowerState::kStopped;
  if (*run) st.resources = resources(vmid);
  return st;
}

std::optional<Resources> LxcDriver::resources(int vmid) {
  if (!check_vmid(vmid)) return std::nullopt;
  auto c = lxc::read_counters(container_name(vmid));
  if (!c) return std::nullopt;  // no cgroup: not running
  Resources res;
  res.cpu_ns = c->cpu_ns;
  res.memory_bytes = c->memory_bytes;
  res.memory_max = c->memory_max;
  res.pids = c->pids;
  res.oom_kills = c->oom_kills;
  if (auto d = lxc::disk_usage(rootfs(vmid))) {
    res.disk_bytes = d->first;
    res.disk_max = d->second;
  }
  return res;
}

Result<std::map<int, RawCounters>> LxcDriver::sample(const std::vector<int>& vmids) {
  std::map<int, RawCounters> out;
  for (int vmid : vmids) {
    if (!check_vmid(vmid)) continue;
    auto rec = load(vmid);
    if (!rec || !*rec) continue;  // unreadable or missing record: not measured
    auto c = lxc::read_counters(container_name(vmid));
    if (!c) continue;  // no cgroup: not running
    RawCounters raw;
    raw.at = std::chrono::steady_clock::now();
    raw.cpu_ns = c->cpu_ns;
    raw.cores = (*rec)->cpu_cores;
    raw.memory_bytes = c->memory_bytes;
    raw.memory_max = c->memory_max;
    raw.pids = c->pids;
    if (auto d = lxc::disk_usage(rootfs(vmid))) {
      raw.disk_bytes = d->first;
      raw.disk_max = d->second;
    }
    if (auto n = lxc::veth_bytes("/sys/class/net", lxc::veth_name(opts_.tag, vmid))) {
      raw.net_rx = n->rx;
      raw.net_tx = n->tx;
    }
    out.emplace(vmid, raw);
  }
  return out;
}

}  // namespace zlh::api::drivers
