// The backup and restore job kinds (BackupService, run by the JobRunner).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/backups/backup_service.hpp"
#include "base/log.hpp"

namespace zlh::api::backups {

using store::BackupState;
using store::StepState;

namespace {

constexpr const char* kWasRunning = "was running";
constexpr const char* kWasNotRunning = "was not running";

Result<int64_t> param(const store::Job& job, const char* key) {
  auto p = nlohmann::json::parse(job.params, nullptr, false);
  if (!p.is_object() || !p[key].is_number_integer())
    return fail(codes::kInternal, std::string("job params lack ") + key);
  return p[key].get<int64_t>();
}

// The agent's error answer as an Error with its code (E_UPSTREAM when it
// has none we know).
Error agent_error(const http::ClientResponse& r, std::string_view what) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  Code code = codes::kUpstream;
  std::string msg = "agent answered " + std::to_string(r.status);
  if (j.is_object() && j["error"].is_object()) {
    if (auto c = parse_code(j["error"].value("code", "")); c && *c != codes::kUnauthorized)
      code = *c;
    msg = j["error"].value("message", msg);
  }
  return Error::make(code, std::string(what) + ": " + msg);
}

bool is_up(const std::string& state) {
  return state == "running" || state == "starting" || state == "stopping";
}

}  // namespace

void BackupService::progress(JobContext& c, int idx, uint64_t bytes) {
  (void)store_.update_job_step(c.job.id, idx, StepState::kRunning,
                               std::to_string(bytes) + " bytes");
}

Result<void> BackupService::archive(JobContext& c, int idx, int64_t backup_id) {
  auto b = store_.get_backup(backup_id);
  if (!b) return fail(b.error());
  if (b->state == BackupState::kReady) return {};  // committed before a restart
  if (!c.server.vmid || c.server.ip.empty())
    return fail(codes::kConflict, "the server has no running container");
  auto quota = quota_for(b->owner_id);
  auto used = store_.backup_bytes_used(b->owner_id);
  if (!quota || !used) return fail(!quota ? quota.error() : used.error());
  const uint64_t room = *quota > 0 ? uint64_t(std::max<int64_t>(0, *quota - *used)) : UINT64_MAX;
  auto w = archives_.create(c.server.id, backup_id);  // a partial one from before is dropped
  if (!w) return fail(w.error());
  auto last = std::chrono::steady_clock::now();
  auto sink = [&](std::string_view piece) -> Result<void> {
    if (c.stopping()) return fail(codes::kUnavailable, "api shutting down");
    if ((*w)->written() + piece.size() > room)
      return fail(codes::kQuota, "quota backup_bytes: " + std::to_string(*quota) + " bytes, " +
                                     std::to_string(*used) + " used; the archive is larger");
    if (auto r = (*w)->write(piece); !r) return r;
    if (std::chrono::steady_clock::now() - last > std::chrono::seconds(1)) {
      last = std::chrono::steady_clock::now();
      progress(c, idx, (*w)->written());
    }
    return {};
  };
  auto r = agents_.download(c.server.ip, *c.server.vmid, "/backups/archive", sink,
                            {.idle = cfg_.idle_timeout, .total = std::nullopt});
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(agent_error(*r, "archive"));
  auto stored = (*w)->commit();
  if (!stored) return fail(stored.error());
  progress(c, idx, stored->size);
  return store_.update_backup(backup_id, {.state = BackupState::kReady,
                                          .size = int64_t(stored->size),
                                          .sha256 = stored->sha256,
                                          .error = std::string(),
                                          .finished_at = store::Clock::now()});
}

Result<void> BackupService::run_backup(JobContext& c) {
  auto id = param(c.job, "backup_id");
  if (!id) return fail(id.error());
  auto r = c.step(0, [&] { return archive(c, 0, *id); });
  if (!r) {
    if (!c.stopping()) mark_failed(c.server.id, *id, r.error());
    return r;
  }
  if (auto k = c.step(1, [&] { return apply_retention(c.server.id); }); !k)
    log::warn("backups", "retention failed",
              {{"server_id", c.server.id}, {"error", k.error().message}});
  return {};
}

