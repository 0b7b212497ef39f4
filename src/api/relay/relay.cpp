#include "api/relay/relay.hpp"

#include "api/relay/console_command.hpp"
#include "api/relay/console_relay.hpp"
#include "api/relay/file_relay.hpp"
#include "api/relay/ws_upstream.hpp"

namespace zlh::api::relay {

void add_relay_routes(http::Router& r, const RelayDeps& deps) {
  http::RouteOptions console;
  console.ws_max_queue_bytes = 1 << 20;  // like the agent's own console bound
  console.blocking = true;               // the factory looks up the server and its agent
  r.add_ws("/api/servers/{id}/console", console_relay(deps, std::make_shared<WsUpstreamIo>()),
           console);
  add_console_command_route(r, deps);
  add_file_relay_routes(r, deps);

  deps.metrics.add_collector([](std::string& out) {
    out += "# HELP zlh_relay_console_upstreams Agent console connections of the console relay\n";
    out += "# TYPE zlh_relay_console_upstreams gauge\n";
    out += "zlh_relay_console_upstreams " + std::to_string(WsUpstream::live()) + "\n";
  });
}

}  // namespace zlh::api::relay
