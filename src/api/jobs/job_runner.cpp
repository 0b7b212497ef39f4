#include "api/jobs/job_runner.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "api/servers/create_request.hpp"
#include "base/log.hpp"
#include "proto/agent_state.hpp"

namespace zlh::api {

using store::JobState;
using store::ServerState;
using store::StepState;

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
SteadyTime steady_now() { return std::chrono::steady_clock::now(); }

std::string random_owner() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "job-runner-%08x", rd());
  return buf;
}

}  // namespace

JobRunner::JobRunner(store::Store& store, drivers::Driver& driver, const AgentClient& agents,
                     JobRunnerConfig cfg)
    : store_(store), driver_(driver), agents_(agents), cfg_(std::move(cfg)) {
  if (cfg_.owner.empty()) cfg_.owner = random_owner();
  cfg_.lease_ttl = std::max(cfg_.lease_ttl, std::chrono::milliseconds(3));
}

JobRunner::~JobRunner() { stop(); }

void JobRunner::abandon() {
  abandon_ = true;
  stop();
}

void JobRunner::stop() {
  stopping_ = true;
  cv_.notify_all();
  std::vector<std::thread> ts;
  std::thread lt;
  {
    std::lock_guard lk(mu_);
    ts.swap(threads_);
    lt.swap(lease_thread_);
  }
  if (lt.joinable()) lt.join();
  for (auto& t : ts)
    if (t.joinable()) t.join();
}

size_t JobRunner::active() const {
  std::lock_guard lk(mu_);
  return running_.size();
}

bool JobRunner::stopping_locked(int64_t job_id) const {
  if (stopping_) return true;
  auto it = running_.find(job_id);
  if (it == running_.end()) return false;
  return it->second.lost || steady_now() >= it->second.deadline;
}

bool JobRunner::stopping(int64_t job_id) const {
  std::lock_guard lk(mu_);
  return stopping_locked(job_id);
}

bool JobRunner::sleep_for(int64_t job_id, std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  auto until = steady_now() + d;
  if (auto it = running_.find(job_id); it != running_.end())
    until = std::min(until, it->second.deadline);
  cv_.wait_until(lk, until, [&] { return stopping_locked(job_id); });
  return !stopping_locked(job_id);
}

const store::Lease& JobRunner::lease_of(int64_t job_id) const {
  std::lock_guard lk(mu_);
  // The entry lives until the job's own thread ends, and its lease never
  // changes: the reference stays good for the job's code.
  return running_.at(job_id).lease;
}

bool JobRunner::lease_lost(int64_t job_id, const Result<void>& r) {
  if (r || !store::is_lease_lost(r.error())) return false;
  std::lock_guard lk(mu_);
  if (auto it = running_.find(job_id); it != running_.end() && !it->second.lost) {
    it->second.lost = true;
    log::warn("jobs", "job lease lost; another replica runs the job", {{"job_id", job_id}});
  }
  cv_.notify_all();
  return true;
}

bool JobRunner::start(const store::Lease& lease, SteadyTime since) {
  {
    std::lock_guard lk(mu_);
    if (!stopping_ && !running_.count(lease.job_id)) {
      running_[lease.job_id] = Active{0, lease, since + cfg_.lease_ttl * 2 / 3};
      threads_.emplace_back([this, lease] {
        {
          store::LeaseFence fence(lease);
          run(lease.job_id);
        }
        {
          std::lock_guard lk2(mu_);
          running_.erase(lease.job_id);
          cv_.notify_all();
        }
        if (!abandon_) (void)store_.release_lease(lease);
      });
      return true;
    }
  }
  (void)store_.release_lease(lease);  // runs here already, or stopping
  return false;
}

void JobRunner::submit(int64_t job_id) {
  if (stopping_) return;
  start_lease_thread();
  const SteadyTime since = steady_now();
  auto l = store_.claim_job_by_id(job_id, cfg_.owner, cfg_.lease_ttl);
  if (!l) {
    log::warn("jobs", "cannot claim the job; the claim loop retries",
              {{"job_id", job_id}, {"error", l.error().message}});
    return;
  }
  if (*l) start(**l, since);
}

void JobRunner::cancel(int64_t job_id) {
  std::lock_guard lk(mu_);
  auto it = running_.find(job_id);
  if (it == running_.end()) return;
  it->second.cancelled = true;
  cv_.notify_all();
}

bool JobRunner::cancelled(int64_t job_id) {
  {
    std::lock_guard lk(mu_);
    auto it = running_.find(job_id);
    if (it == running_.end() || it->second.cancelled) return it != running_.end();
  }
  // Deleted through another replica: the store says cancelled.
  auto st = store_.check_lease(lease_of(job_id));
  if (!st) {
    (void)lease_lost(job_id, std::unexpected(st.error()));
    return false;
  }
  if (*st != JobState::kCancelled) return false;
  cancel(job_id);
  return true;
}

