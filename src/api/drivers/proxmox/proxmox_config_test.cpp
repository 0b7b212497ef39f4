// proxmox.toml and the token: every key read, bad values refused with the
// key named, the secret never in a message.
#include "api/drivers/proxmox/proxmox_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "api/drivers/proxmox/proxmox_client.hpp"
#include "base/fs.hpp"

namespace zlh::api::drivers {
namespace {

namespace sfs = std::filesystem;
const std::string kToken = "zlh@pve!api=0b4c9d3e-secret-value";

class ProxmoxConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (sfs::temp_directory_path() / "zlh-pvecfg-XXXXXX").string();
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    dir_ = t;
    ::unsetenv(kProxmoxTokenEnv);
  }
  void TearDown() override {
    std::error_code ec;
    sfs::remove_all(dir_, ec);
    ::unsetenv(kProxmoxTokenEnv);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    EXPECT_TRUE(fs::write_file_atomic(p, text));
    return p;
  }
  std::string dir_;
};

TEST_F(ProxmoxConfigTest, ReadsEveryKey) {
  write("token", kToken + "\n");
  auto path = write("proxmox.toml", R"(
url = "https://pve1.example.com:8006/"
token_file = ")" + dir_ + R"(/token"
tls_verify = true
fingerprint = "sha256 ab:CD:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"
nodes = ["pve1", "pve2"]
storage = "fast"
pool = "zlh"
clones_per_node = 3
task_timeout_s = 120
lock_retries = 4
lock_backoff_ms = 50
poll_ms = 100
[templates]
"*" = 9000
pve2 = 9001
[bridges]
dev = "vmbr1"
game = "vmbr2"
[limits]
cores_default = 2
cores_max = 4
memory_mb_default = 1024
memory_mb_max = 8192
)");
  auto c = load_proxmox_config(path);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->url, "https://pve1.example.com:8006");
  EXPECT_EQ(c->token, kToken);
  EXPECT_EQ(c->token_id, "zlh@pve!api");
  ASSERT_TRUE(c->fingerprint.has_value());
  EXPECT_EQ((*c->fingerprint)[0], 0xab);
  EXPECT_EQ((*c->fingerprint)[31], 0x89);
  EXPECT_EQ(c->nodes, (std::vector<std::string>{"pve1", "pve2"}));
  EXPECT_EQ(c->storage, "fast");
  EXPECT_EQ(c->pool, "zlh");
  EXPECT_EQ(c->clones_per_node, 3);
  EXPECT_EQ(c->task_timeout, std::chrono::seconds(120));
  EXPECT_EQ(c->lock_retries, 4);
  EXPECT_EQ(c->template_for("pve2"), 9001);
  EXPECT_EQ(c->template_for("pve7"), 9000);
  EXPECT_EQ(c->bridges.at("dev"), "vmbr1");
  EXPECT_EQ(c->bridges.at("game"), "vmbr2");
  EXPECT_EQ(c->limits.cores_max, 4);
  EXPECT_EQ(c->limits.memory_mb_default, 1024);
}

TEST_F(ProxmoxConfigTest, TokenFromTheEnvironmentAndNeverInAnError) {
  auto path = write("proxmox.toml", "url = \"https://pve:8006\"\n[templates]\npve1 = 9000\n");
  auto none = load_proxmox_config(path);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().field, "token_file");
  ::setenv(kProxmoxTokenEnv, kToken.c_str(), 1);
  auto c = load_proxmox_config(path);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->token, kToken);
  EXPECT_FALSE(c->template_for("pve2").has_value());
  ::setenv(kProxmoxTokenEnv, "zlh@pve=no-token-id-secret", 1);
  auto bad = load_proxmox_config(path);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().field, "token");
  EXPECT_EQ(bad.error().message.find("no-token-id-secret"), std::string::npos)
      << bad.error().message;
}

TEST_F(ProxmoxConfigTest, BadValuesNameTheirKey) {
  ::setenv(kProxmoxTokenEnv, kToken.c_str(), 1);
  struct Case {
    std::string toml, field;
  } cases[] = {
      {"url = \"https://p\"\nnode = []\n[templates]\na = 9000\n", "node"},
      {"url = \"ftp://p\"\n[templates]\na = 9000\n", "url"},
      {"url = \"https://p\"\n", "templates"},
      {"url = \"https://p\"\n[templates]\na = 5\n", "templates.a"},
      {"url = \"https://p\"\nclones_per_node = 0\n[templates]\na = 9000\n", "clones_per_node"},
      {"url = \"https://p\"\nfingerprint = \"AB:CD\"\n[templates]\na = 9000\n", "fingerprint"},
      {"url = \"https://p\"\n[templates]\na = 9000\n[bridges]\ndev = \"vmbr1,ip=1.2.3.4\"\n",
       "bridges.dev"},
      {"url = \"https://p\"\n[templates]\na = 9000\n[bridges]\nweb = \"vmbr1\"\n", "bridges.web"},
      {"url = \"https://p\"\n[templates]\na = 9000\n[limits]\ncores_default = 9\ncores_max = 4\n",
       "limits"},
      {"url = \"https://p\"\nstorage = 5\n[templates]\na = 9000\n", "storage"},
      {"url = \"https://p\"\nca_file = \"/nonexistent/ca.pem\"\n[templates]\na = 9000\n",
       "ca_file"},
  };
  for (const auto& c : cases) {
    auto r = load_proxmox_config(write("p.toml", c.toml));
    ASSERT_FALSE(r.has_value()) << c.toml;
    EXPECT_EQ(r.error().field, c.field) << c.toml << " → " << r.error().message;
  }
  EXPECT_EQ(load_proxmox_config(dir_ + "/missing.toml").error().code, codes::kNotFound);
}

TEST_F(ProxmoxConfigTest, ThePackagedExampleLoads) {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto text = fs::read_file(std::string(src) + "/packaging/proxmox.toml.example");
  ASSERT_TRUE(text.has_value());
  std::string t = *text;
  // Its token_file is /etc/zlh/proxmox.token; point it at one of ours.
  auto at = t.find("/etc/zlh/proxmox.token");
  ASSERT_NE(at, std::string::npos);
  write("token", kToken);
  t.replace(at, 22, dir_ + "/token");
  auto c = load_proxmox_config(write("example.toml", t));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->template_for("any-node"), 9000);
  EXPECT_EQ(c->bridges.at("game"), "vmbr2");
  EXPECT_EQ(c->limits.memory_mb_max, 16384);
  EXPECT_FALSE(c->fingerprint.has_value());
}

TEST(ProxmoxErrors, LockAndMissingTextsAreRecognised) {
  EXPECT_TRUE(is_lock_error("CT is locked (clone)"));
  EXPECT_TRUE(is_lock_error("can't lock file '/run/lock/lxc/pve-config-123.conf' - got timeout"));
  EXPECT_FALSE(is_lock_error("CT 123 not running"));
  EXPECT_TRUE(is_missing("Configuration file 'nodes/pve1/lxc/123.conf' does not exist"));
  EXPECT_EQ(ProxmoxClient::encode("UPID:pve1:0000:zlh@pve!api:"),
            "UPID%3Apve1%3A0000%3Azlh%40pve%21api%3A");
}

}  // namespace
}  // namespace zlh::api::drivers
