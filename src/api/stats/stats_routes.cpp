#include "api/stats/stats_routes.hpp"

#include <cstdio>

#include "api/authz/authz.hpp"
#include "api/request_ids.hpp"
#include "api/with_deps.hpp"
#include "base/log.hpp"
#include "http/origin.hpp"

namespace zlh::api::stats {

using http::Request;
using http::Response;
using nlohmann::json;

namespace {

Response get_stats(const StatsDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);  // any member
  if (!a) return Response::error(a.error());
  const store::Server* srv = &a->server;
  return Response::json(200,
                        ring_json(srv->id, d.sampler.options().interval.count(),
                                  d.history ? d.history(srv->id) : d.sampler.history(srv->id)));
}

// One viewer of the stream: subscribed while its connection is open.
class StreamViewer final : public http::WsHandler {
 public:
  StreamViewer(Fanout& fanout, int64_t server_id, std::unique_ptr<authz::LiveSessions::Handle> live)
      : fanout_(fanout), server_id_(server_id), live_(std::move(live)) {}
  void on_open(std::shared_ptr<http::WsConn> conn) override {
    if (live_) {  // the viewer's access taken away: the stream ends
      std::weak_ptr<http::WsConn> weak = conn;
      live_->set_cut([weak] {
        if (auto c = weak.lock()) c->close(1008, "access to this server was revoked");
      });
    }
    sub_ = fanout_.subscribe(server_id_, std::move(conn));
  }
  void on_message(std::string, bool) override {}
  void on_close() override { sub_.reset(); }

 private:
  Fanout& fanout_;
  int64_t server_id_;
  std::unique_ptr<Fanout::Subscription> sub_;
  std::unique_ptr<authz::LiveSessions::Handle> live_;
};

http::WsFactory stream_factory(const StatsDeps& d) {
  return [d](Request& req) -> Result<std::shared_ptr<http::WsHandler>> {
    if (!http::origin_allowed(req.headers.get("Origin"), d.public_url))
      return fail(codes::kForbidden, "websocket origin is not " + d.public_url);
    auto a = authz::authorize(d.store, req);  // any member
    if (!a) return fail(a.error());
    auto live = d.sessions ? d.sessions->add(a->server.id, user_id(req)) : nullptr;
    return std::make_shared<StreamViewer>(d.fanout, a->server.id, std::move(live));
  };
}

// A counter or gauge without labels.
void plain(std::string& out, const char* name, const char* type, const char* help, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + buf + "\n";
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

void add_stats_routes(http::Router& r, StatsDeps deps) {
  const WithDeps with(deps);
  http::RouteOptions plain;
  plain.body_limit = 0;
  plain.blocking = true;  // the store
  r.add_sync("GET", "/api/servers/{id}/stats", with(get_stats), plain);
  http::RouteOptions ws = plain;  // the factory reads the store
  r.add_ws("/api/servers/{id}/stats/stream", stream_factory(deps), ws);
}

TargetsFn targets_from(store::Store& store, std::function<bool(int64_t)> owns) {
  return [&store, owns = std::move(owns)] {
    std::vector<Target> out;
    auto list = store.list_servers();
    if (!list) {
      log::warn("stats", "cannot list servers", {{"error", list.error().message}});
      return out;
    }
    for (const auto& s : *list)
      if (s.state == store::ServerState::kReady && s.vmid && (!owns || owns(s.id)))
        out.push_back({s.id, *s.vmid});
    return out;
  };
}

void add_stats_gauges(metrics::Registry& registry, const Sampler& sampler, const Fanout& fanout) {
  registry.add_collector([&sampler, &fanout](std::string& out) {
    plain(out, "zlh_stats_driver_calls_total", "counter",
          "Driver sample calls made by the stats sampler (one per cycle)",
          double(sampler.driver_calls()));
    plain(out, "zlh_stats_stream_viewers", "gauge", "Open stats stream viewers",
          double(fanout.viewers()));
    plain(out, "zlh_stats_stream_samples_sent_total", "counter",
          "Samples queued to stats stream viewers", double(fanout.sent()));
    plain(out, "zlh_stats_stream_samples_dropped_total", "counter",
          "Samples dropped for stats stream viewers too far behind", double(fanout.dropped()));
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
