// The host side of the lxc driver (docs/drivers.md, "lxc"): images, loop
// mounts, the root filesystem skeleton, bridges, nftables, subordinate ids
// and cgroup counters. Each function is one OS operation, idempotent where
// it says so; the lxc driver composes them.
//
// Commands run through the one spawn door (base/process.hpp) with a fixed
// PATH and no shell: `ip` (iproute2), `nft` (nftables) and `mkfs.ext4`
// (e2fsprogs). Never an lxc-* tool: the container life cycle is liblxc's.
//
// Thread-safety: reentrant; the caller serializes operations on one
// container (the driver's per-vmid lock) and on the nftables table.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::drivers::lxc {

// ---- images and mounts ----
// A sparse file of `gb` GiB formatted ext4 whose root directory belongs to
// host uid/gid `owner` (the container's root). Made as <path>.tmp and
// renamed, so a crash never leaves a half-made image under `path`.
// Repeatable: an existing `path` is left alone. E_IO.
Result<void> make_image(const std::string& path, int gb, uint32_t owner);
// Mounts the ext4 image at `dir` through a fresh loop device that frees
// itself at unmount (LO_FLAGS_AUTOCLEAR), nosuid and nodev. Repeatable: a
// `dir` that already is a mount point is left alone. E_IO.
Result<void> mount_image(const std::string& image, const std::string& dir);
// Whether `dir` is a mount point (/proc/self/mountinfo). E_IO.
Result<bool> is_mount_point(const std::string& dir);
// Unmounts `dir` (and what is mounted below it); a `dir` that is no mount
// point is fine. A busy mount is detached lazily (its loop device goes when
// the last user does). E_IO.
Result<void> unmount(const std::string& dir);

// The writable part of a container: a private /etc (root-only accounts,
// hosts, resolv.conf with the host's upstream resolvers, and what the
// host's /usr needs from /etc: alternatives, ssl, java-*, ld.so.*, login
// and shell defaults, skel), /home, /opt, /var, /root, /tmp, /run, /srv,
// the merged-usr links, the agent's config (/etc/zlh/agent.toml), and
// mount points for /usr and the bind-mounted files. Everything is owned by
// host uid/gid `owner`. Repeatable: a finished skeleton (marker
// /etc/zlh/.skeleton) only gets its agent.toml, hosts and hostname
// rewritten. The rootfs is the tenant's once its container ran: every
// write is resolved beneath it (openat2, RESOLVE_BENEATH) and replaces
// final components by rename, so a planted symlink (etc -> /,
// etc/hosts -> /etc/shadow) is refused (E_BADPATH) or replaced, never
// followed out of the rootfs.
struct Skeleton {
  std::string rootfs;  // the mounted image
  uint32_t owner = 0;  // host id of the container's root
  std::string hostname;
  std::string agent_toml;                 // contents of /etc/zlh/agent.toml
  std::vector<std::string> bind_targets;  // files to create as mount points (relative)
  std::string etc = "/etc";               // where to copy from (tests)
};
Result<void> populate_rootfs(const Skeleton& s);
// Up to the last `max_bytes` of the regular file `rel` inside a container's
// rootfs, resolved beneath it (a symlink out of it, absolute or relative,
// is E_BADPATH: the host never reads a file the tenant pointed it to).
Result<std::string> read_tail_beneath(const std::string& rootfs, const std::string& rel,
                                      size_t max_bytes);
// The nameservers a container should use: the host's resolv.conf, with a
// host-local stub (127.0.0.0/8, ::1) replaced by systemd-resolved's
// upstreams (`resolved_conf`); never a loopback address.
std::vector<std::string> upstream_resolvers(
    const std::string& resolv_conf = "/etc/resolv.conf",
    const std::string& resolved_conf = "/run/systemd/resolve/resolv.conf");

// ---- network ----
// Creates the bridge when missing, gives it `address` ("10.77.0.1/16") and
// sets it up. Repeatable. E_IO.
Result<void> ensure_bridge(const std::string& name, const std::string& address);
// Deletes the bridge (missing is fine).
Result<void> delete_bridge(const std::string& name);
// Whether the interface exists.
bool link_exists(const std::string& name);
// Applies an nft(8) script in one transaction. E_IO with nft's message.
Result<void> nft_apply(const std::string& script);
// The table as `nft list table inet <name>` prints it; E_NOT_FOUND when missing.
Result<std::string> nft_list(const std::string& table);
// Deletes the table (missing is fine).
Result<void> nft_delete(const std::string& table);
// Sets net.ipv4.ip_forward=1 (host-wide); true when it had to change.
Result<bool> enable_ip_forward();
// Tables of other owners whose forward chain's policy is drop (Docker's),
// which would drop the containers' NAT traffic. Empty when none or unknown.
std::vector<std::string> foreign_forward_drops(const std::string& own_table);

// ---- subordinate ids ----
struct SubidRange {
  std::string owner;
  uint64_t start = 0, count = 0;
};
// /etc/subuid or /etc/subgid entries (a missing file has none).
std::vector<SubidRange> read_subids(const std::string& path);
// E_INVALID, saying what to write, unless `user` has one range covering
// [base, base+count) and no other owner's range overlaps it.
Result<void> check_subids(const std::vector<SubidRange>& ranges, const std::string& user,
                          uint64_t base, uint64_t count, const std::string& file);

// ---- cgroups ----
// Whether memory, cpu and pids are cgroup v1 hierarchies here (else v2).
bool cgroup_v1();
// E_INVALID naming the missing controller (memory, cpu, pids).
Result<void> check_cgroup_controllers();
struct Counters {
  uint64_t cpu_ns = 0;
  uint64_t memory_bytes = 0, memory_max = 0;
  uint64_t pids = 0;
  uint64_t oom_kills = 0;
};
// The counters of liblxc's payload cgroup of container `name`
// (lxc.payload.<name>); E_NOT_FOUND when it has none (not running).
Result<Counters> read_counters(const std::string& name);
// Bytes used and total of the filesystem mounted at `dir`.
Result<std::pair<uint64_t, uint64_t>> disk_usage(const std::string& dir);
// Bytes the CONTAINER received and sent through its veth, cumulative, read
// from <net_dir>/<veth>/statistics/{rx,tx}_bytes of the HOST side (net_dir:
// /sys/class/net): the host side's tx is the container's rx and vice versa.
// Reset when the veth is recreated (a container restart). E_NOT_FOUND when
// the veth does not exist (not running), E_IO for an unreadable counter.
struct NetBytes {
  uint64_t rx = 0, tx = 0;
};
Result<NetBytes> veth_bytes(const std::string& net_dir, const std::string& veth);

}  // namespace zlh::api::drivers::lxc