Result<void> BackupService::stop_workload(JobContext& c) {
  auto st = agents_.status(c.server.ip, *c.server.vmid);
  if (!st) return fail(st.error());
  // A resumed step keeps what it saw first (it may have stopped it itself).
  const bool was_running = is_up(st->value("state", "")) || c.job.steps[1].detail == kWasRunning;
  (void)store_.update_job_step(c.job.id, 1, StepState::kRunning,
                               was_running ? kWasRunning : kWasNotRunning);
  c.job.steps[1].detail = was_running ? kWasRunning : kWasNotRunning;
  if (!was_running) return {};
  auto r = agents_.call(c.server.ip, *c.server.vmid, "POST", "/stop", {}, cfg_.stop_timeout);
  if (!r) return fail(r.error());
  if (r->status == 409) {  // no workload to stop (a dev server without code-server)
    c.job.steps[1].detail = kWasNotRunning;
    return store_.update_job_step(c.job.id, 1, StepState::kRunning, kWasNotRunning);
  }
  if (r->status / 100 != 2) return fail(agent_error(*r, "stop"));
  const auto deadline = std::chrono::steady_clock::now() + cfg_.stop_timeout;
  for (;;) {
    auto s = agents_.status(c.server.ip, *c.server.vmid);
    if (s && !is_up(s->value("state", ""))) return {};
    if (std::chrono::steady_clock::now() > deadline)
      return fail(codes::kTimeout, "the workload did not stop in time");
    if (!c.sleep(cfg_.poll_interval)) return fail(codes::kUnavailable, "api shutting down");
  }
}

Result<void> BackupService::send_archive(JobContext& c, int64_t backup_id) {
  auto a = archives_.open(c.server.id, backup_id);
  if (!a) return fail(a.error());
  uint64_t sent = 0;
  auto last = std::chrono::steady_clock::now();
  auto source = [&](char* buf, size_t cap) -> Result<size_t> {
    if (c.stopping()) return fail(codes::kUnavailable, "api shutting down");
    auto n = a->source->read(buf, cap);
    if (!n) return n;
    sent += *n;
    if (std::chrono::steady_clock::now() - last > std::chrono::seconds(1)) {
      last = std::chrono::steady_clock::now();
      progress(c, 2, sent);
    }
    return n;
  };
  auto r =
      agents_.upload(c.server.ip, *c.server.vmid, "PUT", "/backups/restore", "application/zstd",
                     source, {.idle = cfg_.idle_timeout, .total = std::nullopt});
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(agent_error(*r, "restore"));
  progress(c, 2, sent);
  return {};
}

Result<void> BackupService::start_workload(JobContext& c) {
  auto r = agents_.call(c.server.ip, *c.server.vmid, "POST", "/start", {}, cfg_.stop_timeout);
  if (!r) return fail(r.error());
  if (r->status / 100 != 2 && r->status != 409) return fail(agent_error(*r, "start"));
  return {};
}

Result<void> BackupService::restore_steps(JobContext& c, int64_t backup_id, int64_t pre_id) {
  if (!c.server.vmid || c.server.ip.empty())
    return fail(codes::kConflict, "the server has no running container");
  if (auto r = c.step(0, [&] { return archive(c, 0, pre_id); }); !r) {
    if (!c.stopping()) mark_failed(c.server.id, pre_id, r.error());
    return fail(r.error().wrap("pre-restore backup"));
  }
  Result<void> r = c.step(1, [&] { return stop_workload(c); });
  if (r) r = c.step(2, [&] { return send_archive(c, backup_id); });
  if (!r) {
    if (c.stopping()) return r;
    // The files are the old ones (the agent swaps only a complete tree):
    // the workload goes back to how it was.
    if (c.job.steps[1].detail == kWasRunning) {
      if (auto s = start_workload(c); !s)
        return fail(
            r.error().wrap("restore").code,
            "restore: " + r.error().message + "; starting again failed: " + s.error().message);
      return fail(r.error().code,
                  "restore: " + r.error().message + "; the server was started again");
    }
    return fail(r.error().wrap("restore"));
  }
  return c.step(3, [&] { return start_workload(c); });
}

Result<void> BackupService::run_restore(JobContext& c) {
  auto b = param(c.job, "backup_id");
  auto p = param(c.job, "pre_restore_id");
  if (!b || !p) return fail(!b ? b.error() : p.error());
  auto r = restore_steps(c, *b, *p);
  if (!r && c.stopping()) return r;  // resumed at the next start, still restoring
  (void)store_.update_backup(*b, {.state = BackupState::kReady});
  if (auto k = apply_retention(c.server.id); !k)
    log::warn("backups", "retention failed",
              {{"server_id", c.server.id}, {"error", k.error().message}});
  return r;
}

}  // namespace zlh::api::backups
