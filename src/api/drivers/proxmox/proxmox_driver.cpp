#include "api/drivers/proxmox/proxmox_driver.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>

#include "base/log.hpp"
#include "http/client.hpp"

namespace zlh::api::drivers {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string vm(int vmid) { return std::to_string(vmid); }

// "dev-<vmid>" or "mc-<variant>-<vmid>".
bool zlh_name(std::string_view name, int vmid) {
  const std::string tail = "-" + vm(vmid);
  if (!name.ends_with(tail)) return false;
  return name == "dev" + tail || (name.starts_with("mc-") && name.size() > 3 + tail.size());
}

bool has_tag(std::string_view tags, std::string_view tag) {
  size_t i = 0;
  while (i <= tags.size()) {
    size_t j = tags.find_first_of(";, ", i);
    if (j == std::string_view::npos) j = tags.size();
    if (tags.substr(i, j - i) == tag) return true;
    i = j + 1;
  }
  return false;
}

std::string str_of(const json& j, const char* k) {
  if (!j.contains(k)) return "";
  if (j[k].is_string()) return j[k].get<std::string>();
  if (j[k].is_number()) return j[k].dump();
  return "";
}

int64_t num_of(const json& j, const char* k) {
  if (!j.contains(k)) return 0;
  if (j[k].is_number()) return j[k].get<int64_t>();
  if (j[k].is_string()) {
    try {
      return std::stoll(j[k].get<std::string>());
    } catch (...) {
    }
  }
  return 0;
}

}  // namespace

ProxmoxDriver::ProxmoxDriver(ProxmoxConfig cfg) : cfg_(std::move(cfg)), api_(cfg_) {}

std::shared_ptr<std::mutex> ProxmoxDriver::vmid_lock(int vmid) {
  std::lock_guard lk(mu_);
  auto& m = locks_[vmid];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

std::string ProxmoxDriver::ct_path(const Guest& g) const {
  return "/nodes/" + ProxmoxClient::encode(g.node) + "/lxc/" + vm(g.vmid);
}

Result<std::string> ProxmoxDriver::check_connection() {
  auto v = api_.call("GET", "/version");
  if (!v) return fail(v.error());
  return v->is_object() ? str_of(*v, "version") : std::string();
}

Result<std::optional<ProxmoxDriver::Guest>> ProxmoxDriver::find(int vmid) {
  auto list = api_.call("GET", "/cluster/resources", {{"type", "vm"}});
  if (!list) return fail(list.error());
  if (!list->is_array()) return fail(codes::kUpstream, "proxmox /cluster/resources: not a list");
  for (const auto& r : *list) {
    if (!r.is_object() || num_of(r, "vmid") != vmid) continue;
    Guest g;
    g.vmid = vmid;
    g.type = str_of(r, "type");
    g.node = str_of(r, "node");
    g.name = str_of(r, "name");
    g.status = str_of(r, "status");
    g.tags = str_of(r, "tags");
    g.lock = str_of(r, "lock");
    g.is_template = num_of(r, "template") != 0;
    return std::optional<Guest>(std::move(g));
  }
  return std::optional<Guest>();
}

Result<std::vector<ProxmoxDriver::Node>> ProxmoxDriver::nodes() {
  auto list = api_.call("GET", "/cluster/resources", {{"type", "node"}});
  if (!list) return fail(list.error());
  if (!list->is_array()) return fail(codes::kUpstream, "proxmox /cluster/resources: not a list");
  std::vector<Node> out;
  for (const auto& r : *list) {
    if (!r.is_object() || str_of(r, "type") != "node") continue;
    Node n;
    n.name = str_of(r, "node");
    n.online = str_of(r, "status") == "online";
    n.free_mb = (num_of(r, "maxmem") - num_of(r, "mem")) / (1024 * 1024);
    out.push_back(std::move(n));
  }
  return out;
}

bool ProxmoxDriver::ours(const Guest& g) {
  return g.type == "lxc" && !g.is_template && (zlh_name(g.name, g.vmid) || has_tag(g.tags, "zlh"));
}

Result<void> ProxmoxDriver::usable(const Guest& g, int vmid) {
  if (!ours(g))
    return fail(codes::kConflict, "vmid " + vm(vmid) + " is " +
                                      (g.type.empty() ? "a guest" : g.type) + " '" + g.name +
                                      "' on " + g.node + ", not a zlh container");
  if (g.status == "unknown")
    return fail(codes::kUnavailable, "container " + vm(vmid) + ": node " + g.node + " is offline");
  return {};
}

Result<ProxmoxDriver::Guest> ProxmoxDriver::existing(int vmid, const std::string& op) {
  auto g = find(vmid);
  if (!g) return fail(g.error().wrap(op + " " + vm(vmid)));
  if (!*g) return fail(codes::kNotFound, op + " " + vm(vmid) + ": no such container");
  if (auto u = usable(**g, vmid); !u) return fail(u.error().wrap(op + " " + vm(vmid)));
  return std::move(**g);
}

Result<VmidUse> ProxmoxDriver::vmid_use(int vmid, std::string_view hostname) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  auto g = find(vmid);
  if (!g) return fail(g.error());
  if (!*g) {
    // /cluster/resources may lag a guest made a moment ago; nextid asks the
    // cluster's own allocation (it refuses ids in use by VMs and CTs alike).
    auto next = api_.call("GET", "/cluster/nextid", {{"vmid", vm(vmid)}});
    if (!next) {
      if (next.error().message.find("already exists") != std::string::npos)
        return VmidUse::kForeign;
      return fail(next.error());
    }
    return VmidUse::kFree;
  }
  const Guest& x = **g;
  if (x.type == "lxc" && !x.is_template && (x.name == hostname || ours(x))) return VmidUse::kOurs;
  return VmidUse::kForeign;
}

