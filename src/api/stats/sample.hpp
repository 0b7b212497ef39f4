// One live-stats sample of a server (docs/design.md §12a): what the sampler
// keeps per server and the API sends. Computed from two consecutive
// RawCounters readings of the driver, so drivers stay stateless.
//
// Rates are over the interval between the two readings (their steady-clock
// `at`). A rate is ABSENT (nullopt), never zero and never negative, when it
// cannot be told: the first reading of a server, a counter that went
// backwards (restart, veth recreated, a local process exited), a counter
// the driver does not measure, or a non-positive interval.
#pragma once

#include <cstdint>
#include <optional>

#include "api/drivers/driver.hpp"

namespace zlh::api::stats {

struct Sample {
  int64_t t_ms = 0;                 // unix milliseconds of the reading
  std::optional<double> cpu_cores;  // cores busy over the interval (1.0 = one whole core)
  double cores = 1;                 // cores the server may use
  uint64_t memory_bytes = 0;
  uint64_t memory_max = 0;  // 0 = no limit known
  std::optional<uint64_t> pids;
  std::optional<uint64_t> disk_bytes, disk_max;
  std::optional<double> net_rx_bps;  // bytes per second received by the server
  std::optional<double> net_tx_bps;  // bytes per second sent by the server

  // cpu_cores over cores: 1.0 = every allowed core busy. Absent with
  // cpu_cores or when cores is not positive.
  std::optional<double> cpu_ratio() const;
};

// The sample of `cur`, with rates against `prev` (absent: the first reading).
// Pure.
Sample compute_sample(const std::optional<drivers::RawCounters>& prev,
                      const drivers::RawCounters& cur, int64_t t_ms);

}  // namespace zlh::api::stats
