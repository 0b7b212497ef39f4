// The `proxmox` driver (docs/design.md §10.5, docs/proxmox.md): containers are
// LXC guests on a Proxmox VE cluster, made by full clones of a zlh template
// (the agent, its unit, the API's public key and the catalog key baked in).
//
//   create     find the vmid cluster-wide (GET /cluster/resources?type=vm);
//              ours → finish (wait out a clone still under way); someone
//              else's → E_CONFLICT; free → place on the online node with the
//              most free memory (GET /cluster/resources?type=node, less what
//              this process is cloning there now), at most clones_per_node
//              clones per node at once, POST /nodes/{n}/lxc/{tpl}/clone
//              {newid, hostname, full=1, storage, pool, description}, wait
//              for the task.
//   configure  PUT /nodes/{n}/lxc/{vmid}/config {cores, memory, swap, net0
//              (the type's bridge, dhcp), tags "zlh;<type>", description, onboot}
//   start      POST …/status/start (already running: nothing to do)
//   address    GET …/interfaces until eth0 (or the first non-lo) has an IPv4
//              and http://<ip>:18888/health answers
//   stop       POST …/status/shutdown {timeout, forceStop=1}; if that task
//              fails or overruns, POST …/status/stop
//   destroy    stop, then DELETE …/lxc/{vmid}?purge=1&destroy-unreferenced-disks=1;
//              a missing guest is success; a guest that is not ours is never
//              touched (E_CONFLICT)
//   status     from /cluster/resources (+ /interfaces while running)
// Every task's UPID is polled through /nodes/{n}/tasks/{upid}/status until
// it stopped; its exitstatus must be OK. A call or task that meets a CT lock
// ("can't lock file", "CT is locked") is retried with backoff and jitter.
// "Ours": an LXC guest, not a template, named dev-<vmid> / mc-<variant>-<vmid>
// or tagged zlh.
//
// Errors as driver.hpp, plus E_UNAVAILABLE when the guest's node is offline
// and E_UPSTREAM for Proxmox errors (their text included, never the token).
//
// Thread-safety: as driver.hpp; same-vmid calls are serialized per process.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "api/drivers/driver.hpp"
#include "api/drivers/proxmox/proxmox_client.hpp"
#include "api/drivers/proxmox/proxmox_config.hpp"

namespace zlh::api::drivers {

// The live-stats readings of the running lxc guests among `vmids` in a
// /cluster/resources?type=vm answer: cpu_cores_now = cpu × maxcpu (Proxmox
// reports usage as a share of the guest's cores, averaged by pvestatd),
// memory mem/maxmem, disk disk/maxdisk, net_rx = netin and net_tx = netout
// (cumulative, the guest's view), no pids (not reported), all at `at`.
// Other guests (stopped, qemu, not asked for, unknown status) are absent.
// E_UPSTREAM when `list` is not an array.
Result<std::map<int, RawCounters>> sample_from_resources(const nlohmann::json& list,
                                                         const std::vector<int>& vmids,
                                                         std::chrono::steady_clock::time_point at);

class ProxmoxDriver : public Driver {
 public:
  explicit ProxmoxDriver(ProxmoxConfig cfg);

  std::string_view name() const override { return "proxmox"; }
  Limits limits() const override { return cfg_.limits; }
  Result<VmidUse> vmid_use(int vmid, std::string_view hostname) override;
  Result<void> create(int vmid, const ContainerSpec& spec) override;
  Result<void> configure(int vmid, const ContainerSpec& spec) override;
  Result<void> start(int vmid) override;
  Result<std::string> address(int vmid, std::chrono::milliseconds timeout) override;
  Result<void> stop(int vmid, std::chrono::milliseconds timeout) override;
  Result<void> destroy(int vmid, std::chrono::milliseconds stop_timeout) override;
  Result<ContainerStatus> status(int vmid) override;
  // ONE GET /cluster/resources?type=vm for the whole batch
  // (sample_from_resources).
  Result<std::map<int, RawCounters>> sample(const std::vector<int>& vmids) override;

  // GET /version: a reachable cluster that accepts the token (start-up check).
  Result<std::string> check_connection();

 private:
  struct Guest {
    int vmid = 0;
    std::string type;  // lxc | qemu
    std::string node, name, status, tags, lock;
    bool is_template = false;
  };
  struct Node {
    std::string name;
    bool online = false;
    int64_t free_mb = 0;
  };
  Result<std::optional<Guest>> find(int vmid);
  Result<std::vector<Node>> nodes();
  static bool ours(const Guest& g);
  Result<void> usable(const Guest& g, int vmid);  // ours, node online
  // find + usable for `op` on an existing guest: E_NOT_FOUND, E_CONFLICT, E_UNAVAILABLE.
  Result<Guest> existing(int vmid, const std::string& op);
  // `act` on the existing guest of `vmid`, under its lock, unless its status
  // is already `settled`; errors start with `op`.
  Result<void> power(int vmid, const std::string& op, std::string_view settled,
                     const std::function<Result<void>(const Guest&)>& act);
  Result<std::string> place(int memory_mb);
  Result<void> wait_unlocked(const Guest& g);
  Result<nlohmann::json> task(const std::string& what, const std::string& node,
                              const std::string& method, const std::string& path,
                              const PveParams& params, std::chrono::milliseconds timeout);
  Result<std::string> interface_ip(const Guest& g);
  std::string ct_path(const Guest& g) const;
  std::shared_ptr<std::mutex> vmid_lock(int vmid);

  ProxmoxConfig cfg_;
  ProxmoxClient api_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::shared_ptr<std::mutex>> locks_;
  std::map<std::string, int> cloning_;  // node → clones under way
  // vmid → (node, MiB) placed by this process and not yet configured: the
  // memory a clone will use before the cluster's figures show it.
  std::map<int, std::pair<std::string, int64_t>> pending_;
};

}  // namespace zlh::api::drivers
