#include "api/stats/sample.hpp"

#include <chrono>

namespace zlh::api::stats {
namespace {

// (cur - prev) / secs, or absent when either is unknown or it went back.
std::optional<double> rate(std::optional<uint64_t> prev, std::optional<uint64_t> cur, double secs) {
  if (!prev || !cur || *cur < *prev || secs <= 0) return std::nullopt;
  return double(*cur - *prev) / secs;
}

}  // namespace

std::optional<double> Sample::cpu_ratio() const {
  if (!cpu_cores || cores <= 0) return std::nullopt;
  return *cpu_cores / cores;
}

Sample compute_sample(const std::optional<drivers::RawCounters>& prev,
                      const drivers::RawCounters& cur, int64_t t_ms) {
  Sample s;
  s.t_ms = t_ms;
  s.cores = cur.cores;
  s.memory_bytes = cur.memory_bytes;
  s.memory_max = cur.memory_max;
  s.pids = cur.pids;
  s.disk_bytes = cur.disk_bytes;
  s.disk_max = cur.disk_max;
  s.cpu_cores = cur.cpu_cores_now;
  if (!prev) return s;
  const double secs = std::chrono::duration<double>(cur.at - prev->at).count();
  if (auto ns = rate(prev->cpu_ns, cur.cpu_ns, secs); ns && !cur.cpu_cores_now)
    s.cpu_cores = *ns / 1e9;
  s.net_rx_bps = rate(prev->net_rx, cur.net_rx, secs);
  s.net_tx_bps = rate(prev->net_tx, cur.net_tx, secs);
  return s;
}

}  // namespace zlh::api::stats
