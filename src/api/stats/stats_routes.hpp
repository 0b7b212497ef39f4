// Live stats of a server (docs/stats.md, issue 24):
//   GET /api/servers/{id}/stats   → {"server_id", "interval_ms",
//                                    "samples":[sample…]} oldest first
//   WS  /api/servers/{id}/stats/stream → that document as the first text
//       message, then each new sample as one text message (stream.hpp:
//       order, drop policy). Messages from the client are ignored.
// Shapes: stats_json.hpp. The answer is a copy of the sampler's ring: a
// request or a viewer never calls the driver. Ownership:
// get_server_for_owner, so not yours = 404, exactly like missing; the
// stream also refuses an Origin other than the API's public URL (403), as
// the console does. A server that does not run (or not yet sampled) has an
// empty list.
//
// Also: the sampler's targets from the store, and the per-server gauges.
#pragma once

#include <nlohmann/json.hpp>

#include "api/authz/live_sessions.hpp"
#include "api/stats/sampler.hpp"
#include "api/stats/stats_json.hpp"
#include "api/stats/stream.hpp"
#include "api/store/store.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::api::stats {

struct StatsDeps {
  store::Store& store;
  Sampler& sampler;
  Fanout& fanout;
  std::string public_url;  // the stream's allowed Origin
  // Open streams, cut when a viewer's access to the server goes (may be null).
  authz::LiveSessions* sessions = nullptr;
  // Where GET …/stats reads a ring (ReplicaStats::history); empty: the
  // sampler's history.
  std::function<std::vector<Sample>(int64_t server_id)> history;
};

void add_stats_routes(http::Router& r, StatsDeps deps);

// The sampler's targets: servers in state ready that hold a vmid, and that
// this replica owns when `owns` is given (cluster::Replica::owns: each
// server is sampled by one replica). A store error is logged and gives no
// targets (the sampler then drops its rings).
TargetsFn targets_from(store::Store& store, std::function<bool(int64_t)> owns = {});

// Per-server gauges of the latest sample, rendered at scrape time, labelled
// by server id only (bounded: one series per sampled server per family):
// zlh_server_cpu_ratio, zlh_server_cpu_cores, zlh_server_memory_bytes,
// zlh_server_memory_max_bytes, zlh_server_disk_bytes,
// zlh_server_net_rx_bytes_per_second, zlh_server_net_tx_bytes_per_second,
// zlh_server_pids. Absent figures have no series. Also the sampler's and
// the stream's own: zlh_stats_driver_calls_total,
// zlh_stats_stream_viewers, zlh_stats_stream_samples_sent_total,
// zlh_stats_stream_samples_dropped_total. `sampler` and `fanout` must
// outlive the registry's use.
void add_stats_gauges(metrics::Registry& registry, const Sampler& sampler, const Fanout& fanout);

}  // namespace zlh::api::stats
