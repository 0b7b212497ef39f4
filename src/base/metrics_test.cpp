#include "base/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace zlh::metrics {
namespace {

// The value of one sample line ("name{labels} value") in a render, or -1.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) {
    if (!text.starts_with(series + " ")) return -1;
    at = 0;
  } else {
    at += 1;
  }
  return std::stod(text.substr(at + series.size() + 1));
}

// Adds land in per-thread shards; a render sums them, including those of
// threads that have ended, and set() series sit beside them.
TEST(Metrics, AddsFromManyThreadsAreSummedAndOutliveTheirThreads) {
  Registry r;
  r.describe("zlh_test_total", "counter", "test counter");
  r.set("zlh_test_gauge", "", 7);
  constexpr int kThreads = 8, kAdds = 5000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&r, t] {
      for (int i = 0; i < kAdds; ++i)
        r.add({{"zlh_test_total", t % 2 ? "code=\"200\"" : "code=\"404\"", 1},
               {"zlh_test_sum", "", 0.5}});
    });
  // Renders while the adds run must not tear or crash.
  for (int i = 0; i < 20; ++i) (void)r.render();
  for (auto& t : ts) t.join();
  r.add("zlh_test_total", "code=\"200\"", 1);  // this thread's own shard
  std::string text = r.render();
  EXPECT_EQ(sample(text, "zlh_test_total{code=\"200\"}"), kThreads / 2 * kAdds + 1) << text;
  EXPECT_EQ(sample(text, "zlh_test_total{code=\"404\"}"), kThreads / 2 * kAdds) << text;
  EXPECT_EQ(sample(text, "zlh_test_sum"), kThreads * kAdds * 0.5) << text;
  EXPECT_EQ(sample(text, "zlh_test_gauge"), 7) << text;
  EXPECT_NE(text.find("# TYPE zlh_test_total counter"), std::string::npos) << text;
  // A second registry on the same threads has its own counts.
  Registry other;
  other.add("zlh_test_total", "code=\"200\"", 2);
  EXPECT_EQ(sample(other.render(), "zlh_test_total{code=\"200\"}"), 2);
  EXPECT_EQ(sample(r.render(), "zlh_test_total{code=\"200\"}"), kThreads / 2 * kAdds + 1);
}

}  // namespace
}  // namespace zlh::metrics
