#include "agent/supervisor/service_state.hpp"

namespace zlh::agent::supervisor {

bool is_live(ServiceState s) {
  return s == ServiceState::kStarting || s == ServiceState::kRunning ||
         s == ServiceState::kStopping;
}

}  // namespace zlh::agent::supervisor
