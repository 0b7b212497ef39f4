#include "api/jobs/job_runner.hpp"

#include <nlohmann/json.hpp>

#include "api/servers/create_request.hpp"
#include "base/log.hpp"
#include "proto/agent_state.hpp"

namespace zlh::api {

using store::JobState;
using store::ServerState;
using store::StepState;

JobRunner::JobRunner(store::Store& store, drivers::Driver& driver, const AgentClient& agents,
                     JobRunnerConfig cfg)
    : store_(store), driver_(driver), agents_(agents), cfg_(std::move(cfg)) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::stop() {
  stopping_ = true;
  cv_.notify_all();
  std::vector<std::thread> ts;
  {
    std::lock_guard lk(mu_);
    ts.swap(threads_);
  }
  for (auto& t : ts)
    if (t.joinable()) t.join();
}

size_t JobRunner::active() const {
  std::lock_guard lk(mu_);
  return running_.size();
}

bool JobRunner::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, d, [&] { return stopping_.load(); });
  return !stopping_;
}

void JobRunner::submit(int64_t job_id) {
  std::lock_guard lk(mu_);
  if (stopping_ || running_.count(job_id)) return;
  running_[job_id] = 0;
  threads_.emplace_back([this, job_id] {
    run(job_id);
    std::lock_guard lk2(mu_);
    running_.erase(job_id);
    cancelled_.erase(job_id);
    cv_.notify_all();
  });
}

void JobRunner::cancel(int64_t job_id) {
  std::lock_guard lk(mu_);
  if (!running_.count(job_id)) return;
  cancelled_.insert(job_id);
  cv_.notify_all();
}

bool JobRunner::cancelled(int64_t job_id) const {
  std::lock_guard lk(mu_);
  return cancelled_.count(job_id) > 0;
}

bool JobRunner::wait_for_others(int64_t job_id, int64_t server_id) {
  std::unique_lock lk(mu_);
  running_[job_id] = server_id;
  cv_.wait(lk, [&] {
    if (stopping_) return true;
    for (const auto& [j, sid] : running_)
      if (j != job_id && sid == server_id) return false;
    return true;
  });
  return !stopping_;
}

void JobRunner::resume_all() {
  auto jobs = store_.list_unfinished_jobs();
  if (!jobs) {
    log::error("jobs", "cannot list unfinished jobs", {{"error", jobs.error().message}});
    return;
  }
  for (const auto& j : *jobs) {
    log::info("jobs", "resuming job",
              {{"job_id", j.id}, {"server_id", j.server_id}, {"state", to_string(j.state)}});
    submit(j.id);
  }
}

drivers::ContainerSpec JobRunner::spec_for(const store::Server& s) const {
  drivers::ContainerSpec spec;
  spec.type = s.type;
  spec.hostname = s.hostname;
  auto p = nlohmann::json::parse(s.payload, nullptr, false);
  if (p.is_object()) {
    spec.memory_mb = p.value("memory_mb", 1024);
    spec.cpu_cores = p.value("cpu_cores", 1);
    spec.disk_gb = p.value("disk_gb", 0);
  }
  if (s.type == store::ServerType::kGame && !s.ports.empty()) spec.game_port = s.ports.front();
  spec.agent = cfg_.agent;
  return spec;
}

std::string redact_host_paths(std::string_view msg, const std::vector<std::string>& prefixes) {
  std::string out(msg);
  for (std::string_view p : prefixes) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    if (p.size() <= 1) continue;
    for (size_t at = out.find(p); at != std::string::npos; at = out.find(p, at)) {
      size_t end = at + p.size();
      if (end < out.size() && out[end] != '/' &&
          std::string_view(" \t\n'\",;:)").find(out[end]) == std::string_view::npos) {
        at = end;  // a longer name that merely starts with the prefix
        continue;
      }
      while (end < out.size() &&
             std::string_view(" \t\n'\",;:()").find(out[end]) == std::string_view::npos)
        ++end;
      out.replace(at, end - at, "<host path>");
      at += 11;
    }
  }
  return out;
}

