#include "test_driver.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "api/drivers/lxc/lxc_driver.hpp"
#include "common/crypto.hpp"
#include "common/fs.hpp"

namespace zlh::testing {

namespace {

// Slots are held by the suite's zlh-api in its store; the cleanup only frees.
class NoSlots final : public api::drivers::SlotStore {
 public:
  Result<int> acquire(int, int) override { return fail(codes::kUnavailable, "cleanup only"); }
  Result<void> release(int) override { return {}; }
};

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

std::vector<std::string> TestDriver::api_args() const {
  if (lxc()) {
    auto net = [&](int b) {
      return "10." + std::to_string(net_a_) + "." + std::to_string(b) + ".0/24";
    };
    return {"--driver",
            "lxc",
            "--lxc-tag",
            tag_,
            "--lxc-bridge-dev",
            "z" + tag_ + "d",
            "--lxc-subnet-dev",
            net(net_b_),
            "--lxc-bridge-game",
            "z" + tag_ + "g",
            "--lxc-subnet-game",
            net(net_b_ + 1),
            "--lxc-id-base",
            std::to_string(1000000 + 65536 * kLxcSlots * id_block_),
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
  api::drivers::LxcDriverOptions o;
  o.data_dir = data_;
  o.bin_dir = std::getenv("ZLH_BIN_DIR") ? std::getenv("ZLH_BIN_DIR") : "build/bin";
  o.tag = tag_;
  o.bridge_dev = "z" + tag_ + "d";
  o.bridge_game = "z" + tag_ + "g";
  o.subnet_dev = "10." + std::to_string(net_a_) + "." + std::to_string(net_b_) + ".0/24";
  o.subnet_game = "10." + std::to_string(net_a_) + "." + std::to_string(net_b_ + 1) + ".0/24";
  o.id_base = uint32_t(1000000 + 65536 * kLxcSlots * id_block_);
  o.slots = kLxcSlots;
  o.nat = false;  // cleanup: leave ip_forward as it is
  static NoSlots no_slots;
  auto d = api::drivers::LxcDriver::open(o, no_slots);
  if (!d) {
    ADD_FAILURE() << "lxc cleanup: " << d.error().message;
    return;
  }
  for (int vmid : (*d)->list_vmids())
    if (auto r = (*d)->destroy(vmid, std::chrono::seconds(5)); !r)
      ADD_FAILURE() << "lxc cleanup: " << r.error().message;
  if (auto r = (*d)->remove_host_network(); !r)
    ADD_FAILURE() << "lxc cleanup: " << r.error().message;
}

}  // namespace zlh::testing
