// Backup rows and the backup/restore jobs that make and use them.
#include <nlohmann/json.hpp>
#include <string>

#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

constexpr const char* kCols =
    "SELECT id, server_id, owner_id, name, kind, state, size, sha256, format, error, created_at,"
    " finished_at FROM backups ";

Backup row_backup(Stmt& q) {
  Backup b;
  b.id = q.col(0).int64();
  b.server_id = q.col(1).int64();
  b.owner_id = q.col(2).int64();
  b.name = q.col(3).text();
  b.kind = must(parse_backup_kind(q.col(4).text()));
  b.state = must(parse_backup_state(q.col(5).text()));
  b.size = q.col(6).int64();
  b.sha256 = q.col(7).text();
  b.format = q.col(8).text();
  b.error = q.col(9).text();
  b.created_at = from_ms(q.col(10).int64());
  b.finished_at = opt_time(q.col(11));
  return b;
}

Result<Backup> one_backup(Db& db, int64_t id) {
  Stmt q = db.prepare(std::string(kCols) + "WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return fail(codes::kNotFound, "backup not found");
  return row_backup(q);
}

int64_t bytes_used(Db& db, int64_t owner_id) {
  Stmt q =
      db.prepare("SELECT COALESCE(SUM(size), 0) FROM backups WHERE owner_id = ? AND state != ?");
  q.bind(1, owner_id);
  q.bind(2, std::string(to_string(BackupState::kFailed)));
  q.step();
  return q.col(0).int64();
}

// E_CONFLICT when the server has an unfinished job.
Result<void> no_unfinished_job(Db& db, int64_t server_id) {
  Stmt busy =
      db.prepare("SELECT id, kind FROM jobs WHERE server_id = ? AND state " + unfinished_in());
  busy.bind(1, server_id);
  if (busy.step())
    return fail(codes::kConflict, "the server has an unfinished " + busy.col(1).text() + " job (" +
                                      std::to_string(busy.col(0).int64()) + ")");
  return {};
}

Error quota_error(int64_t limit, int64_t used, int64_t want) {
  return Error::make(codes::kQuota, "quota backup_bytes: " + std::to_string(limit) + " bytes, " +
                                        std::to_string(used) + " used" +
                                        (want ? ", " + std::to_string(want) + " more needed" : ""));
}

Backup insert_backup(Db& db, const NewBackup& b, int64_t now) {
  Stmt ins = db.prepare(
      "INSERT INTO backups(server_id, owner_id, name, kind, state, created_at)"
      " VALUES (?,?,?,?,?,?) RETURNING id");
  ins.bind(1, b.server_id);
  ins.bind(2, b.owner_id);
  ins.bind(3, b.name);
  ins.bind(4, std::string(to_string(b.kind)));
  ins.bind(5, std::string(to_string(BackupState::kCreating)));
  ins.bind(6, now);
  return must(one_backup(db, returning_id(ins)));
}

}  // namespace

Result<StartedBackup> Store::create_backup_job(const NewBackup& b, int64_t quota_bytes,
                                               std::span<const std::string> steps) {
  if (steps.empty()) return std::unexpected(Error::invalid("steps", "a job needs steps"));
  return impl_->write("create backup", [&](Db& db) -> Result<StartedBackup> {
    if (!row_exists(db, "SELECT 1 FROM servers WHERE id = ? AND deleted_at IS NULL", b.server_id))
      return fail(codes::kNotFound, "server not found");
    if (auto j = no_unfinished_job(db, b.server_id); !j) return std::unexpected(j.error());
    const int64_t used = bytes_used(db, b.owner_id);
    if (quota_bytes > 0 && used >= quota_bytes)
      return std::unexpected(quota_error(quota_bytes, used, 0));
    const int64_t now = impl_->now_ms();
    StartedBackup out;
    out.backup = insert_backup(db, b, now);
    out.job = insert_job(db, b.server_id, JobKind::kBackup, steps, now,
                         nlohmann::json{{"backup_id", out.backup.id}}.dump());
    return out;
  });
}

