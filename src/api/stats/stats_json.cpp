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

namespace {

template <class T>
std::optional<T> opt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

}  // namespace

std::optional<Sample> sample_from_json(const json& j) {
  if (!j.is_object() || !j.contains("t") || !j["t"].is_number_integer()) return std::nullopt;
  try {
    Sample s;
    s.t_ms = j["t"].get<int64_t>();
    s.cpu_cores = opt<double>(j, "cpu_cores");
    s.cores = opt<double>(j, "cores").value_or(1);
    s.memory_bytes = opt<uint64_t>(j, "memory_bytes").value_or(0);
    s.memory_max = opt<uint64_t>(j, "memory_max").value_or(0);
    s.disk_bytes = opt<uint64_t>(j, "disk_bytes");
    s.disk_max = opt<uint64_t>(j, "disk_max");
    s.net_rx_bps = opt<double>(j, "net_rx_bps");
    s.net_tx_bps = opt<double>(j, "net_tx_bps");
    s.pids = opt<uint64_t>(j, "pids");
    return s;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

json ring_json(int64_t server_id, int64_t interval_ms, const std::vector<Sample>& ring) {
  json samples = json::array();
  for (const auto& s : ring) samples.push_back(sample_json(s));
  return {{"server_id", server_id}, {"interval_ms", interval_ms}, {"samples", std::move(samples)}};
}

}  // namespace zlh::api::stats
