#include "agent/devenv/service.hpp"

#include "base/log.hpp"

namespace zlh::agent::devenv {

Result<DevUser> DevEnvironment::ensure_user() {
  std::lock_guard lk(mu_);
  if (user_) return *user_;
  auto u = ensure_dev_user(root_, user_name_);
  if (!u) return u;
  user_ = *u;
  log::info("devenv", "dev user ready", {{"user", u->name}, {"uid", u->uid}, {"home", u->home}});
  return *u;
}

Result<void> DevEnvironment::regenerate(const std::vector<ActiveRuntime>& runtimes) {
  auto u = ensure_user();
  if (!u) return fail(u.error());
  Environment env = build_environment(runtimes, *u, root_);
  if (auto r = write_profile(root_, render_profile(env, runtimes)); !r) return r;
  std::lock_guard lk(mu_);
  env_ = std::move(env);
  log::info("devenv", "environment written",
            {{"runtimes", runtimes.size()}, {"path", env_->get("PATH")}});
  return {};
}

Environment DevEnvironment::environment() const {
  std::lock_guard lk(mu_);
  if (env_) return *env_;
  Environment e;
  e.vars.push_back({"PATH", std::string(kSystemPath)});
  return e;
}

Result<supervisor::ServiceSpec> DevEnvironment::dev_service(const std::string& name) {
  auto u = ensure_user();
  if (!u) return fail(u.error());
  supervisor::ServiceSpec spec;
  spec.name = name;
  spec.env = environment().envp();
  spec.cwd = u->workspace;
  if (!u->is_current_user) {
    spec.uid = u->uid;
    spec.gid = u->gid;
    spec.user = u->name;
  }
  return spec;
}

std::optional<DevUser> DevEnvironment::user() const {
  std::lock_guard lk(mu_);
  return user_;
}

}  // namespace zlh::agent::devenv