bool JobRunner::wait_for_others(int64_t job_id, int64_t server_id) {
  std::unique_lock lk(mu_);
  running_.at(job_id).server_id = server_id;
  for (;;) {
    cv_.wait(lk, [&] {
      if (stopping_locked(job_id)) return true;
      for (const auto& [j, a] : running_)
        if (j != job_id && a.server_id == server_id) return false;
      return true;
    });
    if (stopping_locked(job_id)) return false;
    // And on other replicas: a job of the server still leased (the create
    // job this delete cancelled, stopping there).
    lk.unlock();
    auto other = store_.other_job_leased(server_id, job_id);
    lk.lock();
    if (other && !*other) return true;
    cv_.wait_for(lk, cfg_.poll_interval, [&] { return stopping_locked(job_id); });
  }
}

void JobRunner::resume_all() {
  {
    std::lock_guard lk(mu_);
    claiming_ = true;
  }
  start_lease_thread();
}

void JobRunner::start_lease_thread() {
  std::lock_guard lk(mu_);
  if (lease_thread_started_ || stopping_) return;
  lease_thread_started_ = true;
  lease_thread_ = std::thread([this] { lease_loop(); });
}

void JobRunner::lease_loop() {
  const auto period = cfg_.lease_ttl / 3;
  std::unique_lock lk(mu_);
  bool claimed_once = false;
  while (!stopping_) {
    const bool claim = claiming_;
    lk.unlock();
    heartbeat();
    if (claim) {
      if (!claimed_once) log::info("jobs", "claiming jobs", {{"owner", cfg_.owner}});
      claimed_once = true;
      claim_ready();
    }
    lk.lock();
    cv_.wait_for(lk, period, [&] { return stopping_ || (claiming_ && !claim); });
  }
}

void JobRunner::heartbeat() {
  std::vector<store::Lease> held;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, a] : running_)
      if (!a.lost) held.push_back(a.lease);
  }
  if (held.empty()) return;
  const SteadyTime since = steady_now();
  auto r = store_.renew_leases(held, cfg_.lease_ttl);
  if (!r) {
    // The jobs stop by themselves at their deadlines unless a later
    // renewal succeeds first.
    log::warn("jobs", "cannot renew job leases",
              {{"jobs", held.size()}, {"error", r.error().message}});
    return;
  }
  std::lock_guard lk(mu_);
  for (const store::Lease& l : r->renewed)
    if (auto it = running_.find(l.job_id);
        it != running_.end() && it->second.lease.epoch == l.epoch)
      it->second.deadline = since + cfg_.lease_ttl * 2 / 3;
  for (const store::Lease& l : r->lost)
    if (auto it = running_.find(l.job_id); it != running_.end() && !it->second.lost) {
      it->second.lost = true;
      log::warn("jobs", "job lease lost; another replica runs the job", {{"job_id", l.job_id}});
    }
  for (int64_t id : r->cancelled)
    if (auto it = running_.find(id); it != running_.end()) it->second.cancelled = true;
  cv_.notify_all();
}

