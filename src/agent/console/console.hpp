// The console WebSocket (docs/design.md §7) on top of the supervisor's shims.
//
// Protocol: server→client binary frames are terminal output, client→server
// binary frames are input; text frames are JSON control messages:
// client→server {"type":"resize","cols":C,"rows":R}, {"type":"signal","name":"INT"};
// server→client {"type":"session","id":…} (dev), {"type":"state","state":…},
// {"type":"exit","code":N} or {"type":"exit","signal":N}.
// On connect the client first gets the shim's scrollback (≥ 64 KiB).
//
// Dev containers: each console is a PTY running the dev user's login shell in
// the workspace, held by its own shim ("console-<id>"). `?session=<id>`
// attaches to a live one (after a browser reload); a session without clients
// is kept for `idle_keep` (default 10 min) and then stopped.
// Game containers: every client attaches to the one server console (service
// "workload"): the shim fans out, and a slow client loses its own oldest
// output (WsConn's queue bound and the shim's per-client bound) without
// holding up the server or the others.
//
// Thread-safety: open() is called on the HTTP I/O thread; reader threads run
// on the TaskRunner and end when the client goes or the agent stops.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/console/control.hpp"
#include "agent/devenv/service.hpp"
#include "agent/supervisor/supervisor.hpp"
#include "agent/tasks.hpp"
#include "http/http.hpp"
#include "proto/container_type.hpp"

namespace zlh::agent::console {

class ConsoleManager {
 public:
  ConsoleManager(supervisor::Supervisor& sup, devenv::DevEnvironment& devenv, TaskRunner& tasks,
                 std::chrono::seconds idle_keep = std::chrono::minutes(10));

  // container_type: nullopt when not provisioned (→ E_CONFLICT).
  Result<std::shared_ptr<http::WsHandler>> open(const http::Request& req,
                                                std::optional<ContainerType> container_type);

  // Stops dev sessions that have had no client for longer than idle_keep.
  void reap_idle();
  // Runs reap_idle() every 30 s on the TaskRunner, until it stops.
  void start_reaper();

  // Bookkeeping from handlers.
  void attached(const std::string& service);
  void detached(const std::string& service);

 private:
  Result<std::string> new_dev_session();

  supervisor::Supervisor& sup_;
  devenv::DevEnvironment& devenv_;
  TaskRunner& tasks_;
  std::chrono::seconds idle_keep_;
  std::mutex mu_;
  struct Usage {
    int clients = 0;
    std::chrono::steady_clock::time_point last_detach = std::chrono::steady_clock::now();
  };
  std::map<std::string, Usage> usage_;
};

}  // namespace zlh::agent::console