Result<std::string> ProxmoxDriver::place(int memory_mb) {
  auto ns = nodes();
  if (!ns) return fail(ns.error());
  std::lock_guard lk(mu_);
  std::map<std::string, int64_t> pending;
  for (const auto& [v, p] : pending_) pending[p.first] += p.second;
  const Node* best = nullptr;
  int64_t best_free = 0;
  for (const auto& n : *ns) {
    if (!n.online || !cfg_.template_for(n.name)) continue;
    if (!cfg_.nodes.empty() &&
        std::find(cfg_.nodes.begin(), cfg_.nodes.end(), n.name) == cfg_.nodes.end())
      continue;
    int64_t free = n.free_mb - pending[n.name];
    if (!best || free > best_free || (free == best_free && n.name < best->name)) {
      best = &n;
      best_free = free;
    }
  }
  if (!best)
    return fail(codes::kUnavailable,
                "no online Proxmox node with a zlh template to place a container on");
  if (best_free < memory_mb)
    log::warn("proxmox", "placing on a node short of memory",
              {{"node", best->name}, {"free_mb", best_free}, {"memory_mb", memory_mb}});
  return best->name;
}

Result<void> ProxmoxDriver::wait_unlocked(const Guest& g) {
  const auto deadline = Clock::now() + cfg_.task_timeout;
  std::string lock = g.lock;
  while (!lock.empty()) {
    if (Clock::now() > deadline)
      return fail(codes::kTimeout, "container " + vm(g.vmid) + " still locked (" + lock + ")");
    std::this_thread::sleep_for(std::min(cfg_.poll, std::chrono::milliseconds(500)));
    auto c = api_.call("GET", ct_path(g) + "/config");
    if (!c && is_missing(c.error().message))
      return {};  // gone meanwhile (a delete finished): nothing holds it
    if (!c) return fail(c.error());
    lock = c->is_object() ? str_of(*c, "lock") : "";
  }
  return {};
}

Result<nlohmann::json> ProxmoxDriver::task(const std::string& what, const std::string& node,
                                           const std::string& method, const std::string& path,
                                           const PveParams& params,
                                           std::chrono::milliseconds timeout) {
  // A lock can also make the task itself fail ("can't lock file" in its
  // exit status): both the call and its task are retried.
  return api_.retry_locked(what, [&]() -> Result<json> {
    auto upid = api_.call(method, path, params);
    if (!upid) return upid;
    if (!upid->is_string()) return fail(codes::kUpstream, what + ": no task id in the answer");
    log::info("proxmox", "task started",
              {{"op", what}, {"node", node}, {"upid", upid->get<std::string>()}});
    if (auto w = api_.wait_task(node, upid->get<std::string>(), timeout); !w)
      return fail(w.error());
    return upid;
  });
}

