// The `lxc` driver (docs/design.md §10.5, docs/drivers.md): each container is an
// unprivileged LXC container run through liblxc, the embedded default when
// zlh-api runs as root.
//
// Layout on the host, under lxcpath = <data>/lxc (mode 0711: liblxc, as the
// container's mapped root, must traverse it to the rootfs; nothing in it is
// listable by other users):
//   <lxcpath>/<name>/config         the liblxc configuration (lxc_plan.hpp),
//                                   rewritten at every start
//   <lxcpath>/<name>/zlh-lxc.json   the driver's record: type, hostname,
//                                   slot, sizes, game port, keys,
//                                   want_running
//   <lxcpath>/<name>/disk.img       sparse ext4 image of disk_gb GiB: the
//                                   container's writable part
//   <lxcpath>/<name>/rootfs/        where the image is mounted (loop,
//                                   autoclear) while the container exists
//   <lxcpath>/<name>/lxc.log        liblxc's log for the container
// with <name> = <tag>-<vmid>. Inside: the host's /usr read-only, zlh-init,
// zlh-agent and zlh-shim at /opt/zlh-agent/bin/ and the two public keys at
// /etc/zlh/keys/ (read-only file binds), a private /etc skeleton
// (lxc_host.hpp). PID 1 is zlh-init (src/init), which runs zlh-agent as the
// container's root with --root / --dev-user dev on an inherited :18888.
//
// Ids and addresses: a container holds a slot from the store (SlotStore,
// never two vmids on one slot). Slot s maps the container's ids 0..65535 to
// host ids id_base + s*65536 .. +65535 and gives it address s+2 of its
// type's subnet; address 1 is the bridge's (the gateway).
//
// Network: one bridge per type (bridge_dev, bridge_game), created when
// missing; each container's veth port is isolated from the others
// (zlh-lxc-helper net-up, before init runs), and the instance's nftables
// table (lxc_plan.hpp render_nft) drops forwarding between containers,
// accepts from containers on the host only zlh-api's container listener
// (listener_port on the gateways), masquerades outbound traffic (nat), and
// DNATs each game server's host port to its 25565. The table is rebuilt from
// the records after every change and re-checked by check_host().
//
// Processes: liblxc's start() forks its caller, so start() runs the
// single-threaded zlh-lxc-helper through the spawn door; the container's
// monitor is a copy of that helper, never of zlh-api. Containers outlive
// zlh-api (kill -9 included) and are found again by name.
//
// Thread-safety and idempotency: as in driver.hpp. Calls for one vmid are
// serialized by a per-vmid mutex; firewall updates by another. At most one
// zlh-api process may manage a data directory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/drivers/driver.hpp"
#include "api/drivers/lxc/lxc_plan.hpp"

namespace zlh::api::drivers {

// Where slots are recorded (zlh-api: the store's lxc_slots table).
class SlotStore {
 public:
  virtual ~SlotStore() = default;
  // The slot of `vmid`, or else the lowest free one below `slots`.
  // Repeatable. E_UNAVAILABLE when none is free.
  virtual Result<int> acquire(int vmid, int slots) = 0;
  // Frees the slot of `vmid`; none held is fine.
  virtual Result<void> release(int vmid) = 0;
};

struct LxcDriverOptions {
  std::string data_dir;  // <data>: lxcpath is <data>/lxc
  // Where zlh-agent, zlh-shim, zlh-init and zlh-lxc-helper are (zlh-api's own directory).
  std::string bin_dir;
  // Instance tag (1-6 of [a-z0-9]): container names <tag>-<vmid>, veths
  // z<tag><vmid>, and the nftables table "zlh" (tag "zlh") or "zlh_<tag>".
  std::string tag = "zlh";
  std::string bridge_dev = "zlhdev0", bridge_game = "zlhgame0";
  std::string subnet_dev = "10.77.0.0/16", subnet_game = "10.78.0.0/16";
  // Host ids: root's subordinate ranges must cover [id_base, id_base + 65536*slots).
  uint32_t id_base = 1000000;
  int slots = 1000;
  bool nat = true;  // outbound NAT for containers (and host-wide ip_forward)
  int disk_gb_default = 8, disk_gb_max = 256, disk_gb_min_code_server = 4;
  int pids_max = 4096;
  // zlh-api's listener for containers on each gateway (serves /artifacts/ only); 0 = none.
  int listener_port = 0;
  // The longest a container's services get to stop (zlh-init's deadline; at
  // least 45 s covers Minecraft's 30 + 10 s).
  std::chrono::seconds init_stop_timeout{45};
  std::chrono::milliseconds health_probe_timeout{1000};
  std::string usr = "/usr";
  std::string user = "root";  // whose subordinate ranges to check
};

class LxcDriver final : public Driver {
 public:
  // Checks the host (self_check), creates <data>/lxc, the bridges and the
  // firewall table. E_INVALID naming what is missing (not root, no
  // subordinate id range, a cgroup controller, nft, ip, mkfs.ext4, loop
  // devices, a bad option), E_IO.
  static Result<std::unique_ptr<LxcDriver>> open(LxcDriverOptions opts, SlotStore& slots);
  ~LxcDriver() override;

