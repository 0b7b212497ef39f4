// The lxc driver's host side (lxc_driver.hpp): the self-check and open(),
// the firewall table, the periodic host check, restoring containers after a
// reboot, and removing the instance's network. The container life cycle is
// in lxc_driver.cpp.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "api/drivers/lxc/lxc_driver.hpp"
#include "api/drivers/lxc/lxc_host.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"

namespace zlh::api::drivers {

// ---- setup ----

Result<void> LxcDriver::self_check(const LxcDriverOptions& o) {
  if (::geteuid() != 0)
    return fail(codes::kInvalid, "the lxc driver needs root (zlh-api runs as uid " +
                                     std::to_string(::geteuid()) + ")");
  if (auto r = lxc::check_tag(o.tag); !r) return r;
  if (auto r = lxc::check_ifname(o.bridge_dev, "lxc-bridge-dev"); !r) return r;
  if (auto r = lxc::check_ifname(o.bridge_game, "lxc-bridge-game"); !r) return r;
  if (o.bridge_dev == o.bridge_game)
    return fail(Error::invalid("lxc-bridge-game", "the two bridges must differ"));
  if (o.slots < 1 || o.slots > 60000)
    return fail(Error::invalid("lxc-slots", "lxc-slots must be 1..60000"));
  const uint64_t count = uint64_t(lxc::kIdsPerContainer) * uint64_t(o.slots);
  if (uint64_t(o.id_base) < 65536 || uint64_t(o.id_base) + count > 0xFFFFFFFFull)
    return fail(Error::invalid("lxc-id-base",
                               "lxc-id-base must be at least 65536 and leave room for the slots"));
  for (const char* f : {"/etc/subuid", "/etc/subgid"})
    if (auto r = lxc::check_subids(lxc::read_subids(f), o.user, o.id_base, count, f); !r) return r;
  if (auto r = lxc::check_cgroup_controllers(); !r) return r;
  for (const char* tool : {"/usr/sbin/nft", "/usr/bin/ip", "/usr/sbin/mkfs.ext4"}) {
    std::string alt = std::string("/sbin/") + (std::strrchr(tool, '/') + 1);
    if (::access(tool, X_OK) != 0 && ::access(alt.c_str(), X_OK) != 0)
      return fail(codes::kInvalid, std::string("missing ") + tool +
                                       " (scripts/install-deps.sh installs nftables, "
                                       "iproute2 and e2fsprogs)");
  }
  if (::access("/dev/loop-control", R_OK | W_OK) != 0)
    return fail(codes::kInvalid,
                "missing /dev/loop-control (the loop module): container disks are loop images");
  for (const char* b : {"zlh-agent", "zlh-shim", "zlh-init", "zlh-lxc-helper"})
    if (::access((o.bin_dir + "/" + b).c_str(), X_OK) != 0)
      return fail(codes::kInvalid, "missing " + o.bin_dir + "/" + b);
  auto dev = lxc::Ipv4Net::parse(o.subnet_dev, "lxc-subnet-dev");
  if (!dev) return fail(dev.error());
  auto game = lxc::Ipv4Net::parse(o.subnet_game, "lxc-subnet-game");
  if (!game) return fail(game.error());
  if (dev->overlaps(*game))
    return fail(Error::invalid("lxc-subnet-game", "the dev and game subnets overlap"));
  for (auto* n : {&*dev, &*game})
    if (n->capacity() < o.slots)
      return fail(Error::invalid(
          "lxc-slots", "subnet " + n->cidr() + " holds " + std::to_string(n->capacity()) +
                           " containers, fewer than lxc-slots " + std::to_string(o.slots)));
  if (o.listener_port < 0 || o.listener_port > 65535)
    return fail(Error::invalid("lxc-listener-port", "lxc-listener-port must be a port"));
  if (::access("/usr/bin/newuidmap", X_OK) != 0)
    log::warn("lxc", "newuidmap missing (package uidmap): liblxc writes the id maps itself");
  return {};
}

Result<std::unique_ptr<LxcDriver>> LxcDriver::open(LxcDriverOptions opts, SlotStore& slots) {
  if (opts.data_dir.empty() || opts.bin_dir.empty())
    return fail(Error::invalid("data", "data_dir and bin_dir are required"));
  if (auto r = self_check(opts); !r) return fail(r.error().wrap("lxc driver"));
  auto dev = *lxc::Ipv4Net::parse(opts.subnet_dev, "lxc-subnet-dev");
  auto game = *lxc::Ipv4Net::parse(opts.subnet_game, "lxc-subnet-game");
  // The containers' mapped root must traverse <data> and <data>/lxc to
  // reach its rootfs: search permission only, no listing.
  if (auto r = fs::make_dirs(opts.data_dir + "/lxc", 0711); !r) return fail(r.error());
  ::chmod(opts.data_dir.c_str(), 0711);
  ::chmod((opts.data_dir + "/lxc").c_str(), 0711);
  for (std::string p = opts.data_dir; p.size() > 1;
       p = p.substr(0, std::max<size_t>(p.rfind('/'), 1))) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0)
      return fail(codes::kInvalid, "lxc driver: the containers' root cannot reach its files: " + p +
                                       " has no search permission for others (chmod o+x " + p +
                                       ")");
  }
  std::unique_ptr<LxcDriver> d(new LxcDriver(std::move(opts), slots, dev, game));
  if (auto r = d->check_host(); !r) return fail(r.error().wrap("lxc driver"));
  if (d->opts_.nat) {
    auto changed = lxc::enable_ip_forward();
    if (!changed) return fail(changed.error());
    log::info("lxc", *changed
                         ? "enabled net.ipv4.ip_forward (host-wide) for the containers' NAT"
                         : "net.ipv4.ip_forward is on (host-wide; the containers' NAT needs it)");
    for (const auto& t : lxc::foreign_forward_drops(d->nft_table()))
      log::warn("lxc",
                "another forward chain drops by default and may drop the containers' NAT traffic",
                {{"table", t}});
  }
  log::info("lxc", "lxc driver ready",
            {{"lxcpath", d->lxcpath_},
             {"bridge_dev", d->opts_.bridge_dev + " " + dev.cidr()},
             {"bridge_game", d->opts_.bridge_game + " " + game.cidr()},
             {"nft_table", "inet " + d->nft_table()},
             {"ids",
              std::to_string(d->opts_.id_base) + "+" + std::to_string(d->opts_.slots) + "x65536"}});
  return d;
}

