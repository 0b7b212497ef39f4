// The rootfs writers against a hostile container root: symlinks planted in
// the rootfs never make the host write or read outside it.
#include "api/drivers/lxc/lxc_host.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"

namespace zlh::api::drivers::lxc {
namespace {

struct Tmp {
  std::string path;
  Tmp() {
    char t[] = "/tmp/zlh-lxc-host-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Tmp() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

Skeleton skeleton(const std::string& dir) {
  Skeleton s;
  s.rootfs = dir + "/rootfs";
  s.owner = ::geteuid();
  s.hostname = "dev-6001";
  s.agent_toml = "vmid = 6001\n";
  s.bind_targets = {"opt/zlh-agent/bin/zlh-agent"};
  s.etc = dir + "/host-etc";
  return s;
}

TEST(LxcHost, SkeletonHoldsTheAccountsTheHostEtcAndTheAgentConfig) {
  Tmp t;
  ASSERT_TRUE(fs::make_dirs(t.path + "/rootfs"));
  ASSERT_TRUE(fs::make_dirs(t.path + "/host-etc/alternatives"));
  ASSERT_TRUE(fs::write_file_atomic(t.path + "/host-etc/profile", "export PATH\n", 0644));
  ASSERT_TRUE(fs::write_file_atomic(t.path + "/host-etc/alternatives/awk-target", "x", 0755));
  ASSERT_EQ(::symlink("/usr/bin/mawk", (t.path + "/host-etc/alternatives/awk").c_str()), 0);
  ASSERT_TRUE(populate_rootfs(skeleton(t.path)));
  const std::string r = t.path + "/rootfs";
  EXPECT_EQ(fs::read_file(r + "/etc/profile").value_or(""), "export PATH\n");
  EXPECT_EQ(std::filesystem::read_symlink(r + "/etc/alternatives/awk"), "/usr/bin/mawk");
  EXPECT_NE(fs::read_file(r + "/etc/passwd").value_or("").find("root:x:0:0:"), std::string::npos);
  EXPECT_EQ(fs::read_file(r + "/etc/passwd").value_or("").find("dev:"), std::string::npos);
  EXPECT_EQ(fs::read_file(r + "/etc/zlh/agent.toml").value_or(""), "vmid = 6001\n");
  EXPECT_EQ(fs::read_file(r + "/etc/hostname").value_or(""), "dev-6001\n");
  EXPECT_TRUE(std::filesystem::is_regular_file(r + "/opt/zlh-agent/bin/zlh-agent"));
  struct stat st {};
  ASSERT_EQ(::stat((r + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  ASSERT_EQ(::stat((r + "/etc/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777,
            0600u);  // root-only, as the agent writes it (proto/base_accounts.hpp)
  // Repeatable: a second run keeps the skeleton and rewrites the config.
  auto again = skeleton(t.path);
  again.agent_toml = "vmid = 6001\nartifacts = \"x\"\n";
  ASSERT_TRUE(populate_rootfs(again));
  EXPECT_EQ(fs::read_file(r + "/etc/zlh/agent.toml").value_or(""), again.agent_toml);
}

TEST(LxcHost, PlantedSymlinksAreReplacedOrRefusedNeverFollowedOut) {
  Tmp t;
  ASSERT_TRUE(fs::make_dirs(t.path + "/rootfs"));
  ASSERT_TRUE(fs::make_dirs(t.path + "/host-etc"));
  ASSERT_TRUE(populate_rootfs(skeleton(t.path)));
  const std::string r = t.path + "/rootfs";
  // A file of the host that a container root would like to overwrite or read.
  const std::string victim = t.path + "/victim";
  ASSERT_TRUE(fs::write_file_atomic(victim, "secret\n", 0600));

  // etc/hosts -> the victim (absolute): replaced by a file, victim untouched.
  ASSERT_EQ(::unlink((r + "/etc/hosts").c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (r + "/etc/hosts").c_str()), 0);
  ASSERT_TRUE(populate_rootfs(skeleton(t.path)));
  EXPECT_EQ(fs::read_file(victim).value_or(""), "secret\n");
  EXPECT_FALSE(std::filesystem::is_symlink(r + "/etc/hosts"));

  // etc/zlh -> a host directory: refused, nothing written there.
  const std::string outside = t.path + "/outside";
  ASSERT_TRUE(fs::make_dirs(outside));
  std::filesystem::remove_all(r + "/etc/zlh");
  ASSERT_EQ(::symlink(outside.c_str(), (r + "/etc/zlh").c_str()), 0);
  auto refused = populate_rootfs(skeleton(t.path));
  EXPECT_FALSE(refused);
  EXPECT_TRUE(std::filesystem::is_empty(outside));
  // Relative escapes too (etc -> ../..).
  std::filesystem::remove_all(r + "/etc");
  ASSERT_EQ(::symlink("../..", (r + "/etc").c_str()), 0);
  EXPECT_FALSE(populate_rootfs(skeleton(t.path)));
  EXPECT_FALSE(std::filesystem::exists(t.path + "/zlh"));
  EXPECT_FALSE(std::filesystem::exists(t.path + "/hosts"));

  // The agent's log, read for error messages: never through a link out.
  ASSERT_TRUE(fs::make_dirs(r + "/var/log"));
  ASSERT_EQ(::symlink(victim.c_str(), (r + "/var/log/zlh-agent.log").c_str()), 0);
  auto leak = read_tail_beneath(r, "var/log/zlh-agent.log", 1024);
  ASSERT_FALSE(leak);
  EXPECT_EQ(leak.error().code, codes::kBadPath);
  ASSERT_EQ(::unlink((r + "/var/log/zlh-agent.log").c_str()), 0);
  ASSERT_TRUE(fs::write_file_atomic(r + "/var/log/zlh-agent.log", "one\ntwo\nthree\n"));
  EXPECT_EQ(read_tail_beneath(r, "var/log/zlh-agent.log", 6).value_or(""), "three\n");
}

// DNS inside containers: the host's nameservers, with a host-local stub
// (systemd-resolved's 127.0.0.53) replaced by its upstreams.
TEST(LxcHost, UpstreamResolversReplaceALoopbackStubByItsUpstreams) {
  Tmp t;
  const std::string host = t.path + "/resolv.conf", resolved = t.path + "/resolved.conf";
  ASSERT_TRUE(fs::write_file_atomic(resolved,
                                    "# systemd-resolved's upstreams\n"
                                    "nameserver 192.0.2.1\nnameserver 127.0.0.1\n"
                                    "nameserver 2001:db8::53\nsearch example\n"));
  // No stub: the host's own nameservers, the upstreams not read.
  ASSERT_TRUE(fs::write_file_atomic(host, "nameserver 198.51.100.7\noptions edns0\n"));
  EXPECT_EQ(upstream_resolvers(host, resolved), std::vector<std::string>{"198.51.100.7"});
  // A stub (127.x or ::1): replaced by the upstreams, never a loopback address.
  ASSERT_TRUE(fs::write_file_atomic(host, "nameserver 127.0.0.53\noptions edns0 trust-ad\n"));
  EXPECT_EQ(upstream_resolvers(host, resolved),
            (std::vector<std::string>{"192.0.2.1", "2001:db8::53"}));
  ASSERT_TRUE(fs::write_file_atomic(host, "nameserver ::1\nnameserver 203.0.113.9\n"));
  EXPECT_EQ(upstream_resolvers(host, resolved),
            (std::vector<std::string>{"203.0.113.9", "192.0.2.1", "2001:db8::53"}));
  // A stub without systemd-resolved's file: nothing rather than the stub.
  ASSERT_TRUE(fs::write_file_atomic(host, "nameserver 127.0.0.53\n"));
  EXPECT_TRUE(upstream_resolvers(host, t.path + "/absent").empty());
}

// /etc/subuid and /etc/subgid: the containers' ids must lie in a range of
// zlh-api's user (or of uid 0) and in nobody else's.
TEST(LxcHost, SubidsMustCoverTheContainersIdsAndOverlapNoOtherUser) {
  Tmp t;
  const std::string file = t.path + "/subuid";
  ASSERT_TRUE(fs::write_file_atomic(file,
                                    "alice:100000:65536\n"
                                    "garbage line\n"
                                    "root:1000000:655360\n"
                                    "bob:x:1\n"));
  auto ranges = read_subids(file);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].owner, "alice");
  EXPECT_EQ(ranges[0].start, 100000u);
  EXPECT_EQ(ranges[0].count, 65536u);
  EXPECT_EQ(ranges[1].owner, "root");
  EXPECT_EQ(ranges[1].start, 1000000u);
  EXPECT_EQ(ranges[1].count, 655360u);
  EXPECT_TRUE(read_subids(t.path + "/absent").empty());

  // Covered by root's range (by name or by uid 0), nobody else's overlaps.
  EXPECT_TRUE(check_subids(ranges, "root", 1000000, 65536 * 10, "/etc/subuid"));
  EXPECT_TRUE(check_subids({{"0", 1000000, 655360}}, "root", 1065536, 65536, "/etc/subuid"));
  // Past the end of root's range: refused, saying what to add.
  auto past = check_subids(ranges, "root", 1000000, 65536 * 11, "/etc/subuid");
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, codes::kInvalid);
  EXPECT_NE(past.error().message.find("/etc/subuid"), std::string::npos) << past.error().message;
  EXPECT_NE(past.error().message.find("root:1000000:720896"), std::string::npos)
      << past.error().message;
  // Another user's range overlapping the containers' ids: refused, naming it,
  // even when root's range covers them.
  auto overlap = check_subids({{"root", 1000000, 655360}, {"carol", 1600000, 65536}}, "root",
                              1000000, 655360, "/etc/subgid");
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().code, codes::kInvalid);
  EXPECT_NE(overlap.error().message.find("carol"), std::string::npos) << overlap.error().message;
  EXPECT_NE(overlap.error().message.find("overlaps"), std::string::npos) << overlap.error().message;
  // Adjacent is not overlapping.
  EXPECT_TRUE(check_subids({{"root", 1000000, 655360}, {"carol", 1655360, 65536}}, "root", 1000000,
                           655360, "/etc/subgid"));
  // No range at all.
  EXPECT_FALSE(check_subids({}, "root", 1000000, 65536, "/etc/subuid"));
}

// The host side's counters are swapped: what the host sends down the veth is
// what the container receives.
TEST(LxcHost, VethBytesAreTheContainersViewOfTheHostSide) {
  Tmp t;
  std::filesystem::create_directories(t.path + "/zabc6001/statistics");
  ASSERT_TRUE(fs::write_file_atomic(t.path + "/zabc6001/statistics/rx_bytes", "100\n"));
  ASSERT_TRUE(fs::write_file_atomic(t.path + "/zabc6001/statistics/tx_bytes", "7000\n"));
  auto n = veth_bytes(t.path, "zabc6001");
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(n->rx, 7000u);
  EXPECT_EQ(n->tx, 100u);
  auto missing = veth_bytes(t.path, "zabc6002");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(codes::kNotFound));
  ASSERT_TRUE(fs::write_file_atomic(t.path + "/zabc6001/statistics/rx_bytes", "junk"));
  EXPECT_FALSE(veth_bytes(t.path, "zabc6001"));
}

}  // namespace
}  // namespace zlh::api::drivers::lxc