  std::string_view name() const override { return "lxc"; }
  Limits limits() const override;
  bool forwards_game_port() const override { return true; }
  Result<VmidUse> vmid_use(int vmid, std::string_view hostname) override;
  Result<void> create(int vmid, const ContainerSpec& spec) override;
  Result<void> configure(int vmid, const ContainerSpec& spec) override;
  Result<void> start(int vmid) override;
  Result<std::string> address(int vmid, std::chrono::milliseconds timeout) override;
  Result<void> stop(int vmid, std::chrono::milliseconds timeout) override;
  Result<void> destroy(int vmid, std::chrono::milliseconds stop_timeout) override;
  Result<ContainerStatus> status(int vmid) override;
  // Its cgroup counters (cpu, memory, pids, OOM kills) and its image's use.
  std::optional<Resources> resources(int vmid) override;
  // The cgroup counters of resources() plus the host veth's byte counters
  // (swapped: host tx = container rx); cores = the recorded cpu_cores (the
  // cgroup's cpu quota). Local files only.
  Result<std::map<int, RawCounters>> sample(const std::vector<int>& vmids) override;

  // Starts every container whose record says it should run and does not
  // (after a host reboot). Returns how many were started; failures are
  // logged and skipped.
  int restore_running();
  // Re-creates missing bridges and restores the firewall table when it is
  // missing or lacks a forward (`systemctl restart nftables` flushes it).
  // Repeatable. The driver runs it every `interval` from start_host_checks().
  Result<void> check_host();
  void start_host_checks(std::chrono::milliseconds interval);
  // Deletes the bridges and the table (tests, after every container is gone).
  Result<void> remove_host_network();

  // The vmids of this instance's containers on disk, ascending.
  std::vector<int> list_vmids() const;
  std::string lxcpath() const { return lxcpath_; }
  std::string container_name(int vmid) const { return opts_.tag + "-" + std::to_string(vmid); }
  std::string container_dir(int vmid) const { return lxcpath_ + "/" + container_name(vmid); }
  std::string rootfs(int vmid) const { return container_dir(vmid) + "/rootfs"; }
  // The bridges' host addresses (dev, game): where zlh-api's listener for
  // containers binds.
  std::vector<std::string> gateways() const { return {dev_.gateway(), game_.gateway()}; }
  std::string nft_table() const { return opts_.tag == "zlh" ? "zlh" : "zlh_" + opts_.tag; }
  // The PID of the container's init on the host. E_NOT_FOUND when not running.
  Result<pid_t> init_pid(int vmid);

  // What a host needs for this driver, checked without changing anything.
  // E_INVALID naming the first thing missing.
  static Result<void> self_check(const LxcDriverOptions& opts);

 private:
  // The record of one container (<lxcpath>/<name>/zlh-lxc.json).
  struct Record {
    int vmid = 0;
    ContainerType type = ContainerType::kDev;
    std::string hostname;
    int slot = -1;
    int memory_mb = 1024, cpu_cores = 1, disk_gb = 0, game_port = 0;
    std::string api_key, catalog_key, artifacts;
    bool want_running = false;
  };
  LxcDriver(LxcDriverOptions opts, SlotStore& slots, lxc::Ipv4Net dev, lxc::Ipv4Net game);
  std::mutex& lock_for(int vmid);
  Result<std::optional<Record>> load(int vmid) const;
  // load(), with a missing record E_NOT_FOUND; errors start with `ctx`.
  Result<Record> load_existing(int vmid, const std::string& ctx) const;
  Result<void> save(const Record& r) const;
  Result<void> prepare_rootfs(const Record& r);
  Result<void> write_config(const Record& r);
  Result<void> apply_firewall();
  Result<bool> running(int vmid);
  Result<void> stop_locked(int vmid, std::chrono::milliseconds timeout);
  // True once the container no longer runs, false when `deadline` passed first.
  Result<bool> wait_stopped(int vmid, std::chrono::steady_clock::time_point deadline);
  std::string address_of(const Record& r) const;
  // The host id of the container's root (its slot's range).
  uint32_t id_base_of(const Record& r) const;
  const lxc::Ipv4Net& subnet_of(ContainerType type) const {
    return type == ContainerType::kGame ? game_ : dev_;
  }
  const std::string& bridge_of(ContainerType type) const {
    return type == ContainerType::kGame ? opts_.bridge_game : opts_.bridge_dev;
  }
  std::string log_tail(int vmid) const;

  LxcDriverOptions opts_;
  SlotStore& slots_;
  lxc::Ipv4Net dev_, game_;
  std::string lxcpath_;
  std::mutex locks_mu_;
  std::map<int, std::unique_ptr<std::mutex>> locks_;
  std::mutex fw_mu_;
  std::mutex lxc_mu_;  // liblxc calls that read its global state
  std::mutex checks_mu_;
  std::condition_variable checks_cv_;
  bool checks_stop_ = false;
  std::thread checks_;
};

}  // namespace zlh::api::drivers
