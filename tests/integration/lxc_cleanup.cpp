// zlh-lxc-cleanup: destroys every container of one lxc-driver instance and
// removes its bridges and nftables table, whatever zlh-api's state (the
// browser tests' teardown, tests/e2e/lib.mjs).
//   zlh-lxc-cleanup DATA TAG BRIDGE_DEV SUBNET_DEV BRIDGE_GAME SUBNET_GAME ID_BASE SLOTS
#include <cstdio>
#include <cstdlib>
#include <string>

#include "api/drivers/lxc/lxc_driver.hpp"

namespace {
class NoSlots final : public zlh::api::drivers::SlotStore {
 public:
  zlh::Result<int> acquire(int, int) override {
    return zlh::fail(zlh::codes::kUnavailable, "cleanup only");
  }
  zlh::Result<void> release(int) override { return {}; }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr,
                 "usage: zlh-lxc-cleanup DATA TAG BRIDGE_DEV SUBNET_DEV BRIDGE_GAME SUBNET_GAME "
                 "ID_BASE SLOTS\n");
    return 2;
  }
  zlh::api::drivers::LxcDriverOptions o;
  o.data_dir = argv[1];
  o.tag = argv[2];
  o.bridge_dev = argv[3];
  o.subnet_dev = argv[4];
  o.bridge_game = argv[5];
  o.subnet_game = argv[6];
  o.id_base = uint32_t(std::strtoul(argv[7], nullptr, 10));
  o.slots = std::atoi(argv[8]);
  o.nat = false;
  std::string self = argv[0];
  o.bin_dir = self.find('/') == std::string::npos ? "." : self.substr(0, self.rfind('/'));
  NoSlots slots;
  auto d = zlh::api::drivers::LxcDriver::open(o, slots);
  if (!d) {
    std::fprintf(stderr, "zlh-lxc-cleanup: %s\n", d.error().message.c_str());
    return 1;
  }
  int rc = 0;
  for (int vmid : (*d)->list_vmids())
    if (auto r = (*d)->destroy(vmid, std::chrono::seconds(5)); !r) {
      std::fprintf(stderr, "zlh-lxc-cleanup: %s\n", r.error().message.c_str());
      rc = 1;
    }
  if (auto r = (*d)->remove_host_network(); !r) {
    std::fprintf(stderr, "zlh-lxc-cleanup: %s\n", r.error().message.c_str());
    rc = 1;
  }
  return rc;
}
