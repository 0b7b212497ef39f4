#include "test_driver.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/fs.hpp"

namespace zlh::testing {

bool TestDriver::proxmox() {
  const char* d = std::getenv("ZLH_TEST_DRIVER");
  return d && std::string(d) == "proxmox";
}

void TestDriver::start(const std::string& dir, const std::string& data, const std::string& store,
                       const std::string& keys) {
  dir_ = dir;
  data_ = data;
  if (!proxmox()) return;
  ASSERT_TRUE(fs::make_dirs(dir + "/pve"));
  FakeProxmox::Options o;
  o.work_dir = dir + "/pve";
  o.real_cts = true;
  o.api_key = data + "/keys/api.pub";
  o.catalog_key = keys + "/catalog.pub";
  o.artifacts = "file://" + store;
  auto f = FakeProxmox::start(o);
  ASSERT_TRUE(f) << f.error().message;
  pve_ = std::move(*f);
  ASSERT_TRUE(fs::write_file_atomic(dir + "/pve.token", pve_->token() + "\n"));
  ASSERT_TRUE(fs::write_file_atomic(
      dir + "/proxmox.toml", "url = \"" + pve_->url() + "\"\ntoken_file = \"" + dir + "/pve.token\"\n" +
                                 "ca_file = \"" + pve_->cert_file() + "\"\nlock_backoff_ms = 50\npoll_ms = 100\n" +
                                 "[templates]\npve1 = 9001\npve2 = 9002\npve3 = 9003\n"));
}

std::vector<std::string> TestDriver::api_args() const {
  if (!proxmox()) return {};
  return {"--driver", "proxmox", "--proxmox-config", dir_ + "/proxmox.toml"};
}

std::string TestDriver::ct_dir(int vmid) const {
  std::string v = std::to_string(vmid);
  return proxmox() ? dir_ + "/pve/cts/" + v + "/containers/" + v : data_ + "/containers/" + v;
}

int TestDriver::vmid_lo(int local_lo, int pick, int suite) const {
  return proxmox() ? 100 + suite * 400 + int(unsigned(pick) % 4) * 100 : local_lo;
}

}  // namespace zlh::testing
