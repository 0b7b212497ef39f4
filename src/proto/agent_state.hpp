// The agent's overall state, as GET /status reports it (docs/design.md §6):
// the agent sets it, zlh-api reads it (job runner, poller). The wire names
// are the strings "idle" … "error"; the api's database column keeps them.
// Thread-safety: constant data and pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "base/enum_names.hpp"

namespace zlh {

enum class AgentState {
  kIdle,
  kInstalling,
  kVerifying,
  kStarting,
  kRunning,
  kStopping,
  kStopped,
  kCrashed,
  kError
};
inline constexpr EnumNames<AgentState, 9> kAgentStateNames{{"idle", "installing", "verifying",
                                                            "starting", "running", "stopping",
                                                            "stopped", "crashed", "error"}};
static_assert(kAgentStateNames.covers(AgentState::kError));
constexpr std::string_view to_string(AgentState s) { return kAgentStateNames.name(s); }
// The state a wire string names; nullopt for anything else.
constexpr std::optional<AgentState> parse_agent_state(std::string_view s) {
  return kAgentStateNames.parse(s);
}

}  // namespace zlh
