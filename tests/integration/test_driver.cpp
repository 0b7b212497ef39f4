#include "test_driver.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"

namespace zlh::testing {

namespace {

constexpr int kLxcSlots = 16;

}  // namespace

bool TestDriver::proxmox() {
  const char* d = std::getenv("ZLH_TEST_DRIVER");
  return d && std::string(d) == "proxmox";
}

bool TestDriver::lxc() {
  const char* d = std::getenv("ZLH_TEST_DRIVER");
  return d && std::string(d) == "lxc";
}

void TestDriver::start(const std::string& dir, const std::string& data, const std::string& store,
                       const std::string& keys) {
  dir_ = dir;
  data_ = data;
  if (lxc()) {
    ::chmod(dir.c_str(), 0711);  // the containers' mapped root traverses it to its rootfs
    auto r = crypto::random_bytes(4);
    const char* digits = "abcdefghijklmnopqrstuvwxyz0123456789";
    tag_ = "t";
    for (int i = 0; i < 4; ++i) tag_ += digits[uint8_t(r[size_t(i)]) % 36];
    net_a_ = 160 + uint8_t(r[0]) % 40;
    net_b_ = (uint8_t(r[1]) % 127) * 2;
    id_block_ =
        1 + uint8_t(r[2]) % 60;  // blocks of 16 slots above the default instance's first ones
    lxc_started_ = true;
    return;
  }
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
  ASSERT_TRUE(fs::write_file_atomic(dir + "/proxmox.toml",
                                    "url = \"" + pve_->url() + "\"\ntoken_file = \"" + dir +
                                        "/pve.token\"\n" + "ca_file = \"" + pve_->cert_file() +
                                        "\"\nlock_backoff_ms = 50\npoll_ms = 100\n" +
                                        "[templates]\npve1 = 9001\npve2 = 9002\npve3 = 9003\n"));
}

std::string TestDriver::lxc_gateway(bool game) const {
  return "10." + std::to_string(net_a_) + "." + std::to_string(net_b_ + (game ? 1 : 0)) + ".1";
}

std::string TestDriver::lxc_subnet(bool game) const {
  return "10." + std::to_string(net_a_) + "." + std::to_string(net_b_ + (game ? 1 : 0)) + ".0/24";
}

int64_t TestDriver::lxc_id_base() const { return 1000000 + int64_t(65536) * kLxcSlots * id_block_; }

std::vector<std::string> TestDriver::api_args() const {
  if (lxc()) {
    return {"--driver",
            "lxc",
            "--lxc-tag",
            tag_,
            "--lxc-bridge-dev",
            "z" + tag_ + "d",
            "--lxc-subnet-dev",
            lxc_subnet(false),
            "--lxc-bridge-game",
            "z" + tag_ + "g",
            "--lxc-subnet-game",
            lxc_subnet(true),
            "--lxc-id-base",
            std::to_string(lxc_id_base()),
            "--lxc-slots",
            std::to_string(kLxcSlots),
            "--lxc-disk-gb-default",
            "1"};
  }
  if (!proxmox()) return {"--driver", "local", "--insecure-local-driver"};
  return {"--driver", "proxmox", "--proxmox-config", dir_ + "/proxmox.toml"};
}

std::string TestDriver::ct_dir(int vmid) const {
  std::string v = std::to_string(vmid);
  if (lxc()) return data_ + "/lxc/" + tag_ + "-" + v + "/rootfs";
  return proxmox() ? dir_ + "/pve/cts/" + v + "/containers/" + v : data_ + "/containers/" + v;
}

int TestDriver::vmid_lo(int local_lo, int pick, int suite) const {
  return proxmox() ? 100 + suite * 400 + int(unsigned(pick) % 4) * 100 : local_lo;
}

void TestDriver::stop() {
  pve_.reset();
  if (!lxc_started_) return;
  lxc_started_ = false;
  // zlh-lxc-cleanup (lxc_cleanup.cpp): every container of the suite, then
  // its bridges and table, whatever state zlh-api left them in.
  const char* bin = std::getenv("ZLH_BIN_DIR");
  process::SpawnOptions o;
  o.argv = {std::string(bin ? bin : "build/bin") + "/zlh-lxc-cleanup",
            data_,
            tag_,
            "z" + tag_ + "d",
            lxc_subnet(false),
            "z" + tag_ + "g",
            lxc_subnet(true),
            std::to_string(lxc_id_base()),
            std::to_string(kLxcSlots)};
  o.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  auto r = process::run(o, std::chrono::minutes(5));
  if (!r || r->exit_code != 0)
    ADD_FAILURE() << "lxc cleanup: " << (r ? r->output : r.error().message);
}

}  // namespace zlh::testing
