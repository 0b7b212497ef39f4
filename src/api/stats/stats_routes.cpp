#include "api/stats/stats_routes.hpp"

#include <cstdio>

#include "api/request_ids.hpp"
#include "api/with_deps.hpp"
#include "base/log.hpp"

namespace zlh::api::stats {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

template <class T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

Response get_stats(const StatsDeps& d, Request& req) {
  auto id = path_id(req, "id");
  if (!id) return Response::error(id.error());
  auto srv = d.store.get_server_for_owner(*id, user_id(req));
  if (!srv) return Response::error(srv.error());
  json samples = json::array();
  for (const auto& s : d.sampler.history(srv->id)) samples.push_back(sample_json(s));
  return Response::json(200, {{"server_id", srv->id},
                              {"interval_ms", d.sampler.options().interval.count()},
                              {"samples", std::move(samples)}});
}

// One gauge line: name{server="id"} value.
void gauge(std::string& out, const char* name, int64_t server, double v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s{server=\"%lld\"} %.17g\n", name, (long long)server, v);
  out += buf;
}

struct Family {
  const char* name;
  const char* help;
  std::optional<double> (*get)(const Sample&);
};

const Family kFamilies[] = {
    {"zlh_server_cpu_ratio", "CPU busy over the cores the server may use (1 = all)",
     [](const Sample& s) { return s.cpu_ratio(); }},
    {"zlh_server_cpu_cores", "Cores busy (1 = one whole core)",
     [](const Sample& s) { return s.cpu_cores; }},
    {"zlh_server_memory_bytes", "Memory in use",
     [](const Sample& s) { return std::optional<double>(double(s.memory_bytes)); }},
    {"zlh_server_memory_max_bytes", "Memory limit",
     [](const Sample& s) {
       return s.memory_max ? std::optional<double>(double(s.memory_max)) : std::nullopt;
     }},
    {"zlh_server_disk_bytes", "Disk used",
     [](const Sample& s) {
       return s.disk_bytes ? std::optional<double>(double(*s.disk_bytes)) : std::nullopt;
     }},
    {"zlh_server_net_rx_bytes_per_second", "Bytes per second received",
     [](const Sample& s) { return s.net_rx_bps; }},
    {"zlh_server_net_tx_bytes_per_second", "Bytes per second sent",
     [](const Sample& s) { return s.net_tx_bps; }},
    {"zlh_server_pids", "Tasks",
     [](const Sample& s) {
       return s.pids ? std::optional<double>(double(*s.pids)) : std::nullopt;
     }},
};

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

void add_stats_routes(http::Router& r, StatsDeps deps) {
  const WithDeps with(std::move(deps));
  http::RouteOptions plain;
  plain.body_limit = 0;
  plain.blocking = true;  // the store
  r.add_sync("GET", "/api/servers/{id}/stats", with(get_stats), plain);
}

TargetsFn targets_from(store::Store& store) {
  return [&store] {
    std::vector<Target> out;
    auto list = store.list_servers();
    if (!list) {
      log::warn("stats", "cannot list servers", {{"error", list.error().message}});
      return out;
    }
    for (const auto& s : *list)
      if (s.state == store::ServerState::kReady && s.vmid) out.push_back({s.id, *s.vmid});
    return out;
  };
}

void add_stats_gauges(metrics::Registry& registry, const Sampler& sampler) {
  registry.add_collector([&sampler](std::string& out) {
    std::vector<std::pair<int64_t, Sample>> latest;
    for (int64_t id : sampler.servers())
      if (auto s = sampler.latest(id)) latest.emplace_back(id, *s);
    for (const auto& f : kFamilies) {
      out += std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " gauge\n";
      for (const auto& [id, s] : latest)
        if (auto v = f.get(s)) gauge(out, f.name, id, *v);
    }
  });
}

}  // namespace zlh::api::stats