std::string JobRunner::shown(const std::string& message) const {
  return redact_host_paths(message, cfg_.host_paths);
}

Result<void> JobRunner::step(store::Job& job, int idx, const std::function<Result<void>()>& f) {
  if (idx < int(job.steps.size()) && job.steps[size_t(idx)].state == StepState::kDone) return {};
  if (stopping_) return fail(codes::kUnavailable, "api shutting down");
  if (cancelled(job.id)) return fail(codes::kConflict, "job cancelled");
  (void)store_.update_job_step(job.id, idx, StepState::kRunning);
  auto r = f();
  if (!r) {
    if (stopping_) return r;  // resumed at the next start
    if (cancelled(job.id)) return r;
    (void)store_.update_job_step(job.id, idx, StepState::kFailed, shown(r.error().message));
    return r;
  }
  (void)store_.update_job_step(job.id, idx, StepState::kDone);
  job.steps[size_t(idx)].state = StepState::kDone;
  return {};
}

void JobRunner::run(int64_t job_id) {
  auto job = store_.get_job(job_id);
  if (!job) return;
  auto server = store_.get_server(job->server_id);
  if (!server) return;
  if (!is_unfinished(job->state)) return;  // e.g. cancelled before it started
  {
    std::lock_guard lk(mu_);
    running_[job_id] = server->id;
  }
  if (job->kind == store::JobKind::kDelete && !wait_for_others(job->id, server->id)) return;
  if (job->state == JobState::kCompensating) {
    compensate(
        *job, *server,
        Error::make(codes::kInternal, job->error.empty() ? "resumed compensation" : job->error));
    return;
  }
  if (auto k = kinds_.find(job->kind); k != kinds_.end())
    return run_other(*job, *server, k->second);
  (void)store_.update_job_state(job->id, JobState::kRunning);
  Result<void> r =
      job->kind == store::JobKind::kCreate ? run_create(*job, *server) : run_delete(*job, *server);
  if (stopping_ && !r) return;  // left running: resumed at the next start
  if (cancelled(job->id)) {
    // The server's delete job owns the container now (and the store already
    // says cancelled): no compensation, no state change.
    log::info("jobs", "create job cancelled by the server's deletion",
              {{"job_id", job->id}, {"server_id", server->id}});
    return;
  }
  if (r) {
    (void)store_.update_job_state(job->id, JobState::kDone);
    if (job->kind == store::JobKind::kDelete && on_server_deleted_) on_server_deleted_(server->id);
    return;
  }
  log::warn("jobs", "job failed",
            {{"job_id", job->id}, {"server_id", server->id}, {"error", r.error().message}});
  if (job->kind == store::JobKind::kCreate) {
    compensate(*job, *server, r.error());
  } else {
    (void)store_.update_job_state(job->id, JobState::kFailed, shown(r.error().message));
    (void)store_.update_server(server->id,
                               {.state = ServerState::kError, .error = shown(r.error().message)});
  }
}

void JobRunner::run_other(store::Job& job, store::Server& s, const JobKindRunner& f) {
  (void)store_.update_job_state(job.id, JobState::kRunning);
  JobContext ctx{
      job, s,
      [this, &job](int idx, const std::function<Result<void>()>& fn) { return step(job, idx, fn); },
      [this] { return stopping_.load(); },
      [this](std::chrono::milliseconds d) { return sleep_for(d); }};
  auto r = f(ctx);
  if (stopping_ && !r) return;  // left running: resumed at the next start
  if (r) {
    (void)store_.update_job_state(job.id, JobState::kDone);
    return;
  }
  log::warn("jobs", "job failed",
            {{"job_id", job.id},
             {"server_id", s.id},
             {"kind", to_string(job.kind)},
             {"error", r.error().message}});
  (void)store_.update_job_state(job.id, JobState::kFailed, shown(r.error().message));
}

