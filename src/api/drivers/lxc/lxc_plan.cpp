#include "api/drivers/lxc/lxc_plan.hpp"

#include <charconv>
#include <cstdio>

namespace zlh::api::drivers::lxc {

namespace {

bool safe_value(std::string_view v) {
  for (char c : v)
    if (c == '\n' || c == '\r' || c == '\0') return false;
  return true;
}
bool safe_path(std::string_view v) {
  return !v.empty() && v[0] == '/' && safe_value(v) && v.find(' ') == v.npos;
}

}  // namespace

std::string dotted(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

Result<Ipv4Net> Ipv4Net::parse(std::string_view text, std::string field) {
  auto bad = [&](std::string why) {
    return std::unexpected(Error::invalid(field, field + ": " + why));
  };
  auto slash = text.find('/');
  if (slash == text.npos) return bad("want a.b.c.d/n");
  uint32_t addr = 0;
  std::string_view a = text.substr(0, slash);
  for (int i = 0; i < 4; ++i) {
    auto dot = i < 3 ? a.find('.') : a.size();
    if (dot == a.npos) return bad("want a.b.c.d/n");
    unsigned v = 0;
    auto part = a.substr(0, dot);
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || p != part.data() + part.size() || part.empty() || v > 255)
      return bad("bad address");
    addr = (addr << 8) | v;
    a = i < 3 ? a.substr(dot + 1) : a;
  }
  int n = 0;
  auto pre = text.substr(slash + 1);
  auto [p, ec] = std::from_chars(pre.data(), pre.data() + pre.size(), n);
  if (ec != std::errc() || p != pre.data() + pre.size() || n < 8 || n > 30)
    return bad("prefix must be 8..30");
  uint32_t mask = ~uint32_t(0) << (32 - n);
  if ((addr & ~mask) != 0) return bad("host bits set");
  return Ipv4Net{addr, n};
}

std::string Ipv4Net::host(uint32_t n) const {
  if (n == 0 || n >= size() - 1) return "";
  return dotted(base + n);
}

std::string Ipv4Net::cidr() const { return dotted(base) + "/" + std::to_string(prefix); }

bool Ipv4Net::overlaps(const Ipv4Net& o) const {
  uint64_t a0 = base, a1 = uint64_t(base) + size(), b0 = o.base, b1 = uint64_t(o.base) + o.size();
  return a0 < b1 && b0 < a1;
}

std::string mac_for(std::string_view tag, int slot) {
  uint8_t t = 0;
  for (char c : tag) t = uint8_t(t * 31 + uint8_t(c));
  char buf[32];
  std::snprintf(buf, sizeof buf, "02:5a:%02x:%02x:%02x:%02x", t, (unsigned(slot) >> 16) & 255,
                (unsigned(slot) >> 8) & 255, unsigned(slot) & 255);
  return buf;
}

std::string veth_name(std::string_view tag, int vmid) {
  return "z" + std::string(tag) + std::to_string(vmid);
}

Result<void> check_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 6)
    return std::unexpected(Error::invalid("lxc-tag", "lxc-tag: 1 to 6 characters"));
  for (char c : tag)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return std::unexpected(Error::invalid("lxc-tag", "lxc-tag: only a-z and 0-9"));
  return {};
}

Result<void> check_ifname(std::string_view name, std::string field) {
  if (name.empty() || name.size() > 15)
    return std::unexpected(
        Error::invalid(field, field + ": an interface name has 1 to 15 characters"));
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return std::unexpected(
          Error::invalid(field, field + ": only A-Z, a-z, 0-9, '_', '.' and '-'"));
  return {};
}

