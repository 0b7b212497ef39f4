// Backups of a server's files (docs/backups-api.md): the agent makes a
// tar.zst of the files root on the fly (GET /backups/archive, pausing a
// running game's saves around it) and zlh-api streams it into a
// BackupStore; a restore streams an archive back (PUT /backups/restore)
// between a graceful stop and a start, after keeping the current files as a
// pre-restore backup. Both are durable jobs of the JobRunner (kinds backup
// and restore), one unfinished job per server.
//
// Limits: retention keeps the newest `keep` usable backups of each server
// (oldest deleted first; never one a restore is reading), and a per-user
// quota in bytes (E_QUOTA): checked when a job is created (a backup needs
// room left; a restore needs room for a pre-restore backup the size of the
// one restored, refused before anything is touched) and while an archive
// arrives (the job fails with E_QUOTA, the partial file is removed).
//
// Thread-safety: every method may be called from any thread (the store and
// the BackupStore are thread-safe; jobs run on the runner's threads).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "api/backups/backup_store.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/jobs/job_runner.hpp"
#include "api/store/store.hpp"

namespace zlh::api::backups {

using BackupKind = store::BackupKind;

inline const std::vector<std::string> kBackupSteps = {"archive", "retention"};
inline const std::vector<std::string> kRestoreSteps = {"pre-restore backup", "stop workload",
                                                       "restore files", "start workload"};

struct BackupConfig {
  int keep = 10;                            // per server (--backup-keep)
  int64_t quota_bytes = int64_t(20) << 30;  // per user unless overridden (--backup-quota); 0: none
  bool keep_on_server_delete = false;       // --keep-backups
  // Each wait for the agent: the archive's first byte may wait for a game's
  // save (the catalog's timeout_s, at most 600 s).
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(11)};
  std::chrono::milliseconds stop_timeout{std::chrono::minutes(2)};
  std::chrono::milliseconds poll_interval{250};
  // Host directories replaced by "<host path>" in the errors users read
  // (a failed backup's error; the runner redacts job errors the same way).
  std::vector<std::string> host_paths;
};

class BackupService {
 public:
  // Registers the backup and restore job kinds and the server-deletion hook
  // with `jobs` (so construct it before jobs.resume_all()).
  BackupService(store::Store& store, BackupStore& archives, JobRunner& jobs,
                const AgentClient& agents, BackupConfig cfg);

  // A backup of `server` (its owner's quota) as a job, submitted to the
  // runner; the job's id (what a schedule's backup task calls).
  // `name` empty: one is made from the time. E_INVALID (name), E_CONFLICT
  // (the server has an unfinished job or no container), E_QUOTA.
  Result<int64_t> start_backup(const store::Server& server, std::string name, BackupKind kind);
  // The same, not submitted (the caller submits after its audit entry),
  // with the backup row and the whole job.
  Result<store::StartedBackup> create(const store::Server& server, std::string name,
                                      BackupKind kind);
  // A restore of the server's backup `backup_id` as a queued job.
  // E_NOT_FOUND, E_CONFLICT, E_QUOTA.
  Result<store::StartedRestore> restore(const store::Server& server, int64_t backup_id);
  // Removes the server's backup (row and archive). E_NOT_FOUND, E_CONFLICT
  // (being restored or still being made).
  Result<void> remove(const store::Server& server, int64_t backup_id);
  // The archive of the server's ready backup. E_NOT_FOUND, E_CONFLICT (not ready).
  Result<OpenedArchive> open(const store::Server& server, int64_t backup_id, store::Backup& backup);
  // The user's quota in bytes (their override, else the default; 0: none).
  Result<int64_t> quota_for(int64_t user_id);
  // Deletes the server's usable backups beyond the newest `keep`, oldest
  // first, never one being restored; failed entries older than the newest
  // usable one go too. Repeatable.
  Result<void> apply_retention(int64_t server_id);
  int keep() const { return cfg_.keep; }

 private:
  Result<void> run_backup(JobContext& c);
  Result<void> run_restore(JobContext& c);
  Result<void> restore_steps(JobContext& c, int64_t backup_id, int64_t pre_id);
  // Pulls the agent's archive into backup `backup_id` (step idx's progress).
  Result<void> archive(JobContext& c, int idx, int64_t backup_id);
  Result<void> stop_workload(JobContext& c);
  Result<void> send_archive(JobContext& c, int64_t backup_id);
  Result<void> start_workload(JobContext& c);
  void mark_failed(int64_t server_id, int64_t backup_id, const Error& why);
  void server_deleted(int64_t server_id);
  void progress(JobContext& c, int idx, uint64_t bytes);

  store::Store& store_;
  BackupStore& archives_;
  JobRunner& jobs_;
  const AgentClient& agents_;
  BackupConfig cfg_;
};

}  // namespace zlh::api::backups
