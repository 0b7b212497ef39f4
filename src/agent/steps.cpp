#include "agent/steps.hpp"

#include "base/fs.hpp"

namespace zlh::agent {

Result<void> RealStepRunner::run(const StepSpec& step, const payload::Payload& p,
                                 const std::atomic<bool>& stop, const StepProgress& progress) {
  switch (step.kind) {
    case StepKind::kLayout:
      for (const char* dir : {"opt/zlh/runtimes", "opt/zlh/services", "opt/zlh/cache", "run/zlh",
                              "etc/profile.d", "opt/zlh-agent/state", "opt/zlh-agent/config"}) {
        if (auto r = fs::make_dirs(fs::join(root_, dir), 0755); !r) return r;
      }
      if (p.container_type == ContainerType::kGame)
        return fs::make_dirs(fs::join(root_, "opt/zlh/server"), 0755);
      return {};
    case StepKind::kUser: {
      auto u = devenv_.ensure_user();
      if (!u) return fail(u.error());
      if (!u->is_current_user) runtimes_.set_run_as(u->uid, u->gid, u->name);
      return {};
    }
    case StepKind::kRuntime: {
      auto r = runtimes_.install(
          p.runtime, p.version, p.catalog_sha256,
          [&](const std::string& detail, double f) { progress(detail, f); }, &stop);
      if (!r) return fail(r.error());
      return {};
    }
    case StepKind::kProfile:
      return devenv_.regenerate(runtimes_.active());
    case StepKind::kAddon: {
      progress("install addon code-server", 0.0);
      auto r = addons_.enable("code-server", "", std::nullopt, &stop);
      if (!r) return fail(r.error());
      return {};
    }
    case StepKind::kGame: {
      auto r = game_installer_.install(p, stop, progress);
      if (!r) return fail(r.error());
      return {};
    }
    case StepKind::kWorkload:
      switch (p.container_type) {
        case ContainerType::kDev:
          return {};
        case ContainerType::kGame:
          return game_server_.start(p, stop, progress);
      }
      return {};
  }
  return fail(codes::kInternal, "unknown step kind " + std::string(to_string(step.kind)));
}

}  // namespace zlh::agent
