// A stand-in for a zlh-api process that dies with SIGKILL right after
// starting a container through the local driver (local_driver_test.cpp):
//   local_driver_helper <data-dir> <agent-bin> <vmid> <api.pub>
// Prints the agent's pid, then kills itself (-9) without any cleanup.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "api/drivers/local/local_driver.hpp"

using namespace zlh::api::drivers;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: local_driver_helper DATA AGENT_BIN VMID API_PUB\n";
    return 2;
  }
  auto d = LocalDriver::open({.data_dir = argv[1], .agent_bin = argv[2]});
  if (!d) {
    std::cerr << d.error().to_string() << "\n";
    return 1;
  }
  int vmid = std::stoi(argv[3]);
  ContainerSpec spec;
  spec.type = zlh::ContainerType::kDev;
  spec.agent.api_public_key_file = argv[4];
  for (auto step : {0, 1, 2}) {
    zlh::Result<void> r;
    if (step == 0) r = (*d)->create(vmid, spec);
    if (step == 1) r = (*d)->start(vmid);
    if (step == 2) {
      auto a = (*d)->address(vmid, std::chrono::seconds(15));
      if (!a) r = std::unexpected(a.error());
    }
    if (!r) {
      std::cerr << r.error().to_string() << "\n";
      return 1;
    }
  }
  std::cout << *(*d)->agent_pid(vmid) << std::endl;
  ::kill(::getpid(), SIGKILL);
  return 3;
}