Result<StartedRestore> Store::create_restore_job(int64_t server_id, int64_t backup_id,
                                                 int64_t owner_id, int64_t quota_bytes,
                                                 std::span<const std::string> steps) {
  if (steps.empty()) return std::unexpected(Error::invalid("steps", "a job needs steps"));
  return impl_->write("create restore", [&](Db& db) -> Result<StartedRestore> {
    if (!row_exists(db, "SELECT 1 FROM servers WHERE id = ? AND deleted_at IS NULL", server_id))
      return fail(codes::kNotFound, "server not found");
    auto b = one_backup(db, backup_id);
    if (!b || b->server_id != server_id) return fail(codes::kNotFound, "backup not found");
    if (b->state != BackupState::kReady)
      return fail(codes::kConflict,
                  "the backup is " + std::string(to_string(b->state)) + ", not ready");
    if (auto j = no_unfinished_job(db, server_id); !j) return std::unexpected(j.error());
    const int64_t used = bytes_used(db, owner_id);
    if (quota_bytes > 0 && used + b->size > quota_bytes)
      return std::unexpected(quota_error(quota_bytes, used, b->size));
    const int64_t now = impl_->now_ms();
    StartedRestore out;
    out.pre_restore = insert_backup(
        db, {server_id, owner_id, "before restoring " + b->name, BackupKind::kPreRestore}, now);
    exec_with(db, "UPDATE backups SET state = ? WHERE id = ?",
              std::string(to_string(BackupState::kRestoring)), backup_id);
    out.job = insert_job(
        db, server_id, JobKind::kRestore, steps, now,
        nlohmann::json{{"backup_id", backup_id}, {"pre_restore_id", out.pre_restore.id}}.dump());
    return out;
  });
}

Result<Backup> Store::get_backup(int64_t id) {
  return impl_->read("get backup", [&](Db& db) { return one_backup(db, id); });
}

Result<std::vector<Backup>> Store::list_backups(int64_t server_id) {
  return impl_->read("list backups", [&](Db& db) -> Result<std::vector<Backup>> {
    Stmt q = db.prepare(std::string(kCols) + "WHERE server_id = ? ORDER BY id DESC");
    q.bind(1, server_id);
    std::vector<Backup> out;
    while (q.step()) out.push_back(row_backup(q));
    return out;
  });
}

Result<void> Store::update_backup(int64_t id, const BackupUpdate& u) {
  if (u.size && *u.size < 0) return std::unexpected(Error::invalid("size", "negative size"));
  return impl_->write("update backup", [&](Db& db) -> Result<void> {
    if (!row_exists(db, "SELECT 1 FROM backups WHERE id = ?", id))
      return fail(codes::kNotFound, "backup not found");
    if (u.state)
      exec_with(db, "UPDATE backups SET state = ? WHERE id = ?", std::string(to_string(*u.state)),
                id);
    if (u.size) exec_with(db, "UPDATE backups SET size = ? WHERE id = ?", *u.size, id);
    if (u.sha256) exec_with(db, "UPDATE backups SET sha256 = ? WHERE id = ?", *u.sha256, id);
    if (u.error) exec_with(db, "UPDATE backups SET error = ? WHERE id = ?", *u.error, id);
    if (u.finished_at)
      exec_with(db, "UPDATE backups SET finished_at = ? WHERE id = ?", to_ms(*u.finished_at), id);
    return {};
  });
}

Result<void> Store::delete_backup(int64_t id) {
  return impl_->write("delete backup", [&](Db& db) -> Result<void> {
    auto b = one_backup(db, id);
    if (!b) return {};
    if (b->state == BackupState::kRestoring)
      return fail(codes::kConflict, "the backup is being restored");
    exec_with(db, "DELETE FROM backups WHERE id = ?", id);
    return {};
  });
}

Result<void> Store::delete_backups_of_server(int64_t server_id) {
  return impl_->write("delete backups", [&](Db& db) -> Result<void> {
    exec_with(db, "DELETE FROM backups WHERE server_id = ?", server_id);
    return {};
  });
}

Result<int64_t> Store::backup_bytes_used(int64_t owner_id) {
  return impl_->read("backup bytes",
                     [&](Db& db) -> Result<int64_t> { return bytes_used(db, owner_id); });
}

}  // namespace zlh::api::store