// ---- host ----

Result<void> LxcDriver::apply_firewall() {
  std::lock_guard lk(fw_mu_);
  lxc::NftConfig n;
  n.table = nft_table();
  n.bridges = {opts_.bridge_dev, opts_.bridge_game};
  n.subnets = {dev_, game_};
  n.gateways = gateways();
  n.listener_port = opts_.listener_port;
  n.nat = opts_.nat;
  for (int v : list_vmids())
    if (auto r = load(v); r && *r && (*r)->type == ContainerType::kGame && (*r)->game_port > 0)
      n.forwards.push_back({(*r)->game_port, address_of(**r), kGamePort});
  return lxc::nft_apply(lxc::render_nft(n));
}

Result<void> LxcDriver::check_host() {
  for (const auto* t : {&dev_, &game_}) {
    const std::string& br = t == &dev_ ? opts_.bridge_dev : opts_.bridge_game;
    if (!lxc::link_exists(br))
      log::info("lxc", "creating bridge", {{"bridge", br}, {"subnet", t->cidr()}});
    if (auto r = lxc::ensure_bridge(br, t->gateway_cidr()); !r) return r;
  }
  auto listed = lxc::nft_list(nft_table());
  bool restore = !listed || listed->find("hook forward") == std::string::npos;
  if (!restore) {
    // Every forward of a game container must be in the table.
    std::lock_guard lk(fw_mu_);
    for (int v : list_vmids())
      if (auto r = load(v);
          r && *r && (*r)->game_port > 0 &&
          listed->find("dport " + std::to_string((*r)->game_port) + " ") == std::string::npos)
        restore = true;
  }
  if (restore) {
    if (listed)
      log::warn("lxc", "the firewall table lost rules: restoring it", {{"table", nft_table()}});
    return apply_firewall();
  }
  return {};
}

void LxcDriver::start_host_checks(std::chrono::milliseconds interval) {
  checks_ = std::thread([this, interval] {
    std::unique_lock lk(checks_mu_);
    while (!checks_cv_.wait_for(lk, interval, [this] { return checks_stop_; })) {
      lk.unlock();
      if (auto r = check_host(); !r)
        log::warn("lxc", "host check failed", {{"error", r.error().message}});
      lk.lock();
    }
  });
}

int LxcDriver::restore_running() {
  int started = 0;
  const std::vector<int> vmids = list_vmids();
  for (int v : vmids) {
    auto r = load(v);
    if (!r || !*r || !(*r)->want_running) continue;
    auto run = running(v);
    if (!run || *run) continue;
    if (auto s = start(v); s) {
      ++started;
      log::info("lxc", "brought a container back", {{"vmid", v}});
    } else {
      log::warn("lxc", "cannot bring a container back",
                {{"vmid", v}, {"error", s.error().message}});
    }
  }
  return started;
}

std::vector<int> LxcDriver::list_vmids() const {
  std::vector<int> out;
  DIR* d = ::opendir(lxcpath_.c_str());
  if (!d) return out;
  const std::string prefix = opts_.tag + "-";
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.rfind(prefix, 0) != 0) continue;
    const std::string num = name.substr(prefix.size());
    if (num.size() > 5 || num.find_first_not_of("0123456789") != std::string::npos) continue;
    int v = std::stoi(num);
    if (check_vmid(v)) out.push_back(v);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> LxcDriver::remove_host_network() {
  if (auto r = lxc::nft_delete(nft_table()); !r) return r;
  if (auto r = lxc::delete_bridge(opts_.bridge_dev); !r) return r;
  return lxc::delete_bridge(opts_.bridge_game);
}

}  // namespace zlh::api::drivers
