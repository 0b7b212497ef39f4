#include "api/backups/backup_service.hpp"

#include <ctime>

#include "base/log.hpp"

namespace zlh::api::backups {

using store::BackupState;

namespace {

// "backup 2026-12-06 20:15" (UTC) for a backup without a name.
std::string default_name(BackupKind kind) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return std::string(kind == BackupKind::kScheduled ? "scheduled " : "backup ") + buf;
}

Result<std::string> check_name(std::string name, BackupKind kind) {
  if (name.empty()) return default_name(kind);
  if (name.size() > 100) return fail(Error::invalid("name", "name: at most 100 bytes"));
  for (unsigned char ch : name)
    if (ch < 0x20 || ch == 0x7f) return fail(Error::invalid("name", "name: no control characters"));
  return name;
}

}  // namespace

BackupService::BackupService(store::Store& store, BackupStore& archives, JobRunner& jobs,
                             const AgentClient& agents, BackupConfig cfg)
    : store_(store), archives_(archives), jobs_(jobs), agents_(agents), cfg_(cfg) {
  jobs.add_kind(store::JobKind::kBackup, [this](JobContext& c) { return run_backup(c); });
  jobs.add_kind(store::JobKind::kRestore, [this](JobContext& c) { return run_restore(c); });
  jobs.on_server_deleted([this](int64_t id) { server_deleted(id); });
}

Result<int64_t> BackupService::quota_for(int64_t user_id) {
  auto q = store_.get_quotas(user_id);
  if (!q) return fail(q.error());
  return q->backup_bytes.value_or(cfg_.quota_bytes);
}

Result<store::StartedBackup> BackupService::create(const store::Server& s, std::string name,
                                                   BackupKind kind) {
  auto n = check_name(std::move(name), kind);
  if (!n) return fail(n.error());
  if (!s.vmid || s.ip.empty() || s.state != store::ServerState::kReady)
    return fail(codes::kConflict, "the server has no running container");
  auto quota = quota_for(s.owner_id);
  if (!quota) return fail(quota.error());
  return store_.create_backup_job({s.id, s.owner_id, *n, kind}, *quota, kBackupSteps);
}

Result<int64_t> BackupService::start_backup(const store::Server& s, std::string name,
                                            BackupKind kind) {
  auto c = create(s, std::move(name), kind);
  if (!c) return fail(c.error());
  jobs_.submit(c->job.id);
  return c->job.id;
}

Result<store::StartedRestore> BackupService::restore(const store::Server& s, int64_t backup_id) {
  if (!s.vmid || s.ip.empty() || s.state != store::ServerState::kReady)
    return fail(codes::kConflict, "the server has no running container");
  auto quota = quota_for(s.owner_id);
  if (!quota) return fail(quota.error());
  return store_.create_restore_job(s.id, backup_id, s.owner_id, *quota, kRestoreSteps);
}

Result<void> BackupService::remove(const store::Server& s, int64_t backup_id) {
  auto b = store_.get_backup(backup_id);
  if (!b || b->server_id != s.id) return fail(codes::kNotFound, "backup not found");
  if (b->state == BackupState::kCreating)
    return fail(codes::kConflict, "the backup is still being made");
  if (auto d = store_.delete_backup(backup_id); !d) return d;
  return archives_.remove(s.id, backup_id);
}

Result<OpenedArchive> BackupService::open(const store::Server& s, int64_t backup_id,
                                          store::Backup& out) {
  auto b = store_.get_backup(backup_id);
  if (!b || b->server_id != s.id) return fail(codes::kNotFound, "backup not found");
  if (b->state != BackupState::kReady && b->state != BackupState::kRestoring)
    return fail(codes::kConflict, "the backup is " + std::string(to_string(b->state)));
  out = *b;
  return archives_.open(s.id, backup_id);
}

Result<void> BackupService::apply_retention(int64_t server_id) {
  auto list = store_.list_backups(server_id);  // newest first
  if (!list) return fail(list.error());
  int usable = 0;
  for (const auto& b : *list) {
    const bool is_usable = b.state == BackupState::kReady || b.state == BackupState::kRestoring;
    bool drop = false;
    if (is_usable) drop = ++usable > cfg_.keep && b.state == BackupState::kReady;
    if (b.state == BackupState::kFailed) drop = usable > 0;  // an older good one exists
    if (!drop) continue;
    if (auto d = store_.delete_backup(b.id); !d) return d;
    if (auto r = archives_.remove(server_id, b.id); !r) return r;
    log::info("backups", "retention removed a backup",
              {{"server_id", server_id}, {"backup_id", b.id}, {"keep", cfg_.keep}});
  }
  return {};
}

void BackupService::mark_failed(int64_t server_id, int64_t backup_id, const Error& why) {
  (void)archives_.remove(server_id, backup_id);
  (void)store_.update_backup(backup_id, {.state = BackupState::kFailed,
                                         .size = 0,
                                         .error = redact_host_paths(why.message, cfg_.host_paths),
                                         .finished_at = store::Clock::now()});
}

void BackupService::server_deleted(int64_t server_id) {
  if (cfg_.keep_on_server_delete) {
    log::info("backups", "server deleted; its backups are kept (--keep-backups)",
              {{"server_id", server_id}});
    return;
  }
  if (auto r = archives_.remove_server(server_id); !r)
    log::error("backups", "cannot remove a deleted server's backups",
               {{"server_id", server_id}, {"error", r.error().message}});
  (void)store_.delete_backups_of_server(server_id);
}

}  // namespace zlh::api::backups
