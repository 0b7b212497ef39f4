// The lxc driver's pure parts (docs/drivers.md, "lxc"): IPv4 subnets, the
// liblxc configuration of one container and the nftables table of one
// zlh-api instance, as text. No system calls here: lxc_driver.cpp and
// lxc_host.cpp apply what these functions render, and lxc_plan_test.cpp
// checks the text.
//
// Thread-safety: plain functions on values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::drivers::lxc {

// Host ids of one container: the 65,536 ids from `base`.
inline constexpr uint32_t kIdsPerContainer = 65536;

// An IPv4 subnet "a.b.c.d/n" (8 <= n <= 30). Address 1 is the bridge's (the
// gateway); a container on slot s gets address s + 2.
struct Ipv4Net {
  uint32_t base = 0;  // network address, host order
  int prefix = 0;
  // E_INVALID (field `field`) for a malformed subnet or host bits set.
  static Result<Ipv4Net> parse(std::string_view text, std::string field);
  uint32_t size() const { return prefix >= 32 ? 1u : (1u << (32 - prefix)); }
  // Dotted quad of address `n` of the subnet; "" when n is the broadcast or past it.
  std::string host(uint32_t n) const;
  std::string cidr() const;  // "a.b.c.d/n"
  // Address 1: the bridge's own, the containers' gateway, and where zlh-api
  // listens for them.
  std::string gateway() const { return host(1); }
  // The gateway with the subnet's prefix ("10.77.0.1/16"), as the bridge holds it.
  std::string gateway_cidr() const { return gateway() + "/" + std::to_string(prefix); }
  bool overlaps(const Ipv4Net& o) const;
  // The most containers the subnet holds (network, gateway and broadcast excluded).
  int capacity() const { return int(size()) - 3; }
};
std::string dotted(uint32_t addr);

// What one container's liblxc configuration says (render_config).
struct CtConfig {
  std::string name;      // the liblxc name: <tag>-<vmid>
  std::string hostname;  // dev-<vmid>, mc-<variant>-<vmid>
  std::string rootfs;    // host directory: the mounted image
  uint32_t id_base = 0;  // host uid/gid of the container's root
  std::string bridge;
  std::string veth;     // host side of the veth, <= 15 characters
  std::string hwaddr;   // the container's MAC (mac_for): the same at every start
  std::string address;  // "10.77.0.2/16"
  std::string gateway;  // the bridge's address
  int memory_mb = 1024;
  int cpu_cores = 1;
  int pids_max = 4096;
  bool cgroup_v1 = true;    // the host's memory/cpu/pids controllers are v1 hierarchies
  bool memsw = true;        // v1: memory.memsw.* exists (swap accounted): no swap at all
  std::string net_up_hook;  // host command run when the veth is up (isolates the bridge port)
  std::string usr;          // host directory bind-mounted read-only at /usr ("/usr")
  // Files bind-mounted read-only: {host path, path inside without leading '/'}.
  std::vector<std::pair<std::string, std::string>> file_binds;
  std::vector<std::string> init;  // PID 1 and its arguments
  std::string log_file;
};
// The configuration file liblxc loads (lxc.container.conf(5)). E_INVALID
// when a value would break the format (a newline, a space in a path).
Result<std::string> render_config(const CtConfig& c);

// A game server's host port forwarded to its container.
struct Forward {
  int host_port = 0;
  std::string address;  // the container's address
  int port = 25565;
};

// The instance's nftables table (render_nft).
struct NftConfig {
  std::string table = "zlh";  // family inet
  std::vector<std::string> bridges;
  std::vector<Ipv4Net> subnets;
  std::vector<std::string> gateways;  // the bridges' host addresses
  int listener_port = 0;              // zlh-api's listener for containers on the gateways
  bool nat = true;
  std::vector<Forward> forwards;
};
// One nft(8) script that replaces the table atomically ("add table",
// "delete table", then the table: applied in one transaction). Policy, for
// traffic that touches the instance's bridges only (the host's other
// forwarding is left alone):
//   forward: established/related and DNATed connections accepted; from a
//            bridge out of the host (not to a bridge) accepted when nat is
//            on; everything else dropped — two containers are never joined
//            through the host;
//   input:   from a bridge, only established/related and TCP to
//            listener_port on a gateway address; the rest dropped;
//   nat:     masquerade from the subnets out of the host; each forward is a
//            DNAT of local addresses (not 127/8) at prerouting and output.
std::string render_nft(const NftConfig& n);

// The container's MAC for a slot: locally administered, unicast,
// 02:5a:<tag byte>:<slot, 3 bytes>. Stable across restarts, so the host's
// neighbour cache never holds a dead MAC for a restarted container's
// address (it did, for up to ~50 s, with liblxc's random MAC per start).
std::string mac_for(std::string_view tag, int slot);
// `vmid`'s veth name for an instance tag: "z<tag><vmid>" (tag <= 6 chars).
std::string veth_name(std::string_view tag, int vmid);
// E_INVALID unless 1-6 characters of [a-z0-9].
Result<void> check_tag(std::string_view tag);
// E_INVALID unless a valid interface name (1-15 of [A-Za-z0-9_.-]).
Result<void> check_ifname(std::string_view name, std::string field);

}  // namespace zlh::api::drivers::lxc