Result<void> JobRunner::run_create(store::Job& job, store::Server& s) {
  if (!s.vmid) return fail(codes::kInternal, "server has no vmid");
  if (auto r = step(job, 0, [&] { return claim_free_vmid(job, s); }); !r) return r;
  int vmid = *s.vmid;
  auto spec = spec_for(s);
  if (auto r = step(job, 1,
                    [&]() -> Result<void> {
                      if (auto c = driver_.create(vmid, spec); !c) return c;
                      return driver_.configure(vmid, spec);
                    });
      !r)
    return r;
  if (auto r = step(job, 2, [&] { return driver_.start(vmid); }); !r) return r;
  std::string ip = s.ip;
  if (auto r = step(job, 3, [&] { return record_address(s, vmid, ip); }); !r) return r;
  if (ip.empty()) {
    auto st = driver_.status(vmid);
    if (st) ip = st->address;
  }
  if (auto r = step(job, 4, [&] { return send_payload(s, vmid, ip); }); !r) return r;
  return step(job, 5, [&] { return wait_running(job, s, vmid, ip); });
}

Result<void> JobRunner::claim_free_vmid(const store::Job& job, store::Server& s) {
  // Allocated by the store; verified free where the containers live (a
  // Proxmox cluster may hold guests zlh did not make): a vmid taken by
  // something else is reserved for good and the server moves to the next.
  for (int tries = 0; tries < 50; ++tries) {
    auto use = driver_.vmid_use(*s.vmid, s.hostname);
    if (!use) return fail(use.error());
    if (*use != drivers::VmidUse::kForeign) return {};
    const int taken = *s.vmid;
    auto moved =
        store_.move_to_free_vmid(s.id, taken, std::string(driver_.name()) + ": taken outside zlh");
    if (!moved) return fail(moved.error());
    log::warn(
        "jobs", "vmid taken outside zlh; moved the server",
        {{"job_id", job.id}, {"server_id", s.id}, {"vmid", taken}, {"new_vmid", *moved->vmid}});
    s = std::move(*moved);
    if (!s.vmid) return fail(codes::kInternal, "server has no vmid");
    vmid_changed(taken);
    vmid_changed(*s.vmid);
  }
  return fail(codes::kUnavailable, "no free vmid after 50 tries");
}

Result<void> JobRunner::record_address(const store::Server& s, int vmid, std::string& ip) {
  auto a = driver_.address(vmid, cfg_.address_timeout);
  if (!a) return fail(a.error());
  ip = *a;
  std::string node(driver_.name());
  if (auto st = driver_.status(vmid); st && !st->node.empty()) node = st->node;
  auto u = store_.update_server(s.id, {.ip = ip, .node = node});
  vmid_changed(vmid);
  return u;
}

Result<void> JobRunner::send_payload(const store::Server& s, int vmid, const std::string& ip) {
  auto p = nlohmann::json::parse(s.payload, nullptr, false);
  if (!p.is_object()) return fail(codes::kInternal, "stored payload is not an object");
  // A driver that forwards the host port (lxc) runs the game on its
  // own address at the usual 25565.
  std::optional<int> game_port;
  if (s.type == store::ServerType::kGame && !s.ports.empty())
    game_port = driver_.forwards_game_port() ? drivers::kGamePort : s.ports.front();
  auto agent = servers::agent_payload(p, vmid, s.type, game_port);
  auto resp = agents_.call(ip, vmid, "POST", "/config", agent.dump(), std::chrono::seconds(30));
  if (!resp) return fail(resp.error());
  if (resp->status != 200 && resp->status != 202) {
    auto e = nlohmann::json::parse(resp->body, nullptr, false);
    std::string msg =
        e.is_object() && e.contains("error") ? e["error"].value("message", resp->body) : resp->body;
    return fail(codes::kUpstream, "agent refused the payload: " + msg);
  }
  return {};
}