Result<void> ProxmoxDriver::create(int vmid, const ContainerSpec& spec) {
  if (auto r = check_vmid(vmid); !r) return r;
  if (auto r = check_spec(spec); !r) return r;
  const std::string type(to_string(spec.type));
  const std::string host = spec.hostname.empty() ? type + "-" + vm(vmid) : spec.hostname;
  auto lk_vmid = vmid_lock(vmid);
  std::lock_guard guard(*lk_vmid);
  auto g = find(vmid);
  if (!g) return fail(g.error().wrap("create " + vm(vmid)));
  if (*g) {
    // Ours from an earlier try: let a clone under way finish.
    const Guest& x = **g;
    if (x.name != host && !ours(x))
      return fail(codes::kConflict, "create " + vm(vmid) +
                                        ": the vmid is taken on the cluster by " + x.type + " '" +
                                        x.name + "' on " + x.node);
    if (auto u = usable(x, vmid); !u) return fail(u.error().wrap("create " + vm(vmid)));
    std::string other(
        to_string(spec.type == ContainerType::kDev ? ContainerType::kGame : ContainerType::kDev));
    if (has_tag(x.tags, "zlh") && has_tag(x.tags, other))
      return fail(codes::kConflict, "create " + vm(vmid) + ": exists as a " + other + " container");
    if (auto w = wait_unlocked(x); !w) return fail(w.error().wrap("create " + vm(vmid)));
    return {};
  }
  // Placement and a clone slot on the node.
  auto node = place(spec.memory_mb);
  if (!node) return fail(node.error().wrap("create " + vm(vmid)));
  {
    std::unique_lock lk(mu_);
    pending_[vmid] = {*node, spec.memory_mb};
    cv_.wait(lk, [&] { return cloning_[*node] < cfg_.clones_per_node; });
    ++cloning_[*node];
  }
  struct Slot {
    ProxmoxDriver* d;
    std::string node;
    ~Slot() {
      std::lock_guard lk(d->mu_);
      --d->cloning_[node];
      d->cv_.notify_all();
    }
  } slot{this, *node};
  const int tpl = *cfg_.template_for(*node);
  PveParams p = {{"newid", vm(vmid)},
                 {"hostname", host},
                 {"full", "1"},
                 {"description", "zlh " + type + " container " + host}};
  if (!cfg_.storage.empty()) p.emplace_back("storage", cfg_.storage);
  if (!cfg_.pool.empty()) p.emplace_back("pool", cfg_.pool);
  log::info("proxmox", "cloning",
            {{"vmid", vmid}, {"node", *node}, {"template", tpl}, {"hostname", host}});
  auto t = task("clone " + vm(vmid), *node, "POST",
                "/nodes/" + ProxmoxClient::encode(*node) + "/lxc/" + vm(tpl) + "/clone", p,
                cfg_.task_timeout);
  if (!t) {
    std::lock_guard lk(mu_);
    pending_.erase(vmid);
    return fail(Error::make(t.error().code == codes::kUpstream ? codes::kIo : t.error().code,
                            "create " + vm(vmid) + ": clone of template " + vm(tpl) + " on " +
                                *node + " failed: " + t.error().message));
  }
  return {};
}

Result<void> ProxmoxDriver::configure(int vmid, const ContainerSpec& spec) {
  if (auto r = check_vmid(vmid); !r) return r;
  if (auto r = check_spec(spec); !r) return r;
  if (spec.cpu_cores > cfg_.limits.cores_max)
    return std::unexpected(
        Error::invalid("cpu_cores", "at most " + std::to_string(cfg_.limits.cores_max) + " cores"));
  if (spec.memory_mb > cfg_.limits.memory_mb_max)
    return std::unexpected(Error::invalid(
        "memory_mb", "at most " + std::to_string(cfg_.limits.memory_mb_max) + " MiB"));
  auto lk_vmid = vmid_lock(vmid);
  std::lock_guard guard(*lk_vmid);
  auto g = existing(vmid, "configure");
  if (!g) return fail(g.error());
  if (auto w = wait_unlocked(*g); !w) return fail(w.error().wrap("configure " + vm(vmid)));
  const std::string type(to_string(spec.type));
  auto bridge = cfg_.bridges.count(type) ? cfg_.bridges.at(type) : "vmbr0";
  PveParams p = {{"cores", std::to_string(spec.cpu_cores)},
                 {"memory", std::to_string(spec.memory_mb)},
                 {"swap", "0"},
                 {"net0", "name=eth0,bridge=" + bridge + ",ip=dhcp,type=veth"},
                 {"tags", "zlh;" + type},
                 {"onboot", "1"}};
  auto r = api_.retry_locked("configure " + vm(vmid),
                             [&] { return api_.call("PUT", ct_path(*g) + "/config", p); });
  if (!r) return fail(r.error().wrap("configure " + vm(vmid)));
  std::lock_guard lk(mu_);
  pending_.erase(vmid);
  return {};
}

