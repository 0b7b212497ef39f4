#include "agent/supervisor/service_state.hpp"

#include <gtest/gtest.h>

using zlh::agent::supervisor::is_live;
using zlh::agent::supervisor::ServiceState;
using zlh::agent::supervisor::to_string;

TEST(ServiceState, WireNames) {
  EXPECT_EQ(to_string(ServiceState::kStarting), "starting");
  EXPECT_EQ(to_string(ServiceState::kRunning), "running");
  EXPECT_EQ(to_string(ServiceState::kStopping), "stopping");
  EXPECT_EQ(to_string(ServiceState::kStopped), "stopped");
  EXPECT_EQ(to_string(ServiceState::kBackoff), "backoff");
  EXPECT_EQ(to_string(ServiceState::kCrashed), "crashed");
  EXPECT_EQ(to_string(ServiceState::kExited), "exited");
}

TEST(ServiceState, LiveStates) {
  EXPECT_TRUE(is_live(ServiceState::kStarting));
  EXPECT_TRUE(is_live(ServiceState::kRunning));
  EXPECT_TRUE(is_live(ServiceState::kStopping));
  EXPECT_FALSE(is_live(ServiceState::kStopped));
  EXPECT_FALSE(is_live(ServiceState::kBackoff));
  EXPECT_FALSE(is_live(ServiceState::kCrashed));
  EXPECT_FALSE(is_live(ServiceState::kExited));
}
