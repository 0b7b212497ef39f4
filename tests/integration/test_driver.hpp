// The container driver a control-plane integration suite runs zlh-api with:
// the local driver; with ZLH_TEST_DRIVER=proxmox the proxmox driver
// against tests/fixtures/fake_proxmox.py, whose containers hold real agents
// (fake_proxmox.hpp); with ZLH_TEST_DRIVER=lxc the lxc driver with real
// unprivileged containers on bridges, subnets, an id range and an nftables
// table of the suite's own (so parallel suites never meet), all removed by
// stop(). The suites that use it (api_test.cpp, relay_test.cpp) have more
// ctest entries, <name>_proxmox and <name>_lxc, that set the variable.
//
// Thread-safety: one test thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fake_proxmox.hpp"

namespace zlh::testing {

class TestDriver {
 public:
  // True when ZLH_TEST_DRIVER=proxmox / lxc.
  static bool proxmox();
  static bool lxc();
  // For the proxmox driver: starts the fake cluster (three nodes) under
  // <dir>/pve and writes <dir>/proxmox.toml and its token file. Its
  // containers trust <data>/keys/api.pub (made by zlh-api at its first
  // start) and install from `store`. For lxc: picks the suite's tag,
  // bridges, subnets and ids. Reports failures through gtest (check
  // HasFatalFailure()). Nothing for the local driver.
  void start(const std::string& dir, const std::string& data, const std::string& store,
             const std::string& keys);
  // The zlh-api flags that select the driver.
  std::vector<std::string> api_args() const;
  // A container's root directory: <data>/containers/<vmid>, the fake's, or
  // the lxc container's mounted rootfs.
  std::string ct_dir(int vmid) const;
  // A dev vmid window for the suite: `local_lo` for the local and lxc
  // drivers, else 100 + suite*400 + (pick%4)*100: vmids the fake's real
  // containers can use (≤ 65535) in no other suite's window, suite 0
  // (api_test) or 1 (relay_test), so both can run at once.
  int vmid_lo(int local_lo, int pick, int suite) const;
  // Ends the fake cluster and everything in it, or destroys every lxc
  // container of the suite and its bridges and table (also done by the
  // destructor).
  void stop();
  ~TestDriver() { stop(); }

  // lxc: the suite's settings.
  std::string lxc_tag() const { return tag_; }
  std::string lxc_gateway(bool game) const;

 private:
  std::string lxc_subnet(bool game) const;  // the suite's /24 for dev or game
  int64_t lxc_id_base() const;              // the first host id of its slots

  std::string dir_, data_;
  std::unique_ptr<FakeProxmox> pve_;
  std::string tag_;
  int net_a_ = 0, net_b_ = 0;  // the subnets 10.<a>.<b>.0/24 (dev) and 10.<a>.<b+1>.0/24 (game)
  int id_block_ = 0;
  bool lxc_started_ = false;
};

}  // namespace zlh::testing
