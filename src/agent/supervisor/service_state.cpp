#include "agent/supervisor/service_state.hpp"

namespace zlh::agent::supervisor {

std::string_view to_string(ServiceState s) {
  switch (s) {
    case ServiceState::kStarting:
      return "starting";
    case ServiceState::kRunning:
      return "running";
    case ServiceState::kStopping:
      return "stopping";
    case ServiceState::kStopped:
      return "stopped";
    case ServiceState::kBackoff:
      return "backoff";
    case ServiceState::kCrashed:
      return "crashed";
    case ServiceState::kExited:
      return "exited";
  }
  return "unknown";  // not reached: the switch covers the enum
}

bool is_live(ServiceState s) {
  switch (s) {
    case ServiceState::kStarting:
    case ServiceState::kRunning:
    case ServiceState::kStopping:
      return true;
    case ServiceState::kStopped:
    case ServiceState::kBackoff:
    case ServiceState::kCrashed:
    case ServiceState::kExited:
      return false;
  }
  return false;
}

}  // namespace zlh::agent::supervisor
