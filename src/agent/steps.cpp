#include "agent/steps.hpp"

#include "common/fs.hpp"

namespace zlh::agent {

Result<void> RealStepRunner::run(const StepSpec& step, const Payload& p,
                                 const std::atomic<bool>& stop) {
  if (step.kind == "layout") {
    for (const char* dir : {"opt/zlh/runtimes", "opt/zlh/services", "opt/zlh/cache", "run/zlh",
                            "etc/profile.d", "opt/zlh-agent/state", "opt/zlh-agent/config"}) {
      if (auto r = fs::make_dirs(fs::join(root_, dir), 0755); !r) return r;
    }
    const char* work = p.container_type == "dev" ? "home/dev/workspace" : "opt/zlh/server";
    return fs::make_dirs(fs::join(root_, work), 0755);
  }
  static const std::pair<std::string_view, std::string_view> kMissing[] = {
      {"runtime", "the runtime installer"},    {"devenv", "the dev environment writer"},
      {"addon", "addon installation"},         {"game", "the game server installer"},
      {"workload", "the workload supervisor"},
  };
  for (auto& [kind, what] : kMissing)
    if (step.kind == kind)
      return fail(codes::kUnavailable, std::string(what) + " is not part of this agent build yet");
  return fail(codes::kInternal, "unknown step kind " + step.kind);
}

}  // namespace zlh::agent
