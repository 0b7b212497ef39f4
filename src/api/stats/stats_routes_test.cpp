// The wire form of a sample (absent = null, never 0) and the per-server
// gauges rendered from the sampler's latest samples.
#include "api/stats/stats_routes.hpp"

#include <gtest/gtest.h>

#include "api/stats/inert_driver_test.hpp"

namespace zlh::api::stats {
namespace {

class OneServerDriver final : public testing::InertDriver {
 public:
  Result<std::map<int, drivers::RawCounters>> sample(const std::vector<int>&) override {
    drivers::RawCounters r;
    r.at = std::chrono::steady_clock::time_point{} + std::chrono::seconds(2 * ++n);
    r.cpu_ns = uint64_t(n) * 2'000'000'000;  // one core
    r.cores = 2;
    r.memory_bytes = 1000;
    r.pids = 3;
    return std::map<int, drivers::RawCounters>{{101, r}};
  }
  int n = 0;
};

TEST(StatsRoutes, ASampleOnTheWireHasNullsForWhatIsNotKnown) {
  Sample s;
  s.t_ms = 5;
  s.cores = 2;
  s.memory_bytes = 10;
  s.pids = 1;
  auto j = sample_json(s);
  EXPECT_EQ(j["t"], 5);
  EXPECT_TRUE(j["cpu_cores"].is_null());
  EXPECT_TRUE(j["cpu_ratio"].is_null());
  EXPECT_TRUE(j["net_rx_bps"].is_null());
  EXPECT_TRUE(j["disk_bytes"].is_null());
  EXPECT_TRUE(j["memory_max"].is_null());
  EXPECT_EQ(j["memory_bytes"], 10);
  s.cpu_cores = 1.0;
  s.net_rx_bps = 0.0;  // measured zero stays zero
  j = sample_json(s);
  EXPECT_DOUBLE_EQ(j["cpu_ratio"].get<double>(), 0.5);
  EXPECT_EQ(j["net_rx_bps"], 0.0);
}

TEST(StatsRoutes, GaugesCarryOneSeriesPerServerAndFamily) {
  OneServerDriver d;
  Sampler sampler(d, [] { return std::vector<Target>{{42, 101}}; });
  Fanout fanout(sampler);
  metrics::Registry reg;
  add_stats_gauges(reg, sampler, fanout);
  sampler.run_cycle();
  sampler.run_cycle();
  const std::string out = reg.render();
  EXPECT_NE(out.find("zlh_server_cpu_ratio{server=\"42\"} 0.5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("zlh_server_memory_bytes{server=\"42\"} 1000\n"), std::string::npos);
  EXPECT_NE(out.find("zlh_server_pids{server=\"42\"} 3\n"), std::string::npos);
  // Not measured: no series at all.
  EXPECT_EQ(out.find("zlh_server_net_rx_bytes_per_second{"), std::string::npos);
  EXPECT_EQ(out.find("zlh_server_disk_bytes{"), std::string::npos);
  // The sampler's and the stream's own.
  EXPECT_NE(out.find("zlh_stats_driver_calls_total 2\n"), std::string::npos);
  EXPECT_NE(out.find("zlh_stats_stream_viewers 0\n"), std::string::npos);
  EXPECT_NE(out.find("zlh_stats_stream_samples_dropped_total 0\n"), std::string::npos);
}

}  // namespace
}  // namespace zlh::api::stats
