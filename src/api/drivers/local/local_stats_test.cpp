// /proc/<pid>/stat parsing and the summed usage of a process set.
#include "api/drivers/local/local_stats.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

namespace zlh::api::drivers {
namespace {

TEST(LocalStats, ParsesCpuThreadsAndRssAfterTheLastParenthesis) {
  // A command name with spaces and ") " inside must not shift the fields.
  const char* line =
      "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
      "250 50 0 0 20 0 7 0 12345 1000000 321 18446744073709551615 1 1 0 0 0\n";
  auto u = parse_proc_stat(line);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->cpu_ticks, 300u);
  EXPECT_EQ(u->threads, 7u);
  EXPECT_EQ(u->rss_pages, 321u);
}

TEST(LocalStats, RefusesWhatIsNotAStatLine) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("4242 (x) S 1 2 3"));
  EXPECT_FALSE(
      parse_proc_stat("4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 50 0 0 20 0 "
                      "7 0 12345 1000000 321"));
}

TEST(LocalStats, SumsTheLiveProcessesOfTheSet) {
  // This test process burns some CPU, then reads its own usage.
  auto self = ProcessHandle::open(::getpid());
  ASSERT_TRUE(self);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  std::vector<ProcessHandle> set;
  set.push_back(std::move(*self));
  auto t = tree_usage(set);
  EXPECT_GT(t.cpu_ns, 0u);
  EXPECT_GT(t.memory_bytes, 0u);
  EXPECT_GE(t.pids, 1u);
}

}  // namespace
}  // namespace zlh::api::drivers
