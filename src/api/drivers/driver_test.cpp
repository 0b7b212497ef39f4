#include "api/drivers/driver.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <set>

#include "api/drivers/local/local_driver.hpp"

namespace zlh::api::drivers {
namespace {

ContainerSpec good_spec() {
  ContainerSpec s;
  s.type = ContainerType::kDev;
  s.memory_mb = 2048;
  s.cpu_cores = 2;
  s.agent.api_public_key_file = "/data/keys/api.pub";
  s.agent.catalog_public_key_file = "/data/keys/catalog.pub";
  s.agent.artifacts_url = "file:///data/artifacts";
  return s;
}

TEST(Driver, PowerStateNames) {
  EXPECT_EQ(to_string(PowerState::kRunning), "running");
  EXPECT_EQ(to_string(PowerState::kStopped), "stopped");
  EXPECT_EQ(to_string(PowerState::kMissing), "missing");
}

TEST(Driver, VmidRange) {
  EXPECT_TRUE(check_vmid(1));
  EXPECT_TRUE(check_vmid(65535));
  for (int bad : {0, -1, 65536, 1 << 30}) {
    auto r = check_vmid(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, codes::kInvalid);
    EXPECT_EQ(r.error().field, "vmid");
  }
}

TEST(Driver, SpecValidationNamesTheField) {
  EXPECT_TRUE(check_spec(good_spec()));
  struct Case {
    std::function<void(ContainerSpec&)> mutate;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](ContainerSpec& s) { s.memory_mb = 0; }, "memory_mb"},
      {[](ContainerSpec& s) { s.cpu_cores = -1; }, "cpu_cores"},
      {[](ContainerSpec& s) { s.agent.api_public_key_file = ""; }, "api_public_key_file"},
      {[](ContainerSpec& s) { s.agent.api_public_key_file = "keys/api.pub"; },
       "api_public_key_file"},
      {[](ContainerSpec& s) { s.agent.catalog_public_key_file = "catalog.pub"; },
       "catalog_public_key_file"},
      {[](ContainerSpec& s) { s.agent.artifacts_url = "ftp://x"; }, "artifacts_url"},
      {[](ContainerSpec& s) { s.agent.dev_user = ""; }, "dev_user"},
  };
  for (auto& c : cases) {
    ContainerSpec s = good_spec();
    c.mutate(s);
    auto r = check_spec(s);
    ASSERT_FALSE(r) << c.field;
    EXPECT_EQ(r.error().code, codes::kInvalid);
    EXPECT_EQ(r.error().field, c.field);
  }
  ContainerSpec s = good_spec();
  s.agent.catalog_public_key_file.clear();
  s.agent.artifacts_url.clear();
  EXPECT_TRUE(check_spec(s));  // both optional
}

TEST(LocalAddress, MathAndRange) {
  EXPECT_EQ(*local_address(1), "127.77.0.1");
  EXPECT_EQ(*local_address(255), "127.77.0.255");
  EXPECT_EQ(*local_address(256), "127.77.1.0");
  EXPECT_EQ(*local_address(6001), "127.77.23.113");
  EXPECT_EQ(*local_address(65535), "127.77.255.255");
  EXPECT_FALSE(local_address(0));
  EXPECT_FALSE(local_address(65536));
  std::set<std::string> seen;
  for (int v = 1; v <= 65535; ++v) seen.insert(*local_address(v));
  EXPECT_EQ(seen.size(), 65535u);  // no two vmids share an address
}

TEST(LocalAddress, EdgeAddressesAreBindable) {
  // .0 and .255 host parts are ordinary addresses on the loopback /8.
  for (int vmid : {256, 255, 65535}) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    ASSERT_EQ(::inet_pton(AF_INET, local_address(vmid)->c_str(), &sa.sin_addr), 1);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << vmid;
    EXPECT_EQ(::listen(fd, 1), 0) << vmid;
    ::close(fd);
  }
}

}  // namespace
}  // namespace zlh::api::drivers
