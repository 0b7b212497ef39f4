// The closed set of states a supervised service is in (docs/design.md §6),
// and their wire names in /status and the logs. A service's state is never
// read back from outside (reattach derives it), so there is no parser.
#pragma once

#include <string_view>

#include "base/enum_names.hpp"

namespace zlh::agent::supervisor {

enum class ServiceState {
  kStarting,  // its shim is being spawned or attached
  kRunning,
  kStopping,  // a requested stop is under way
  kStopped,   // stopped on request
  kBackoff,   // crashed; waiting out the restart delay
  kCrashed,   // crashed and the policy gave up
  kExited,    // ended by itself, not restarted (restart_on_crash false)
};

inline constexpr EnumNames<ServiceState, 7> kServiceStateNames{
    {"starting", "running", "stopping", "stopped", "backoff", "crashed", "exited"}};
static_assert(kServiceStateNames.covers(ServiceState::kExited));
inline std::string_view to_string(ServiceState s) { return kServiceStateNames.name(s); }

// Starting, running or stopping: a start needs nothing and a stop has work to do.
bool is_live(ServiceState s);

}  // namespace zlh::agent::supervisor
