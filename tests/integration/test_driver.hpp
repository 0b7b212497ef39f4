// The container driver a control-plane integration suite runs zlh-api with:
// the local driver, or with ZLH_TEST_DRIVER=proxmox the proxmox driver
// against tests/fixtures/fake_proxmox.py, whose containers hold real agents
// (fake_proxmox.hpp). The suites that use it (api_test.cpp, relay_test.cpp)
// have a second ctest entry, <name>_proxmox, that sets the variable.
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
  // True when ZLH_TEST_DRIVER=proxmox.
  static bool proxmox();
  // For the proxmox driver: starts the fake cluster (three nodes) under
  // <dir>/pve and writes <dir>/proxmox.toml and its token file. Its
  // containers trust <data>/keys/api.pub (made by zlh-api at its first
  // start) and install from `store`. Reports failures through gtest (check
  // HasFatalFailure()). Nothing for the local driver.
  void start(const std::string& dir, const std::string& data, const std::string& store, const std::string& keys);
  // The zlh-api flags that select the driver ({} for local).
  std::vector<std::string> api_args() const;
  // A container's root directory: <data>/containers/<vmid>, or the fake's.
  std::string ct_dir(int vmid) const;
  // A dev vmid window for the suite: `local_lo` for the local driver, else
  // 100 + suite*400 + (pick%4)*100: vmids the fake's real containers can
  // use (≤ 65535) in no other suite's window, suite 0 (api_test) or 1
  // (relay_test), so both can run at once.
  int vmid_lo(int local_lo, int pick, int suite) const;
  // Ends the fake cluster and everything in it (also done by the destructor).
  void stop() { pve_.reset(); }

 private:
  std::string dir_, data_;
  std::unique_ptr<FakeProxmox> pve_;
};

}  // namespace zlh::testing
