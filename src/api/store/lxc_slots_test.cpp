#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using testing::StoreTest;

TEST_P(StoreTest, LxcSlotsAreLowestFreeStablePerVmidAndFreedOnRelease) {
  EXPECT_EQ(*store->acquire_lxc_slot(6000, 4), 0);
  EXPECT_EQ(*store->acquire_lxc_slot(6001, 4), 1);
  EXPECT_EQ(*store->acquire_lxc_slot(6000, 4), 0);  // repeatable
  EXPECT_EQ(*store->lxc_slot(6001), 1);
  ASSERT_TRUE(store->release_lxc_slot(6000));
  ASSERT_TRUE(store->release_lxc_slot(6000));  // repeatable
  EXPECT_EQ(store->lxc_slot(6000).error().code, codes::kNotFound);
  EXPECT_EQ(*store->acquire_lxc_slot(5000, 4), 0);  // the gap is reused
  EXPECT_EQ(*store->acquire_lxc_slot(5001, 4), 2);
  EXPECT_EQ(*store->acquire_lxc_slot(5002, 4), 3);
  EXPECT_EQ(store->acquire_lxc_slot(5003, 4).error().code, codes::kUnavailable);
  EXPECT_EQ(store->acquire_lxc_slot(0, 4).error().field, "vmid");
  EXPECT_EQ(store->acquire_lxc_slot(1, 0).error().field, "slots");
}

TEST_P(StoreTest, LxcSlotsNeverSharedUnderConcurrentAcquires) {
  std::vector<std::thread> ts;
  std::vector<int> got(40, -1);
  for (int i = 0; i < 40; ++i)
    ts.emplace_back([&, i] {
      auto r = store->acquire_lxc_slot(6000 + i, 100);
      if (r) got[size_t(i)] = *r;
    });
  for (auto& t : ts) t.join();
  std::set<int> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), 40u);
  EXPECT_EQ(*distinct.begin(), 0);
  EXPECT_EQ(*distinct.rbegin(), 39);
}

}  // namespace
}  // namespace zlh::api::store
