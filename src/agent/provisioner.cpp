#include "agent/provisioner.hpp"

#include <algorithm>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"

namespace zlh::agent {

namespace {
constexpr std::string_view kComponent = "provisioner";
}  // namespace

bool is_provisioning(State s) {
  return s == State::kInstalling || s == State::kVerifying || s == State::kStarting;
}

std::vector<StepSpec> plan_for(const payload::Payload& p) {
  std::vector<StepSpec> steps;
  steps.push_back({StepKind::kLayout, "prepare container layout", State::kInstalling});
  switch (p.container_type) {
    case ContainerType::kDev:
      steps.push_back({StepKind::kUser, "set up dev user", State::kInstalling});
      steps.push_back({StepKind::kRuntime, "install runtime " + p.runtime + " " + p.version,
                       State::kInstalling});
      steps.push_back({StepKind::kProfile, "write dev environment", State::kVerifying});
      if (p.enable_code_server)
        steps.push_back({StepKind::kAddon, "install addon code-server", State::kInstalling});
      steps.push_back({StepKind::kWorkload, "start services", State::kStarting});
      break;
    case ContainerType::kGame:
      steps.push_back({StepKind::kGame, "install " + p.game + " " + p.variant + " " + p.version,
                       State::kInstalling});
      steps.push_back({StepKind::kWorkload, "start " + p.game + " server", State::kStarting});
      break;
  }
  return steps;
}

Provisioner::Provisioner(std::string root, std::optional<int64_t> vmid, StepRunner& runner)
    : root_(std::move(root)), vmid_(vmid), runner_(runner) {}

Provisioner::~Provisioner() { stop(); }

std::string Provisioner::payload_path() const {
  return fs::join(root_, "opt/zlh-agent/config/payload.json");
}
std::string Provisioner::state_path() const {
  return fs::join(root_, "opt/zlh-agent/state/provision.json");
}

Result<void> Provisioner::persist_locked() {
  nlohmann::json j = {{"state", to_string(state_)},
                      {"payload_sha256", payload_sha256_},
                      {"step", step_},
                      {"install_step", install_step_},
                      {"progress", progress_},
                      {"error", error_},
                      {"provisioning_complete", provisioning_complete_},
                      {"updated_at", log::now_rfc3339()}};
  if (auto r = fs::make_dirs(fs::join(root_, "opt/zlh-agent/state"), 0700); !r) return r;
  return fs::write_file_atomic(state_path(), j.dump() + "\n", 0600);
}

void Provisioner::load() {
  std::lock_guard lk(mu_);
  auto text = fs::read_file(payload_path());
  if (!text) {
    if (!text.error().is(codes::kNotFound)) {
      state_ = State::kError;
      error_ = "stored payload unreadable: " + text.error().message;
    }
    return;  // no payload: idle
  }
  auto p = payload::parse_payload(*text, vmid_);
  if (!p) {
    state_ = State::kError;
    error_ = "stored payload invalid: " + p.error().message;
    log::error(kComponent, "stored payload invalid", {{"error", p.error().message}});
    return;
  }
  payload_ = *p;
  payload_sha256_ = crypto::sha256_hex(p->to_json().dump());

  auto st = fs::read_file(state_path());
  nlohmann::json sj = st ? nlohmann::json::parse(*st, nullptr, false) : nlohmann::json();
  bool usable = sj.is_object() && sj.value("payload_sha256", "") == payload_sha256_ &&
                state_from_string(sj.value("state", "")).has_value();
  if (!usable) {
    // A crash between writing the payload and the state: start from the top.
    state_ = State::kInstalling;
    step_ = 0;
    log::info(kComponent, "payload without state, provisioning from the first step");
    return;
  }
  state_ = *state_from_string(sj.value("state", ""));
  step_ = sj.value("step", size_t(0));
  install_step_ = sj.value("install_step", "");
  progress_ = sj.value("progress", 0.0);
  error_ = sj.value("error", "");
  provisioning_complete_ = sj.value("provisioning_complete", false);
  log::info(kComponent, "state restored",
            {{"state", to_string(state_)}, {"step", step_}, {"install_step", install_step_}});
}

void Provisioner::start() {
  stop_ = false;
  thread_ = std::thread([this] { worker(); });
}

void Provisioner::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<Provisioner::Accept> Provisioner::submit(const payload::Payload& p) {
  std::string canonical = p.to_json().dump();
  std::string sha = crypto::sha256_hex(canonical);
  std::unique_lock lk(mu_);
  if (payload_ && sha == payload_sha256_) return Accept::kUnchanged;
  if (is_provisioning(state_))
    return fail(codes::kConflict, "a different payload is being provisioned (state " +
                                      std::string(to_string(state_)) + "); retry when it is done");
  if (payload_ && provisioning_complete_ && payload_->container_type != p.container_type)
    return fail(codes::kConflict, "container_type cannot change once a container is provisioned");
  // L2: the config directory is root's alone; its parents stay 0755
  // (make_dirs gives every directory it creates the one mode).
  if (auto r = fs::make_dirs(fs::join(root_, "opt/zlh-agent"), 0755); !r) return fail(r.error());
  if (auto r = fs::make_dirs(fs::join(root_, "opt/zlh-agent/config"), 0700); !r)
    return fail(r.error());
  if (auto r = fs::write_file_atomic(payload_path(), canonical + "\n", 0600); !r)
    return fail(r.error().wrap("write payload"));
  payload_ = p;
  payload_sha256_ = sha;
  state_ = State::kInstalling;
  step_ = 0;
  install_step_.clear();
  progress_ = 0;
  error_.clear();
  provisioning_complete_ = false;
  ++generation_;
  if (auto r = persist_locked(); !r)
    log::error(kComponent, "persist state failed", {{"error", r.error().message}});
  log::info(
      kComponent, "payload accepted",
      {{"container_type", to_string(p.container_type)}, {"payload_sha256", sha.substr(0, 16)}});
  lk.unlock();
  cv_.notify_all();
  return Accept::kAccepted;
}

void Provisioner::worker() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_.load() || (payload_ && is_provisioning(state_)); });
    if (stop_) return;
    payload::Payload p = *payload_;
    uint64_t gen = generation_;
    auto steps = plan_for(p);
    while (step_ < steps.size() && !stop_ && gen == generation_) {
      const StepSpec spec = steps[step_];
      state_ = spec.phase;
      install_step_ = spec.name;
      progress_ = double(step_) / double(steps.size());
      if (auto r = persist_locked(); !r)
        log::error(kComponent, "persist state failed", {{"error", r.error().message}});
      log::info(kComponent, "step started", {{"step", spec.name}, {"index", step_}});
      lk.unlock();
      size_t index = step_;
      size_t count = steps.size();
      auto r = runner_.run(spec, p, stop_,
                           [this, index, count, gen](const std::string& detail, double f) {
                             std::lock_guard plk(mu_);
                             if (gen != generation_ || index != step_) return;
                             if (!detail.empty()) install_step_ = detail;
                             progress_ = (double(index) + std::clamp(f, 0.0, 1.0)) / double(count);
                           });
      lk.lock();
      if (gen != generation_) break;
      if (stop_) return;  // the step re-runs after restart (steps are idempotent)
      if (!r) {
        state_ = State::kError;
        error_ = spec.name + ": " + r.error().message;
        log::error(kComponent, "step failed",
                   {{"step", spec.name},
                    {"error", r.error().message},
                    {"code", to_string(r.error().code)}});
        if (auto pr = persist_locked(); !pr)
          log::error(kComponent, "persist state failed", {{"error", pr.error().message}});
        break;
      }
      ++step_;
    }
    if (gen == generation_ && step_ >= steps.size() && is_provisioning(state_)) {
      state_ = State::kRunning;
      install_step_.clear();
      progress_ = 1;
      provisioning_complete_ = true;
      if (auto pr = persist_locked(); !pr)
        log::error(kComponent, "persist state failed", {{"error", pr.error().message}});
      log::info(kComponent, "provisioning complete");
    }
  }
}

std::optional<payload::Payload> Provisioner::payload() const {
  std::lock_guard lk(mu_);
  return payload_;
}

State Provisioner::state() const {
  std::lock_guard lk(mu_);
  return state_;
}

nlohmann::json Provisioner::status() const {
  std::lock_guard lk(mu_);
  nlohmann::json j = {{"state", to_string(state_)},
                      {"provisioning_complete", provisioning_complete_},
                      {"install_step", install_step_.empty() ? nlohmann::json(nullptr)
                                                             : nlohmann::json(install_step_)},
                      {"progress", progress_},
                      {"error", error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(error_)},
                      {"container_type", nullptr},
                      {"runtime", nullptr},
                      {"version", nullptr}};
  if (payload_) {
    j["container_type"] = std::string(to_string(payload_->container_type));
    j["version"] = payload_->version;
    j["payload_sha256"] = payload_sha256_;
    switch (payload_->container_type) {
      case ContainerType::kDev:
        j["runtime"] = payload_->runtime;
        j["enable_code_server"] = payload_->enable_code_server;
        break;
      case ContainerType::kGame:
        j["game"] = payload_->game;
        j["variant"] = payload_->variant;
        break;
    }
  }
  return j;
}

}  // namespace zlh::agent
