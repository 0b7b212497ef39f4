#include "api/stats/stats_json.hpp"

namespace zlh::api::stats {

using nlohmann::json;

namespace {

template <class T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

json sample_json(const Sample& s) {
  return {{"t", s.t_ms},
          {"cpu_cores", or_null(s.cpu_cores)},
          {"cpu_ratio", or_null(s.cpu_ratio())},
          {"cores", s.cores},
          {"memory_bytes", s.memory_bytes},
          {"memory_max", s.memory_max ? json(s.memory_max) : json(nullptr)},
          {"disk_bytes", or_null(s.disk_bytes)},
          {"disk_max", or_null(s.disk_max)},
          {"net_rx_bps", or_null(s.net_rx_bps)},
          {"net_tx_bps", or_null(s.net_tx_bps)},
          {"pids", or_null(s.pids)}};
}

json ring_json(int64_t server_id, int64_t interval_ms, const std::vector<Sample>& ring) {
  json samples = json::array();
  for (const auto& s : ring) samples.push_back(sample_json(s));
  return {{"server_id", server_id}, {"interval_ms", interval_ms}, {"samples", std::move(samples)}};
}

}  // namespace zlh::api::stats
