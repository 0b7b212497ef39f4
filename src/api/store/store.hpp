// The zlh-api store: every byte of SQL in zlh-api lives behind this class
// (docs/design.md §10.7, STYLE §13). SQLite file, WAL, foreign keys on, busy
// timeout, synchronous=NORMAL; numbered migrations embedded in the binary
// (store/migrations/<engine>/NNNN_name.sql) are applied by open(). Decisions and
// their reasons: docs/store.md.
//
// Ownership and threads: open() returns a Store owned by the caller (main;
// normally one per process) and shared by reference with every thread. It holds one
// SQLite connection behind a mutex, so every call is serialised within the
// process: any thread may call any method at any time. Multi-statement writes
// run in BEGIN IMMEDIATE transactions, so a second process on the same file
// (another Store, the sqlite3 CLI) never sees half a write and never
// interleaves an allocation; it waits up to Options::busy_timeout and then
// gets E_UNAVAILABLE.
//
// Authorization (STYLE §13, coder's dbauthz): methods named *_for_owner take
// the session's user id and put it in the query itself, so a row the user
// does not own is never read; "not yours" and "does not exist" are the same
// E_NOT_FOUND. Methods without an owner are for the system (job runner,
// poller, drivers) and must not be called with an id taken from a request
// before a *_for_owner call has checked it.
//
// Time: writes stamp created_at/updated_at/... with Options::clock. Reads
// whose answer depends on time (get_session) take `now` from the caller.
//
// Errors common to every method: E_IO (disk full, unreadable file, corrupt
// database), E_UNAVAILABLE (the database stayed locked by another process for
// longer than the busy timeout), E_INTERNAL (a bug, such as a CHECK or
// foreign key the store should have caught first). Each method lists its own
// further codes. A failed call changes nothing.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/store/schedule_types.hpp"
#include "api/store/types.hpp"
#include "base/error.hpp"