Result<void> ProxmoxDriver::power(int vmid, const std::string& op, std::string_view settled,
                                  const std::function<Result<void>(const Guest&)>& act) {
  if (auto r = check_vmid(vmid); !r) return r;
  auto lk_vmid = vmid_lock(vmid);
  std::lock_guard guard(*lk_vmid);
  auto g = existing(vmid, op);
  if (!g) return fail(g.error());
  if (g->status == settled) return {};
  return act(*g);
}

Result<void> ProxmoxDriver::start(int vmid) {
  return power(vmid, "start", "running", [&](const Guest& g) -> Result<void> {
    auto t = task("start " + vm(vmid), g.node, "POST", ct_path(g) + "/status/start", {},
                  cfg_.task_timeout);
    if (!t && t.error().message.find("already running") == std::string::npos)
      return fail(t.error().wrap("start " + vm(vmid)));
    return {};
  });
}

Result<std::string> ProxmoxDriver::interface_ip(const Guest& g) {
  auto ifs = api_.call("GET", ct_path(g) + "/interfaces", {}, std::chrono::seconds(10));
  if (!ifs) return fail(ifs.error());
  if (!ifs->is_array()) return fail(codes::kUpstream, "interfaces: not a list");
  std::string first;
  for (const auto& i : *ifs) {
    if (!i.is_object()) continue;
    std::string name = str_of(i, "name"), inet = str_of(i, "inet");
    if (name == "lo" || inet.empty()) continue;
    inet = inet.substr(0, inet.find('/'));
    if (name == "eth0") return inet;
    if (first.empty()) first = inet;
  }
  if (first.empty()) return fail(codes::kUnavailable, "no IPv4 address yet");
  return first;
}

Result<std::string> ProxmoxDriver::address(int vmid, std::chrono::milliseconds timeout) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  const auto deadline = Clock::now() + timeout;
  std::string last = "no answer yet";
  auto pause = std::chrono::milliseconds(100);
  for (;;) {
    auto g = find(vmid);
    if (!g) {
      last = g.error().message;
    } else if (!*g) {
      return fail(codes::kNotFound, "address " + vm(vmid) + ": no such container");
    } else if (auto u = usable(**g, vmid); !u) {
      return fail(u.error().wrap("address " + vm(vmid)));
    } else if ((*g)->status == "stopped") {
      return fail(codes::kUnavailable, "address " + vm(vmid) + ": the container is stopped");
    } else if (auto ip = interface_ip(**g); !ip) {
      last = ip.error().message;
    } else {
      auto h = http::request("GET", "http://" + *ip + ":" + std::to_string(kAgentPort) + "/health",
                             {}, {}, std::chrono::seconds(2));
      if (h && h->status == 200) return *ip;
      last = h ? "agent at " + *ip + " answered " + std::to_string(h->status)
               : "agent at " + *ip + ": " + h.error().message;
    }
    if (Clock::now() + pause > deadline)
      return fail(codes::kTimeout,
                  "address " + vm(vmid) + ": the agent did not answer in time (" + last + ")");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

Result<void> ProxmoxDriver::stop(int vmid, std::chrono::milliseconds timeout) {
  return power(vmid, "stop", "stopped", [&](const Guest& g) -> Result<void> {
    auto not_running = [](const Error& e) {
      return e.message.find("not running") != std::string::npos;
    };
    // Graceful: the container's init stops the agent's services by their
    // stop policy; Proxmox forces it off when `timeout` passes.
    const int64_t secs = std::max<int64_t>(1, (timeout.count() + 999) / 1000);
    auto t = task("shutdown " + vm(vmid), g.node, "POST", ct_path(g) + "/status/shutdown",
                  {{"timeout", std::to_string(secs)}, {"forceStop", "1"}},
                  timeout + std::chrono::seconds(60));
    if (t || not_running(t.error())) return {};
    log::warn("proxmox", "shutdown failed; stopping",
              {{"vmid", vmid}, {"error", t.error().message}});
    auto s = task("stop " + vm(vmid), g.node, "POST", ct_path(g) + "/status/stop", {},
                  cfg_.task_timeout);
    if (!s && !not_running(s.error())) return fail(s.error().wrap("stop " + vm(vmid)));
    return {};
  });
}

Result<void> ProxmoxDriver::destroy(int vmid, std::chrono::milliseconds stop_timeout) {
  if (auto r = check_vmid(vmid); !r) return r;
  auto g = find(vmid);
  if (!g) return fail(g.error().wrap("destroy " + vm(vmid)));
  if (!*g) return {};
  if (auto u = usable(**g, vmid); !u) return fail(u.error().wrap("destroy " + vm(vmid)));
  if (!(*g)->lock.empty()) {
    // A clone or another task still holds it: wait, then go on.
    if (auto w = wait_unlocked(**g); !w) return fail(w.error().wrap("destroy " + vm(vmid)));
  }
  if (auto s = stop(vmid, stop_timeout); !s && !s.error().is(codes::kNotFound)) return s;
  auto lk_vmid = vmid_lock(vmid);
  std::lock_guard guard(*lk_vmid);
  auto t = task("destroy " + vm(vmid), (*g)->node, "DELETE", ct_path(**g),
                {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}}, cfg_.task_timeout);
  if (!t && !is_missing(t.error().message)) return fail(t.error().wrap("destroy " + vm(vmid)));
  {
    std::lock_guard lk(mu_);
    pending_.erase(vmid);
  }
  log::info("proxmox", "destroyed", {{"vmid", vmid}, {"node", (*g)->node}});
  return {};
}

