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

}  // namespace
}  // namespace zlh::api::drivers::lxc
