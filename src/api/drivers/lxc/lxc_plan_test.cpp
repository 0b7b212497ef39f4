#include "api/drivers/lxc/lxc_plan.hpp"

#include <gtest/gtest.h>

namespace zlh::api::drivers::lxc {
namespace {

TEST(LxcPlan, SubnetsParseAndHandOutHosts) {
  auto n = Ipv4Net::parse("10.77.0.0/16", "s");
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(n->host(1), "10.77.0.1");
  EXPECT_EQ(n->gateway(), "10.77.0.1");
  EXPECT_EQ(n->gateway_cidr(), "10.77.0.1/16");
  EXPECT_EQ(n->host(258), "10.77.1.2");
  EXPECT_EQ(n->host(65535), "");  // broadcast
  EXPECT_EQ(n->host(0), "");
  EXPECT_EQ(n->cidr(), "10.77.0.0/16");
  EXPECT_EQ(n->capacity(), 65533);
  EXPECT_EQ(Ipv4Net::parse("10.77.0.1/16", "s").error().field, "s");  // host bits
  EXPECT_FALSE(Ipv4Net::parse("10.77.0.0/31", "s"));
  EXPECT_FALSE(Ipv4Net::parse("10.77.0/16", "s"));
  EXPECT_FALSE(Ipv4Net::parse("10.256.0.0/16", "s"));
  EXPECT_FALSE(Ipv4Net::parse("10.77.0.0", "s"));
  EXPECT_TRUE(n->overlaps(*Ipv4Net::parse("10.77.128.0/24", "s")));
  EXPECT_FALSE(n->overlaps(*Ipv4Net::parse("10.78.0.0/16", "s")));
}

TEST(LxcPlan, NamesAreCheckedAndFitAnInterfaceName) {
  EXPECT_TRUE(check_tag("zlh"));
  EXPECT_FALSE(check_tag(""));
  EXPECT_FALSE(check_tag("toolong7"));
  EXPECT_FALSE(check_tag("a-b"));
  EXPECT_EQ(veth_name("abcdef", 65535), "zabcdef65535");
  EXPECT_LE(veth_name("abcdef", 65535).size(), 15u);
  EXPECT_EQ(mac_for("zlh", 0x010203).substr(0, 6), "02:5a:");
  EXPECT_EQ(mac_for("zlh", 0x010203).substr(8), ":01:02:03");
  EXPECT_EQ(mac_for("zlh", 7), mac_for("zlh", 7));
  EXPECT_NE(mac_for("zlh", 7), mac_for("zlh", 8));
  EXPECT_TRUE(check_ifname("zlhgame0", "b"));
  EXPECT_FALSE(check_ifname("0123456789abcdef", "b"));
  EXPECT_FALSE(check_ifname("a b", "b"));
}

CtConfig sample() {
  CtConfig c;
  c.name = "zlh-6001";
  c.hostname = "dev-6001";
  c.rootfs = "/var/zlh/lxc/zlh-6001/rootfs";
  c.id_base = 1065536;
  c.bridge = "zlhdev0";
  c.veth = "zzlh6001";
  c.hwaddr = "02:5a:01:00:00:01";
  c.address = "10.77.0.3/16";
  c.gateway = "10.77.0.1";
  c.memory_mb = 512;
  c.cpu_cores = 2;
  c.usr = "/usr";
  c.file_binds = {{"/opt/zlh/bin/zlh-agent", "opt/zlh-agent/bin/zlh-agent"}};
  c.init = {"/opt/zlh-agent/bin/zlh-init", "--", "/opt/zlh-agent/bin/zlh-agent", "--root", "/"};
  c.log_file = "/var/zlh/lxc/zlh-6001/lxc.log";
  c.net_up_hook = "/opt/zlh/bin/zlh-lxc-helper net-up";
  return c;
}

TEST(LxcPlan, ConfigMapsIdsLimitsNetworkAndReadOnlyBinds) {
  auto text = render_config(sample());
  ASSERT_TRUE(text) << text.error().message;
  for (const char* want :
       {"lxc.idmap = u 0 1065536 65536\n", "lxc.idmap = g 0 1065536 65536\n",
        "lxc.rootfs.path = dir:/var/zlh/lxc/zlh-6001/rootfs\n",
        "lxc.mount.entry = /usr usr none bind,ro,nodev 0 0\n",
        "lxc.mount.entry = /opt/zlh/bin/zlh-agent opt/zlh-agent/bin/zlh-agent none "
        "bind,ro,create=file 0 0\n",
        "lxc.cgroup.memory.limit_in_bytes = 536870912\n",
        "lxc.cgroup.memory.memsw.limit_in_bytes = 536870912\n",
        "lxc.cgroup.cpu.cfs_quota_us = 200000\n", "lxc.cgroup.pids.max = 4096\n",
        "lxc.net.0.link = zlhdev0\n", "lxc.net.0.veth.pair = zzlh6001\n",
        "lxc.net.0.hwaddr = 02:5a:01:00:00:01\n", "lxc.net.0.ipv4.address = 10.77.0.3/16\n",
        "lxc.net.0.ipv4.gateway = 10.77.0.1\n",
        "lxc.net.0.script.up = /opt/zlh/bin/zlh-lxc-helper net-up\n",
        "lxc.init.cmd = /opt/zlh-agent/bin/zlh-init -- /opt/zlh-agent/bin/zlh-agent --root /\n",
        "lxc.uts.name = dev-6001\n"})
    EXPECT_NE(text->find(want), std::string::npos) << want;
  auto v2 = sample();
  v2.cgroup_v1 = false;
  auto t2 = render_config(v2);
  ASSERT_TRUE(t2);
  EXPECT_NE(t2->find("lxc.cgroup2.memory.max = 536870912\n"), std::string::npos);
  EXPECT_NE(t2->find("lxc.cgroup2.memory.swap.max = 0\n"), std::string::npos);
  EXPECT_NE(t2->find("lxc.cgroup2.cpu.max = 200000 100000\n"), std::string::npos);
}

TEST(LxcPlan, ConfigRefusesValuesThatWouldBreakItsFormat) {
  auto c = sample();
  c.hostname = "dev\nlxc.idmap = u 0 0 65536";
  EXPECT_FALSE(render_config(c));
  c = sample();
  c.rootfs = "/a b";
  EXPECT_FALSE(render_config(c));
  c = sample();
  c.file_binds = {{"/x", "/etc/abs"}};
  EXPECT_FALSE(render_config(c));
  c = sample();
  c.init = {"/bin/sh", "-c", "rm -rf /"};
  EXPECT_FALSE(render_config(c));
}

TEST(LxcPlan, FirewallIsolatesContainersAndForwardsGamePorts) {
  NftConfig n;
  n.table = "zlh_t1";
  n.bridges = {"zt1d", "zt1g"};
  n.subnets = {*Ipv4Net::parse("10.201.0.0/24", "s"), *Ipv4Net::parse("10.201.1.0/24", "s")};
  n.gateways = {"10.201.0.1", "10.201.1.1"};
  n.listener_port = 8089;
  n.forwards = {{25600, "10.201.1.2", 25565}};
  std::string s = render_nft(n);
  EXPECT_EQ(s.find("add table inet zlh_t1\ndelete table inet zlh_t1\ntable inet zlh_t1 {"), 0u);
  EXPECT_NE(s.find("iifname { \"zt1d\", \"zt1g\" } oifname != { \"zt1d\", \"zt1g\" } accept"),
            std::string::npos);
  EXPECT_NE(s.find("    iifname { \"zt1d\", \"zt1g\" } drop\n    oifname"), std::string::npos);
  EXPECT_NE(s.find("ip daddr { 10.201.0.1, 10.201.1.1 } tcp dport 8089 accept"), std::string::npos);
  // Both prerouting (from outside) and output (from the host itself).
  const std::string dnat = "tcp dport 25600 dnat ip to 10.201.1.2:25565";
  auto first = s.find(dnat);
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(s.find(dnat, first + 1), std::string::npos);
  EXPECT_NE(
      s.find(
          "ip saddr { 10.201.0.0/24, 10.201.1.0/24 } oifname != { \"zt1d\", \"zt1g\" } masquerade"),
      std::string::npos);
  n.nat = false;
  std::string off = render_nft(n);
  EXPECT_EQ(off.find("masquerade"), std::string::npos);
  EXPECT_EQ(off.find("oifname != { \"zt1d\", \"zt1g\" } accept"), std::string::npos);
}

}  // namespace
}  // namespace zlh::api::drivers::lxc