Result<ContainerStatus> ProxmoxDriver::status(int vmid) {
  if (auto r = check_vmid(vmid); !r) return fail(r.error());
  auto g = find(vmid);
  if (!g) return fail(g.error().wrap("status " + vm(vmid)));
  ContainerStatus s;
  if (!*g) return s;
  if (auto u = usable(**g, vmid); !u) return fail(u.error().wrap("status " + vm(vmid)));
  s.node = (*g)->node;
  s.state = (*g)->status == "running" ? PowerState::kRunning : PowerState::kStopped;
  if (s.state == PowerState::kRunning) {
    if (auto ip = interface_ip(**g)) s.address = *ip;
  }
  return s;
}

namespace {
std::optional<uint64_t> u64_of(const json& j, const char* k) {
  if (!j.contains(k) || !j[k].is_number() || j[k].get<double>() < 0) return std::nullopt;
  return uint64_t(j[k].get<double>());
}
}  // namespace

Result<std::map<int, RawCounters>> sample_from_resources(const json& list,
                                                         const std::vector<int>& vmids,
                                                         std::chrono::steady_clock::time_point at) {
  if (!list.is_array()) return fail(codes::kUpstream, "proxmox /cluster/resources: not a list");
  std::set<int> want(vmids.begin(), vmids.end());
  std::map<int, RawCounters> out;
  for (const auto& r : list) {
    if (!r.is_object() || str_of(r, "type") != "lxc" || str_of(r, "status") != "running") continue;
    const int vmid = int(num_of(r, "vmid"));
    if (!want.count(vmid)) continue;
    RawCounters raw;
    raw.at = at;
    raw.cores = double(u64_of(r, "maxcpu").value_or(1));
    if (r.contains("cpu") && r["cpu"].is_number())
      raw.cpu_cores_now = r["cpu"].get<double>() * raw.cores;
    raw.memory_bytes = u64_of(r, "mem").value_or(0);
    raw.memory_max = u64_of(r, "maxmem").value_or(0);
    raw.disk_bytes = u64_of(r, "disk");
    raw.disk_max = u64_of(r, "maxdisk");
    raw.net_rx = u64_of(r, "netin");
    raw.net_tx = u64_of(r, "netout");
    out.emplace(vmid, raw);
  }
  return out;
}

Result<std::map<int, RawCounters>> ProxmoxDriver::sample(const std::vector<int>& vmids) {
  if (vmids.empty()) return std::map<int, RawCounters>{};
  auto list = api_.call("GET", "/cluster/resources", {{"type", "vm"}}, std::chrono::seconds(5));
  if (!list) return fail(list.error().wrap("stats"));
  return sample_from_resources(*list, vmids, std::chrono::steady_clock::now());
}

}  // namespace zlh::api::drivers