Result<void> JobRunner::wait_running(const store::Job& job, const store::Server& s, int vmid,
                                     const std::string& ip) {
  auto deadline = std::chrono::steady_clock::now() + cfg_.running_timeout;
  for (;;) {
    auto st = agents_.status(ip, vmid);
    if (st) {
      std::string state = st->value("state", "");
      store::ServerUpdate u{.agent_state = state, .agent_last_seen = store::Clock::now()};
      if ((*st)["install_step"].is_string())
        u.install_step = (*st)["install_step"].get<std::string>();
      if ((*st)["progress"].is_number())
        u.progress = std::clamp((*st)["progress"].get<double>(), 0.0, 1.0);
      (void)store_.update_server(s.id, u);
      auto typed = parse_agent_state(state);
      if (typed == AgentState::kRunning) {
        return store_.update_server(s.id, {.state = ServerState::kReady, .error = std::string()});
      }
      if (typed == AgentState::kError || typed == AgentState::kCrashed) {
        std::string why = (*st)["error"].is_string() ? (*st)["error"].get<std::string>() : state;
        return fail(codes::kUpstream, "agent: " + why);
      }
    }
    if (cancelled(job.id)) return fail(codes::kConflict, "job cancelled");
    if (std::chrono::steady_clock::now() > deadline)
      return fail(codes::kTimeout, "the workload did not reach running in time");
    if (!sleep_for(cfg_.poll_interval)) return fail(codes::kUnavailable, "api shutting down");
  }
}

void JobRunner::compensate(store::Job& job, store::Server& s, const Error& why) {
  // Refused when the job was cancelled meanwhile: the delete job cleans up.
  if (auto c = store_.update_job_state(job.id, JobState::kCompensating, shown(why.message)); !c) {
    log::warn("jobs", "not compensating", {{"job_id", job.id}, {"error", c.error().message}});
    return;
  }
  if (s.vmid) {
    vmid_changed(*s.vmid);
    if (auto d = driver_.destroy(*s.vmid, cfg_.stop_timeout); !d) {
      log::error("jobs", "compensation failed: container not destroyed",
                 {{"job_id", job.id}, {"vmid", *s.vmid}, {"error", d.error().message}});
      (void)store_.update_job_state(job.id, JobState::kFailed,
                                    shown(why.message + "; cleanup: " + d.error().message));
      (void)store_.update_server(s.id, {.state = ServerState::kError, .error = shown(why.message)});
      return;
    }
  }
  (void)store_.release_allocations(s.id);
  (void)store_.update_server(s.id, {.state = ServerState::kError, .error = shown(why.message)});
  (void)store_.update_job_state(job.id, JobState::kCompensated, shown(why.message));
}

Result<void> JobRunner::run_delete(store::Job& job, store::Server& s) {
  (void)store_.update_server(s.id, {.state = ServerState::kDeleting});
  if (s.vmid) {
    int vmid = *s.vmid;
    vmid_changed(vmid);
    // A container that cannot be reached now (its node offline) is waited
    // for, with backoff, up to unavailable_patience.
    auto patiently = [&](const std::function<Result<void>()>& f) -> Result<void> {
      const auto deadline = std::chrono::steady_clock::now() + cfg_.unavailable_patience;
      auto pause = std::chrono::milliseconds(500);
      for (;;) {
        auto r = f();
        if (r || !r.error().is(codes::kUnavailable) ||
            std::chrono::steady_clock::now() + pause > deadline)
          return r;
        log::warn("jobs", "container unavailable; delete waits",
                  {{"job_id", job.id},
                   {"vmid", vmid},
                   {"error", r.error().message},
                   {"retry_ms", pause.count()}});
        if (!sleep_for(pause)) return r;
        pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(15));
      }
    };
    if (auto r = step(job, 0,
                      [&] {
                        return patiently([&] {
                          auto st = driver_.status(vmid);
                          if (st && st->state == drivers::PowerState::kMissing)
                            return Result<void>{};
                          return driver_.stop(vmid, cfg_.stop_timeout);
                        });
                      });
        !r)
      return r;
    if (auto r = step(
            job, 1,
            [&] { return patiently([&] { return driver_.destroy(vmid, cfg_.stop_timeout); }); });
        !r)
      return r;
  }
  return step(job, 2, [&] { return store_.delete_server(s.id); });
}

}  // namespace zlh::api
