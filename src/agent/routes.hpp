// The agent's one route table (DESIGN.md §3.3). Handlers are thin: they parse,
// call the owning module and serialize.
#pragma once

#include <chrono>
#include <optional>

#include "agent/auth.hpp"
#include "agent/provisioner.hpp"
#include "common/http.hpp"
#include "common/metrics.hpp"

namespace zlh::agent {

struct AgentContext {
  Provisioner& provisioner;
  const TokenGuard& guard;
  metrics::Registry& metrics;
  std::optional<int64_t> vmid;
  std::chrono::steady_clock::time_point started;
};

http::Router make_router(AgentContext& ctx);

}  // namespace zlh::agent