Result<std::string> render_config(const CtConfig& c) {
  for (const auto& p : {c.rootfs, c.usr, c.log_file})
    if (!safe_path(p)) return fail(codes::kInvalid, "lxc config: bad path '" + p + "'");
  for (const auto& [host, inside] : c.file_binds)
    if (!safe_path(host) || inside.empty() || inside[0] == '/' || !safe_value(inside) ||
        inside.find(' ') != inside.npos)
      return fail(codes::kInvalid, "lxc config: bad bind '" + host + "'");
  for (const auto& v :
       {c.name, c.hostname, c.bridge, c.veth, c.hwaddr, c.address, c.gateway, c.net_up_hook})
    if (!safe_value(v)) return fail(codes::kInvalid, "lxc config: bad value");
  if (c.init.empty()) return fail(codes::kInvalid, "lxc config: no init");
  std::string init;
  for (const auto& a : c.init) {
    if (a.empty() || a.find_first_of(" \t\n\r'\"\\") != a.npos)
      return fail(codes::kInvalid, "lxc config: init argument '" + a + "' needs quoting");
    init += (init.empty() ? "" : " ") + a;
  }
  const int64_t mem = int64_t(c.memory_mb) * 1024 * 1024;
  std::string s;
  auto kv = [&](std::string_view k, std::string_view v) {
    s += k;
    s += " = ";
    s += v;
    s += '\n';
  };
  s += "# written by zlh-api's lxc driver; rewritten at every start\n";
  kv("lxc.uts.name", c.hostname);
  kv("lxc.rootfs.path", "dir:" + c.rootfs);
  const std::string ids = std::to_string(c.id_base) + " " + std::to_string(kIdsPerContainer);
  kv("lxc.idmap", "u 0 " + ids);
  kv("lxc.idmap", "g 0 " + ids);
  // The host's /usr, read-only (merged-usr: bin, lib, lib64, sbin are links into it).
  kv("lxc.mount.entry", c.usr + " usr none bind,ro,nodev 0 0");
  for (const auto& [host, inside] : c.file_binds)
    kv("lxc.mount.entry", host + " " + inside + " none bind,ro,create=file 0 0");
  kv("lxc.mount.entry", "tmpfs run tmpfs rw,nosuid,nodev,mode=755 0 0");
  kv("lxc.mount.auto", "proc:mixed sys:mixed cgroup:ro:force");
  kv("lxc.autodev", "1");
  kv("lxc.pty.max", "1024");
  kv("lxc.tty.max", "0");
  kv("lxc.cap.drop", "sys_module sys_rawio sys_time mac_admin mac_override sys_boot");
  kv("lxc.net.0.type", "veth");
  kv("lxc.net.0.link", c.bridge);
  kv("lxc.net.0.veth.pair", c.veth);
  if (!c.hwaddr.empty()) kv("lxc.net.0.hwaddr", c.hwaddr);
  kv("lxc.net.0.name", "eth0");
  kv("lxc.net.0.flags", "up");
  kv("lxc.net.0.ipv4.address", c.address);
  kv("lxc.net.0.ipv4.gateway", c.gateway);
  if (!c.net_up_hook.empty()) kv("lxc.net.0.script.up", c.net_up_hook);
  if (c.cgroup_v1) {
    kv("lxc.cgroup.memory.limit_in_bytes", std::to_string(mem));
    if (c.memsw) kv("lxc.cgroup.memory.memsw.limit_in_bytes", std::to_string(mem));
    kv("lxc.cgroup.memory.swappiness", "0");
    kv("lxc.cgroup.cpu.cfs_period_us", "100000");
    kv("lxc.cgroup.cpu.cfs_quota_us", std::to_string(int64_t(c.cpu_cores) * 100000));
    kv("lxc.cgroup.pids.max", std::to_string(c.pids_max));
  } else {
    kv("lxc.cgroup2.memory.max", std::to_string(mem));
    kv("lxc.cgroup2.memory.swap.max", "0");
    kv("lxc.cgroup2.cpu.max", std::to_string(int64_t(c.cpu_cores) * 100000) + " 100000");
    kv("lxc.cgroup2.pids.max", std::to_string(c.pids_max));
  }
  kv("lxc.signal.halt", "SIGPWR");
  kv("lxc.init.cmd", init);
  kv("lxc.log.file", c.log_file);
  kv("lxc.log.level", "WARN");
  return s;
}

std::string render_nft(const NftConfig& n) {
  std::string brs, nets;
  for (const auto& b : n.bridges) brs += (brs.empty() ? "\"" : ", \"") + b + "\"";
  for (const auto& s : n.subnets) nets += (nets.empty() ? "" : ", ") + s.cidr();
  brs = "{ " + brs + " }";
  nets = "{ " + nets + " }";
  std::string s;
  // Create-then-delete makes the delete safe when the table is missing; the
  // whole script is one transaction, so the table is never seen half-made.
  s += "add table inet " + n.table + "\n";
  s += "delete table inet " + n.table + "\n";
  s += "table inet " + n.table + " {\n";
  s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  s += "    iifname " + brs + " ct state established,related accept\n";
  s += "    oifname " + brs + " ct state established,related accept\n";
  s += "    oifname " + brs + " ct status dnat accept\n";
  if (n.nat) s += "    iifname " + brs + " oifname != " + brs + " accept\n";
  s += "    iifname " + brs + " drop\n";
  s += "    oifname " + brs + " drop\n  }\n";
  s += "  chain input {\n    type filter hook input priority filter; policy accept;\n";
  s += "    iifname " + brs + " ct state established,related accept\n";
  if (n.listener_port > 0 && !n.gateways.empty()) {
    std::string gws;
    for (const auto& g : n.gateways) gws += (gws.empty() ? "" : ", ") + g;
    s += "    iifname " + brs + " ip daddr { " + gws + " } tcp dport " +
         std::to_string(n.listener_port) + " accept\n";
  }
  s += "    iifname " + brs + " drop\n  }\n";
  // The game ports, forwarded from the host's own addresses.
  std::string dnat;
  for (const auto& f : n.forwards)
    dnat += "    fib daddr type local ip daddr != 127.0.0.0/8 tcp dport " +
            std::to_string(f.host_port) + " dnat ip to " + f.address + ":" +
            std::to_string(f.port) + "\n";
  s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
  s += dnat;
  s += "  }\n";
  s += "  chain output {\n    type nat hook output priority -100; policy accept;\n";
  s += dnat;
  s += "  }\n";
  s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  if (n.nat) s += "    ip saddr " + nets + " oifname != " + brs + " masquerade\n";
  s += "  }\n}\n";
  return s;
}

}  // namespace zlh::api::drivers::lxc
