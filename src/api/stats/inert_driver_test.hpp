// For the stats tests: a driver whose container calls all succeed and do
// nothing, so a test overrides only sample() (what the sampler calls).
#pragma once

#include "api/drivers/driver.hpp"

namespace zlh::api::stats::testing {

class InertDriver : public drivers::Driver {
 public:
  std::string_view name() const override { return "fake"; }
  Result<drivers::VmidUse> vmid_use(int, std::string_view) override {
    return drivers::VmidUse::kFree;
  }
  Result<void> create(int, const drivers::ContainerSpec&) override { return {}; }
  Result<void> configure(int, const drivers::ContainerSpec&) override { return {}; }
  Result<void> start(int) override { return {}; }
  Result<std::string> address(int, std::chrono::milliseconds) override { return "127.0.0.1"; }
  Result<void> stop(int, std::chrono::milliseconds) override { return {}; }
  Result<void> destroy(int, std::chrono::milliseconds) override { return {}; }
  Result<drivers::ContainerStatus> status(int) override { return drivers::ContainerStatus{}; }
};

}  // namespace zlh::api::stats::testing
