// Live-stats readings from one /cluster/resources answer (Proxmox's own
// field names and units).
#include <gtest/gtest.h>

#include "api/drivers/proxmox/proxmox_driver.hpp"

namespace zlh::api::drivers {
namespace {

TEST(ProxmoxStats, RunningGuestsAskedForAreReadFromOneList) {
  auto list = nlohmann::json::parse(R"([
    {"id":"node/pve1","type":"node","node":"pve1","status":"online","cpu":0.05,"maxcpu":8},
    {"id":"lxc/6001","type":"lxc","vmid":6001,"status":"running","cpu":0.5,"maxcpu":2,
     "mem":104857600,"maxmem":1073741824,"disk":2048,"maxdisk":8192,"netin":700,"netout":300},
    {"id":"lxc/6002","type":"lxc","vmid":6002,"status":"stopped","cpu":0,"maxcpu":1},
    {"id":"qemu/6003","type":"qemu","vmid":6003,"status":"running","cpu":0.1,"maxcpu":1},
    {"id":"lxc/6004","type":"lxc","vmid":6004,"status":"running","cpu":0.1,"maxcpu":1},
    {"id":"lxc/6005","type":"lxc","vmid":6005,"status":"unknown"}
  ])");
  const auto at = std::chrono::steady_clock::now();
  auto got = sample_from_resources(list, {6001, 6002, 6003, 6005, 7000}, at);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 1u);  // 6004 was not asked for
  const RawCounters& r = got->at(6001);
  EXPECT_EQ(r.at, at);
  EXPECT_DOUBLE_EQ(r.cores, 2);
  EXPECT_DOUBLE_EQ(*r.cpu_cores_now, 1.0);  // half of two cores
  EXPECT_EQ(r.memory_bytes, 104857600u);
  EXPECT_EQ(r.memory_max, 1073741824u);
  EXPECT_EQ(*r.disk_bytes, 2048u);
  EXPECT_EQ(*r.disk_max, 8192u);
  EXPECT_EQ(*r.net_rx, 700u);
  EXPECT_EQ(*r.net_tx, 300u);
  EXPECT_FALSE(r.pids);  // not reported: absent, not 0
  EXPECT_FALSE(sample_from_resources(nlohmann::json::object(), {6001}, at));
}

}  // namespace
}  // namespace zlh::api::drivers
