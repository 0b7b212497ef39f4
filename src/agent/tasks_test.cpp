#include "agent/tasks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace zlh::agent {
namespace {

TEST(TaskRunner, FinishedThreadsAreReapedAndStopCancels) {
  TaskRunner r;
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(r.run([&](const std::atomic<bool>&) { ran++; }));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ran.load() < 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(ran.load(), 200);
  // 200 short tasks leave no threads behind.
  while (r.live_threads() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(r.live_threads(), 0u);

  std::atomic<bool> saw_cancel{false};
  ASSERT_TRUE(r.run([&](const std::atomic<bool>& cancel) {
    while (!cancel.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    saw_cancel = true;
  }));
  r.stop();
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_FALSE(r.run([](const std::atomic<bool>&) {}));
}

}  // namespace
}  // namespace zlh::agent