namespace zlh::api::store {

// Whether an audit action belongs in a server's activity log: what a
// customer did to the server (power, console commands, file changes,
// backups, schedules, members, IDE tickets). Never auth.*, admin.* or a
// refused attempt (authz.denied). The one list, in store/activity.cpp.
bool is_activity_action(std::string_view action);

// Inclusive range [lo, hi].
struct Range {
  int lo = 0;
  int hi = -1;
};

struct Options {
  Range game_vmids{5000, 5999};
  Range dev_vmids{6000, 6999};
  // Ports handed to servers (NewServer::port_count), shared by both types.
  Range ports{30000, 39999};
  std::chrono::milliseconds busy_timeout{5000};
  // Source of the timestamps the store writes; tests pass a fake.
  std::function<Time()> clock = [] { return Clock::now(); };
  // PostgreSQL only: connections in the pool (1..64); `?pool=N` in the URL
  // wins over this.
  int pool_size = 4;
  // PostgreSQL only: the role's password (from a file or the environment,
  // never a URL or a flag). Never logged nor put into an error.
  std::optional<std::string> password;
};

// `url` with any password it holds replaced by "***", for logs. open()
// refuses such a URL anyway.
std::string redact_store_url(std::string_view url);

// What Store::create_delete_job did, in one transaction.
struct DeleteJob {
  Job job;                               // the server's delete job
  std::optional<int64_t> cancelled_job;  // the create job it cancelled
  bool existing = false;                 // job was already queued or running
};

// A server with its provisioning job, both created in one transaction.
struct CreatedServer {
  Server server;
  Job job;
};

// A backup with the job that makes it, created in one transaction.
struct StartedBackup {
  Backup backup;
  Job job;  // kind backup, params {"backup_id"}
};

// A restore job with the pre-restore backup it makes first.
struct StartedRestore {
  Backup pre_restore;  // state creating, kind pre_restore
  Job job;             // kind restore, params {"backup_id", "pre_restore_id"}
};

class Store {
 public:
  // Opens the store at `url` and applies the pending migrations, each in
  // its own transaction. Opening an up-to-date database writes nothing.
  // - `sqlite:<path>`, or a bare path: the SQLite file at <path>, created
  //   (mode 0600) if missing; its directory must exist.
  // - `postgres://…` or `postgresql://…` (libpq's URI syntax, e.g.
  //   postgresql://zlh@db.internal:5432/zlh, or a socket directory with
  //   ?host=/run/postgresql): a pool of Options::pool_size connections
  //   (`?pool=N` in the URL overrides it), each with lock_timeout =
  //   busy_timeout. The password comes from Options::password, else
  //   libpq's PGPASSFILE/~/.pgpass; one inside the URL is refused.
  // Errors: E_INVALID (bad options: empty or out-of-range ranges; a
  // malformed URL, an unknown scheme, a password in the URL, a bad pool),
  // E_IO (cannot create/open the file, WAL refused by the filesystem),
  // E_UNAVAILABLE (PostgreSQL cannot be reached or refuses the login; a
  // build without libpq), E_CONFLICT (the database has a newer schema than
  // this binary, or an applied migration differs from the embedded one of
  // the same number).
  static Result<std::unique_ptr<Store>> open(const std::string& url, Options options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Highest applied migration.
  Result<int> schema_version();

  // ---- users ----
  // E_CONFLICT when the email or the username is taken (the message says
  // which; compared case-insensitively). E_INVALID when a field is empty.
  Result<User> create_user(const NewUser& user);
  // E_NOT_FOUND.
  Result<User> get_user(int64_t id);
  // The user whose email, else whose username, equals `identifier`
  // (case-insensitive). E_NOT_FOUND.
  Result<User> find_user_by_login(std::string_view identifier);
  Result<int64_t> count_users();

  // ---- sessions ----
  // A new session with a fresh random id. E_NOT_FOUND (no such user),
  // E_INVALID (expires_at not after the clock's now).
  Result<Session> create_session(int64_t user_id, Time expires_at);
  // The session if it is valid at `now`: it exists, is not revoked and
  // now < expires_at. Otherwise E_NOT_FOUND, whichever the reason.
  Result<Session> get_session(std::string_view sid, Time now);
  // Marks the session revoked. Repeatable: revoking a revoked session keeps
  // its first revoked_at and succeeds. E_NOT_FOUND for an unknown sid.
  Result<void> revoke_session(std::string_view sid);
  // Deletes sessions that expired or were revoked before `before`; returns
  // how many. Housekeeping, repeatable.
  Result<int> purge_sessions(Time before);

  // ---- servers ----
  // Creates the server (state provisioning) with the lowest free vmid of its
  // type's range, the `port_count` lowest free ports of the pool, and its
  // `create` job (state queued) with `steps` — all in one transaction, so
  // concurrent creates never share a vmid or a port, and a failure leaves
  // nothing behind. Not repeatable: each call creates a server.
  // Errors: E_INVALID (payload not a JSON object, port_count out of range,
  // no steps), E_NOT_FOUND (no such owner), E_UNAVAILABLE ("vmid pool
  // exhausted" / "port pool exhausted").
  // Also E_QUOTA (naming the quota) when the owner's live servers with this
  // one would pass NewServer::quota_* (nothing is created).
  Result<CreatedServer> create_server(const NewServer& server, std::span<const std::string> steps);
  // The user's quota overrides (all unset when none). E_NOT_FOUND (no user).
  Result<QuotaOverrides> get_quotas(int64_t user_id);
  // Replaces them. E_NOT_FOUND (no user), E_INVALID (a negative value).
  Result<void> set_quotas(int64_t user_id, const QuotaOverrides& q);
  // System: the driver found `taken` (the server's vmid) held by something
  // that is not ours: reserves it for good (`reason` says by what) and gives
  // the server the lowest free vmid of its range instead, its hostname
  // following (dev-<new>), in one transaction. Repeatable: a server that no
  // longer holds `taken` is returned as it is. E_NOT_FOUND, E_UNAVAILABLE
  // (vmid pool exhausted).
  Result<Server> move_to_free_vmid(int64_t server_id, int taken, const std::string& reason);
  // E_NOT_FOUND when missing, deleted, or owned by someone else.
  Result<Server> get_server_for_owner(int64_t id, int64_t owner_id);
  // Same, by the vmid the server currently holds (the IDE proxy's key).
  Result<Server> get_server_by_vmid_for_owner(int vmid, int64_t owner_id);
  // System: the live (not deleted) server holding `vmid`, whoever owns it.
  Result<Server> get_server_by_vmid(int vmid);
  // The owner's servers that are not deleted, by id. Indexed on owner.
  Result<std::vector<Server>> list_servers_for_owner(int64_t owner_id);
  // System: every server that is not deleted, by id (the poller).
  Result<std::vector<Server>> list_servers();
  // System: any server, deleted ones included (the job runner). E_NOT_FOUND.
  Result<Server> get_server(int64_t id);
  // System: applies the fields present in `update`. Repeatable.
  // E_NOT_FOUND (missing or deleted), E_INVALID (state kDeleted, payload not
  // a JSON object, progress outside 0..1, negative crash_count).
  Result<void> update_server(int64_t id, const ServerUpdate& update);
  // System: gives the server's vmid and ports back to the pools; they may be
  // handed out again by the next create (lowest free first). Call it only
  // once the container is destroyed. Repeatable (releasing nothing is
  // fine). E_NOT_FOUND for an unknown server.
  Result<void> release_allocations(int64_t server_id);
  // System: releases the allocations, deletes its schedules (and their
  // runs) and marks the server deleted (state deleted, deleted_at), in one
  // transaction. The row stays so its jobs stay
  // visible to the owner. Repeatable. E_NOT_FOUND for an unknown server.
  Result<void> delete_server(int64_t server_id);

  // ---- jobs ----
  // System: a queued job with `steps` (pending) for a server that is not
  // deleted. E_NOT_FOUND (server missing or deleted), E_CONFLICT (the server
  // already has an unfinished job), E_INVALID (no steps).
  Result<Job> create_job(int64_t server_id, JobKind kind, std::span<const std::string> steps);
  // System: the delete job of a server that is not deleted, in one
  // transaction with what it supersedes. A create job that is still queued
  // or running is cancelled (state cancelled, error saying why; the caller
  // must make its runner stop before the delete job touches the container).
  // An unfinished delete job is returned as is (existing). E_NOT_FOUND,
  // E_CONFLICT (a compensation is under way), E_INVALID (no steps).
  Result<DeleteJob> create_delete_job(int64_t server_id, std::span<const std::string> steps);
  // System: E_NOT_FOUND.
  Result<Job> get_job(int64_t id);
  // The job if its server (deleted or not) belongs to `owner_id` or is
  // shared with them (a member reads the server's jobs), else
  // E_NOT_FOUND.
  Result<Job> get_job_for_owner(int64_t id, int64_t owner_id);
  // The server's most recent job (create or delete); E_NOT_FOUND if none.
  Result<Job> latest_job_for_server(int64_t server_id);
  // System: moves the job to `state`; `error`, when given, replaces the
  // job's error text. E_NOT_FOUND, E_CONFLICT (transition not allowed, see
  // JobState; or failed → compensating while another job of the server is
  // unfinished). Setting the current state again is allowed.
  Result<void> update_job_state(int64_t id, JobState state,
                                std::optional<std::string> error = std::nullopt);
  // System: sets step `idx` to `state`; `detail`, when given, replaces its
  // detail. Entering running stamps started_at the first time; entering done
  // or failed stamps finished_at, entering pending or running clears it.
  // Repeatable. E_NOT_FOUND (job or step).
  Result<void> update_job_step(int64_t job_id, int idx, StepState state,
                               std::optional<std::string> detail = std::nullopt);
  // System: jobs that are queued, running or compensating, oldest first —
  // what a runner resumes after a restart.
  Result<std::vector<Job>> list_unfinished_jobs();

  // ---- backups (src/api/backups; docs/backups-api.md) ----
  // Quotas are bytes; 0 = unlimited. A user's bytes are the sizes of their
  // backups that are not failed (owner_id at creation).
  // System: a backup row (state creating) and its backup job (`steps`),
  // in one transaction, for a live server. E_NOT_FOUND (server missing,
  // deleted), E_CONFLICT (the server has an unfinished job), E_QUOTA (the
  // owner's bytes already reach `quota_bytes`), E_INVALID (no steps).
  Result<StartedBackup> create_backup_job(const NewBackup& b, int64_t quota_bytes,
                                          std::span<const std::string> steps);
  // System: a restore job of backup `backup_id` (which must be the server's
  // and ready) with its pre-restore backup row, in one transaction; the
  // backup turns `restoring` (so retention and DELETE leave it alone) until
  // finish_restore. The pre-restore backup is expected to be about the size
  // of the one restored: E_QUOTA, before anything is created, when the
  // owner's bytes plus that size pass `quota_bytes`. E_NOT_FOUND, E_CONFLICT
  // (not ready, or an unfinished job), E_INVALID.
  Result<StartedRestore> create_restore_job(int64_t server_id, int64_t backup_id, int64_t owner_id,
                                            int64_t quota_bytes,
                                            std::span<const std::string> steps);
  // System: E_NOT_FOUND.
  Result<Backup> get_backup(int64_t id);
  // The server's backups, newest first (any state).
  Result<std::vector<Backup>> list_backups(int64_t server_id);
  // System: applies the fields present. E_NOT_FOUND, E_INVALID (negative size).
  Result<void> update_backup(int64_t id, const BackupUpdate& u);
  // System: removes the row. E_CONFLICT while it is restoring. Repeatable
  // (a missing row is fine).
  Result<void> delete_backup(int64_t id);
  // System: removes every row of the server (its deletion). Repeatable.
  Result<void> delete_backups_of_server(int64_t server_id);
  // Bytes of the user's backups that are not failed.
  Result<int64_t> backup_bytes_used(int64_t owner_id);

  // ---- lxc slots (the lxc driver's id ranges and addresses) ----
  // System: the slot `vmid` holds, or else the lowest free slot below
  // `slots`, recorded for it in one transaction (concurrent calls never
  // share a slot). Repeatable: the same vmid gets the same slot back.
  // E_INVALID (vmid out of 1..65535, slots < 1), E_UNAVAILABLE ("lxc slot
  // pool exhausted").
  Result<int> acquire_lxc_slot(int vmid, int slots);
  // System: frees the slot of `vmid` (nothing held is fine). Repeatable.
  Result<void> release_lxc_slot(int vmid);
  // System: the slot `vmid` holds, E_NOT_FOUND when none.
  Result<int> lxc_slot(int vmid);

  // ---- sharing (docs/sharing.md) ----
  // Reads for a user from a request (like the *_for_owner methods): the
  // server, not deleted, as `user_id` may use it — its owner, or a member
  // with the member's permissions. E_NOT_FOUND when neither.
  Result<ServerAccess> get_server_access(int64_t server_id, int64_t user_id);
  Result<ServerAccess> get_server_access_by_vmid(int vmid, int64_t user_id);
  // The user's own servers and those shared with them, by id.
  Result<std::vector<ServerAccess>> list_servers_for_user(int64_t user_id);
  // The system's calls, after an access check: the server's members by user id.
  Result<std::vector<Member>> list_members(int64_t server_id);
  // E_NOT_FOUND (no live server, no such user), E_CONFLICT (the owner, or
  // already a member).
  Result<Member> add_member(int64_t server_id, int64_t user_id, PermSet permissions,
                            int64_t added_by);
  // E_NOT_FOUND (not a member).
  Result<Member> update_member(int64_t server_id, int64_t user_id, PermSet permissions);
  Result<void> remove_member(int64_t server_id, int64_t user_id);
  // Deletes the user's IDE tickets and zlh_ide cookies of vmid; how many.
  Result<int> revoke_ide_access(int64_t user_id, int vmid);
  // Offers the server to `to_user_id` until expires_at, replacing an earlier
  // offer. E_NOT_FOUND (server, user), E_CONFLICT (already theirs), E_INVALID.
  Result<Transfer> offer_transfer(int64_t server_id, int64_t to_user_id, Time expires_at);
  // E_NOT_FOUND when there is no offer.
  Result<void> cancel_transfer(int64_t server_id);
  // The server's live offer (by its current owner, not expired). E_NOT_FOUND.
  Result<Transfer> get_transfer(int64_t server_id, Time now);
  // Live offers made to the user.
  Result<std::vector<Transfer>> list_transfers_to(int64_t user_id, Time now);
  // Makes `user_id` the owner when a live offer to them exists, in one
  // transaction: checked against their quotas (quota_* of `quotas`, as for a
  // create), their member row (if any) dropped, the offer consumed. The old
  // owner keeps no access. E_NOT_FOUND (no such offer), E_QUOTA.
  Result<Transfer> accept_transfer(int64_t server_id, int64_t user_id, Time now,
                                   const NewServer& quotas);

  // ---- the IDE origin's handoff (docs/ide.md) ----
  // Tickets and zlh_ide cookies are random values held by the browser; the
  // store keeps only their SHA-256 (`hash`, hex). Both are bound to a
  // session, its user and a vmid.
  // A ticket valid until `expires_at`. E_INVALID (bad hash or vmid, born
  // expired), E_NOT_FOUND (no such session). Purges tickets expired a
  // minute ago as it goes.
  Result<void> create_ide_ticket(std::string_view hash, const IdeGrant& grant, Time expires_at);
  // Marks the ticket used and returns its grant, in one conditional UPDATE:
  // of concurrent redeems exactly one wins. E_NOT_FOUND when it is unknown,
  // used, expired at `now`, or its session is no longer valid at `now`.
  Result<IdeGrant> redeem_ide_ticket(std::string_view hash, Time now);
  // Records a zlh_ide cookie for the grant. E_INVALID, E_NOT_FOUND (session).
  Result<void> create_ide_cookie(std::string_view hash, const IdeGrant& grant);
  // The cookie's grant while its session is valid at `now`, else E_NOT_FOUND
  // (so logout revokes every cookie of the session).
  Result<IdeGrant> get_ide_cookie(std::string_view hash, Time now);

  // ---- invites (--registration invite) ----
  // Records an invite (its SHA-256, hex) made by `admin_id`. E_INVALID, E_NOT_FOUND.
  Result<void> create_invite(std::string_view hash, int64_t admin_id, Time expires_at);
  // Creates the user if the invite is unused and unexpired at `now`, and
  // marks it used by them, in one transaction: of two registrations with one
  // code exactly one succeeds. E_FORBIDDEN (no such invite, used, expired),
  // else create_user's errors.
  Result<User> create_user_with_invite(const NewUser& user, std::string_view invite_hash, Time now);

  // ---- schedules (docs/schedules.md) ----
  // Schedules belong to a server; the routes check the server's owner first
  // (get_server_for_owner) and pass its id, so every call below is scoped
  // by that server: another server's schedule is E_NOT_FOUND.
  // A new schedule. E_NOT_FOUND (server missing, deleting or deleted),
  // E_QUOTA (the server has kMaxSchedulesPerServer), E_INVALID (tasks not
  // a JSON array, empty name/cron/timezone).
  Result<Schedule> create_schedule(const NewSchedule& s);
  // The server's schedules by id.
  Result<std::vector<Schedule>> list_schedules(int64_t server_id);
  // E_NOT_FOUND.
  Result<Schedule> get_schedule(int64_t server_id, int64_t schedule_id);
  // Applies the fields present and sets next_run_at to `u.next_run_at`
  // (none: NULL). E_NOT_FOUND, E_INVALID (as create).
  Result<Schedule> update_schedule(int64_t server_id, int64_t schedule_id, const ScheduleUpdate& u);
  // Deletes the schedule and its runs. E_NOT_FOUND.
  Result<void> delete_schedule(int64_t server_id, int64_t schedule_id);
  // System (the scheduler): enabled schedules with a next run whose server
  // is neither deleting nor deleted, soonest first.
  Result<std::vector<Schedule>> list_active_schedules();
  // System: moves next_run_at from `expected` to `next` (none: NULL) if it
  // still is `expected`; false when something else changed it first (a
  // PATCH), which then wins. E_NOT_FOUND.
  Result<bool> advance_schedule(int64_t schedule_id, Time expected, std::optional<Time> next);
  // System: records a run — the claim of its fire. E_CONFLICT when the
  // schedule already has a run for that fire_time (UNIQUE), E_NOT_FOUND (no
  // such schedule), E_INVALID (tasks not a JSON array). A run made final
  // (skipped) gets finished_at at once. Deletes the schedule's oldest
  // finished runs beyond kRunsKept.
  Result<ScheduleRun> create_run(const NewRun& run);
  // System: the run's state, per-task results and error; a final state
  // stamps finished_at. E_NOT_FOUND, E_INVALID (tasks not a JSON array).
  Result<ScheduleRun> update_run(int64_t run_id, RunState state, const std::string& tasks,
                                 const std::string& error);
  // The schedule's runs, newest first, at most `limit` (1..100).
  Result<std::vector<ScheduleRun>> list_runs(int64_t schedule_id, int limit);
  // System: every run still `running` (what a crash leaves behind).
  Result<std::vector<ScheduleRun>> list_running_runs();

  // ---- audit ----
  // Appends an entry stamped with the clock; returns its id. Its server_id
  // is entry.server_id, else the <n> of a target "server:<n>[/...]".
  // E_INVALID (empty action, detail not a JSON object), E_NOT_FOUND (no
  // such user).
  Result<int64_t> append_audit(const NewAuditEntry& entry);
  // Newest first, at most `limit` (1..1000) entries, only ids below
  // `before_id` when given (paging). E_INVALID for a bad limit.
  Result<std::vector<AuditEntry>> list_audit(int limit, std::optional<int64_t> before_id = {});
  // How many of the server's newest 200 entries are `action` by `user_id`
  // within the last `window` (a cap on what one user may add, e.g. denials).
  Result<int> count_recent_audit(int64_t server_id, int64_t user_id, std::string_view action,
                                 std::chrono::milliseconds window);
  // A server's activity log (docs/activity.md): its entries whose action
  // is_activity_action() allows, newest first, at most `limit` (1..200),
  // only ids below `before_id` when given. No access check: the route does
  // it first. E_INVALID for a bad limit; an unknown server has none.
  Result<std::vector<ActivityEntry>> list_activity(int64_t server_id,
                                                   std::optional<int64_t> before_id, int limit);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<Store>> open_sqlite(const std::string& path, Options options);
  // pg_store.cpp; only in a build with libpq.
  static Result<std::unique_ptr<Store>> open_postgres(const std::string& url, Options options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlh::api::store