void JobRunner::claim_ready() {
  while (!stopping_) {
    const SteadyTime since = steady_now();
    auto l = store_.claim_job(cfg_.owner, cfg_.lease_ttl);
    if (!l) {
      log::warn("jobs", "cannot claim jobs", {{"error", l.error().message}});
      return;
    }
    if (!*l) return;
    log::info("jobs", "claimed job", {{"job_id", (*l)->job_id}, {"epoch", (*l)->epoch}});
    // Refused (still winding down here): claimed again at the next round.
    if (!start(**l, since)) return;
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
  if (cancelled(job.id)) return fail(codes::kConflict, "job cancelled");
  if (stopping(job.id)) return fail(codes::kUnavailable, "api shutting down or lease lost");
  const store::Lease& lease = lease_of(job.id);
  auto w = store_.update_job_step(lease, idx, StepState::kRunning);
  if (lease_lost(job.id, w)) return w;
  auto r = f();
  if (!r) {
    if (stopping(job.id)) return r;  // resumed at the next start, or by the lease's holder
    if (cancelled(job.id)) return r;
    (void)store_.update_job_step(lease, idx, StepState::kFailed, shown(r.error().message));
    return r;
  }
  w = store_.update_job_step(lease, idx, StepState::kDone);
  if (lease_lost(job.id, w)) return w;
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
    running_.at(job_id).server_id = server->id;
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
  if (lease_lost(job->id, store_.update_job_state(lease_of(job->id), JobState::kRunning))) return;
  Result<void> r =
      job->kind == store::JobKind::kCreate ? run_create(*job, *server) : run_delete(*job, *server);
  // Left running: resumed at the next start, or by the lease's next holder.
  if (stopping(job->id) && !r) return;
  if (cancelled(job->id)) {
    // The server's delete job owns the container now (and the store already
    // says cancelled): no compensation, no state change.
    log::info("jobs", "create job cancelled by the server's deletion",
              {{"job_id", job->id}, {"server_id", server->id}});
    return;
  }
  if (r) {
    if (lease_lost(job->id, store_.update_job_state(lease_of(job->id), JobState::kDone))) return;
    if (job->kind == store::JobKind::kDelete && on_server_deleted_) on_server_deleted_(server->id);
    return;
  }
  log::warn("jobs", "job failed",
            {{"job_id", job->id}, {"server_id", server->id}, {"error", r.error().message}});
  if (job->kind == store::JobKind::kCreate) {
    compensate(*job, *server, r.error());
  } else {
    (void)store_.update_job_state(lease_of(job->id), JobState::kFailed, shown(r.error().message));
    (void)store_.update_server(lease_of(job->id), server->id,
                               {.state = ServerState::kError, .error = shown(r.error().message)});
  }
}

void JobRunner::run_other(store::Job& job, store::Server& s, const JobKindRunner& f) {
  const store::Lease& lease = lease_of(job.id);
  if (lease_lost(job.id, store_.update_job_state(lease, JobState::kRunning))) return;
  JobContext ctx{
      job, s,
      [this, &job](int idx, const std::function<Result<void>()>& fn) { return step(job, idx, fn); },
      [this, id = job.id] { return stopping(id); },
      [this, id = job.id](std::chrono::milliseconds d) { return sleep_for(id, d); }};
  auto r = f(ctx);
  if (stopping(job.id) && !r) return;  // left running: resumed at the next start
  if (r) {
    (void)store_.update_job_state(lease, JobState::kDone);
    return;
  }
  log::warn("jobs", "job failed",
            {{"job_id", job.id},
             {"server_id", s.id},
             {"kind", to_string(job.kind)},
             {"error", r.error().message}});
  (void)store_.update_job_state(lease, JobState::kFailed, shown(r.error().message));
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
  if (auto r = step(job, 3, [&] { return record_address(job, s, vmid, ip); }); !r) return r;
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
    auto moved = store_.move_to_free_vmid(lease_of(job.id), s.id, taken,
                                          std::string(driver_.name()) + ": taken outside zlh");
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

Result<void> JobRunner::record_address(const store::Job& job, const store::Server& s, int vmid,
                                       std::string& ip) {
  auto a = driver_.address(vmid, cfg_.address_timeout);
  if (!a) return fail(a.error());
  ip = *a;
  std::string node(driver_.name());
  if (auto st = driver_.status(vmid); st && !st->node.empty()) node = st->node;
  auto u = store_.update_server(lease_of(job.id), s.id, {.ip = ip, .node = node});
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
      if (auto w = store_.update_server(lease_of(job.id), s.id, u); lease_lost(job.id, w)) return w;
      auto typed = parse_agent_state(state);
      if (typed == AgentState::kRunning) {
        return store_.update_server(lease_of(job.id), s.id,
                                    {.state = ServerState::kReady, .error = std::string()});
      }
      if (typed == AgentState::kError || typed == AgentState::kCrashed) {
        std::string why = (*st)["error"].is_string() ? (*st)["error"].get<std::string>() : state;
        return fail(codes::kUpstream, "agent: " + why);
      }
    }
    if (cancelled(job.id)) return fail(codes::kConflict, "job cancelled");
    if (std::chrono::steady_clock::now() > deadline)
      return fail(codes::kTimeout, "the workload did not reach running in time");
    if (!sleep_for(job.id, cfg_.poll_interval))
      return fail(codes::kUnavailable, "api shutting down or lease lost");
  }
}

void JobRunner::compensate(store::Job& job, store::Server& s, const Error& why) {
  // Refused when the job was cancelled meanwhile: the delete job cleans up.
  const store::Lease& lease = lease_of(job.id);
  if (auto c = store_.update_job_state(lease, JobState::kCompensating, shown(why.message)); !c) {
    log::warn("jobs", "not compensating", {{"job_id", job.id}, {"error", c.error().message}});
    return;
  }
  if (s.vmid) {
    vmid_changed(*s.vmid);
    if (auto d = driver_.destroy(*s.vmid, cfg_.stop_timeout); !d) {
      log::error("jobs", "compensation failed: container not destroyed",
                 {{"job_id", job.id}, {"vmid", *s.vmid}, {"error", d.error().message}});
      (void)store_.update_job_state(lease, JobState::kFailed,
                                    shown(why.message + "; cleanup: " + d.error().message));
      (void)store_.update_server(lease, s.id,
                                 {.state = ServerState::kError, .error = shown(why.message)});
      return;
    }
  }
  // Lease lost meanwhile: the next holder resumes the compensation.
  if (lease_lost(job.id, store_.release_allocations(lease, s.id))) return;
  (void)store_.update_server(lease, s.id,
                             {.state = ServerState::kError, .error = shown(why.message)});
  (void)store_.update_job_state(lease, JobState::kCompensated, shown(why.message));
}

Result<void> JobRunner::run_delete(store::Job& job, store::Server& s) {
  if (auto w = store_.update_server(lease_of(job.id), s.id, {.state = ServerState::kDeleting});
      lease_lost(job.id, w))
    return w;
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
        if (!sleep_for(job.id, pause)) return r;
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
  return step(job, 2, [&] { return store_.delete_server(lease_of(job.id), s.id); });
}

}  // namespace zlh::api
