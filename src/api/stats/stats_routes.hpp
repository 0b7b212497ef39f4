// Live stats of a server (docs/design.md §12a, issue 24):
//   GET /api/servers/{id}/stats   → {"server_id", "interval_ms",
//                                    "samples":[sample…]} oldest first
// A sample: {"t" (unix ms), "cpu_cores", "cpu_ratio", "cores",
// "memory_bytes", "memory_max", "disk_bytes", "disk_max", "net_rx_bps",
// "net_tx_bps", "pids"}; what is not measured or cannot be told is null,
// never 0. The answer is a copy of the sampler's ring: a request never
// calls the driver. Ownership: get_server_for_owner, so not yours = 404,
// exactly like missing. A server that does not run (or not yet sampled)
// has an empty list.
//
// Also: the sampler's targets from the store, and the per-server gauges.
#pragma once

#include <nlohmann/json.hpp>

#include "api/stats/sampler.hpp"
#include "api/store/store.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::api::stats {

struct StatsDeps {
  store::Store& store;
  Sampler& sampler;
};

void add_stats_routes(http::Router& r, StatsDeps deps);

nlohmann::json sample_json(const Sample& s);

// The sampler's targets: servers in state ready that hold a vmid. A store
// error is logged and gives no targets (the sampler then drops its rings).
TargetsFn targets_from(store::Store& store);

// Per-server gauges of the latest sample, rendered at scrape time, labelled
// by server id only (bounded: one series per sampled server per family):
// zlh_server_cpu_ratio, zlh_server_cpu_cores, zlh_server_memory_bytes,
// zlh_server_memory_max_bytes, zlh_server_disk_bytes,
// zlh_server_net_rx_bytes_per_second, zlh_server_net_tx_bytes_per_second,
// zlh_server_pids. Absent figures have no series. `sampler` must outlive
// the registry's use.
void add_stats_gauges(metrics::Registry& registry, const Sampler& sampler);

}  // namespace zlh::api::stats
