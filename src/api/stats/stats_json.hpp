// The JSON of live stats (docs/stats.md), one definition for the GET
// route, the stream and the server documents.
//
// A sample: {"t" (unix ms), "cpu_cores", "cpu_ratio", "cores",
// "memory_bytes", "memory_max", "disk_bytes", "disk_max", "net_rx_bps",
// "net_tx_bps", "pids"}; what is not measured or cannot be told is null,
// never 0. A ring: {"server_id", "interval_ms", "samples":[sample…]},
// oldest first. Pure; any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "api/stats/sample.hpp"

namespace zlh::api::stats {

nlohmann::json sample_json(const Sample& s);
// The Sample of sample_json's output (cpu_ratio is derived, not read);
// nullopt when it is not one (no integer "t", a field of the wrong type).
std::optional<Sample> sample_from_json(const nlohmann::json& j);
nlohmann::json ring_json(int64_t server_id, int64_t interval_ms, const std::vector<Sample>& ring);

}  // namespace zlh::api::stats
