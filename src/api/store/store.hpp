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

#include "api/store/replica_types.hpp"
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

// ---- job leases (issue 25; docs/store-engines.md "Transactions and locking") ----
// A replica's claim on a job: while it holds the lease (owner and epoch
// still in the job's row) it alone runs the job. expires_at is the store's
// clock; the holder renews before then.
struct Lease {
  int64_t job_id = 0;
  std::string owner;  // the replica id
  int64_t epoch = 0;  // bumped by every claim: a later claim fences earlier holders
  Time expires_at;
};

// Whether `e` is the E_CONFLICT "lease lost" of a fenced write.
bool is_lease_lost(const Error& e);

// What Store::renew_leases did with the leases it was given.
struct LeaseRenewal {
  std::vector<Lease> renewed;      // still held, with their new expires_at
  std::vector<Lease> lost;         // claimed by another (or released): stop at once
  std::vector<int64_t> cancelled;  // renewed, but the job was cancelled meanwhile
};

// Fencing for a whole thread: while a LeaseFence lives, every write this
// thread makes through any Store first checks, in the same transaction, that
// `lease` is still held (owner and epoch), and otherwise fails with
// E_CONFLICT "lease lost" and changes nothing. The job runner holds one
// around each job it runs, so a job kind's own writes (backups) are fenced
// too. Nests (the innermost applies). Not movable.
class LeaseFence {
 public:
  explicit LeaseFence(Lease lease);
  ~LeaseFence();
  LeaseFence(const LeaseFence&) = delete;
  LeaseFence& operator=(const LeaseFence&) = delete;
  const Lease& lease() const { return lease_; }

 private:
  Lease lease_;
  const LeaseFence* prev_;
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

// One sliding window of Store::check_rate: the events of `key` in the last
// `window`, at most `limit` of them (0: not counted, never spent).
struct RateBudget {
  std::string key;
  int64_t limit = 0;
  std::chrono::milliseconds window{0};
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

  // ---- job leases (leases.cpp; docs/store-engines.md) ----
  // Claims the oldest unfinished job (queued, running, compensating) that
  // has no lease or whose lease expired, for `owner` until now + ttl: the
  // epoch is bumped. PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent
  // claims on several replicas never wait for or get the same job. None
  // when nothing is claimable. E_INVALID (empty owner, ttl < 1 ms).
  Result<std::optional<Lease>> claim_job(const std::string& owner, std::chrono::milliseconds ttl);
  // Same for one job (the one a replica just created): none when it is
  // finished or another holder's lease (or this owner's) is still live.
  Result<std::optional<Lease>> claim_job_by_id(int64_t job_id, const std::string& owner,
                                               std::chrono::milliseconds ttl);
  // Moves every lease of `held` that is still held (owner and epoch) to
  // now + ttl, in one transaction; the others are reported lost. A held
  // lease is renewed whatever the job's state (a cancelled job keeps its
  // lease until its runner stops, so its server's delete job waits).
  Result<LeaseRenewal> renew_leases(std::span<const Lease> held, std::chrono::milliseconds ttl);
  // Gives the lease up (another replica may claim the job at once). A lease
  // no longer held is left alone. Repeatable.
  Result<void> release_lease(const Lease& lease);
  // The job's state while `lease` is held; E_CONFLICT "lease lost" when not.
  Result<JobState> check_lease(const Lease& lease);
  // Whether a job of the server other than `job_id` holds a live lease (is
  // being run by some replica): a delete job waits for the create job it
  // cancelled to stop, wherever it runs.
  Result<bool> other_job_leased(int64_t server_id, int64_t job_id);
  // Fenced forms of the writes the job runner makes for a job: each runs
  // only while `lease` is held (as under a LeaseFence), else E_CONFLICT
  // "lease lost" and nothing changes. Otherwise as the unfenced calls.
  Result<void> update_job_state(const Lease& lease, JobState state,
                                std::optional<std::string> error = std::nullopt);
  Result<void> update_job_step(const Lease& lease, int idx, StepState state,
                               std::optional<std::string> detail = std::nullopt);
  Result<void> update_server(const Lease& lease, int64_t server_id, const ServerUpdate& update);
  Result<Server> move_to_free_vmid(const Lease& lease, int64_t server_id, int taken,
                                   const std::string& reason);
  Result<void> release_allocations(const Lease& lease, int64_t server_id);
  Result<void> delete_server(const Lease& lease, int64_t server_id);

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

  // ---- change notifications (notify.cpp; docs/store-engines.md "Cache
  // invalidation") ----
  // Registers `f`, called once for each key a committed write changed:
  //   "session:<id>"  the session was revoked (logout);
  //   "server:<id>"   who may use the server changed: a member removed or
  //                   their permissions changed, a new owner, the server
  //                   deleted;
  //   "vmid:<n>"      what holds vmid n changed (a server created on it,
  //                   moved off it, released, deleted, being deleted) or a
  //                   user's IDE access to it was revoked;
  //   "*"             anything may have changed: drop every cache
  //                   (PostgreSQL: the listener reconnected, so
  //                   notifications may have been missed).
  // SQLite: this process's writes, on the writing thread just after the
  // commit. PostgreSQL: every replica's writes, this one's included, on the
  // listener's thread, about one round trip after the commit. A rolled-back
  // write fires nothing. Never called under the store's lock (f may call
  // the store), but keep f quick. Register at start; never removed.
  void on_change(std::function<void(std::string_view key)> f);

  // ---- cluster counters (counters.cpp, migration 0015) ----
  // Login rate limits and concurrent quotas kept in the database, so that
  // every replica counts the same (auth::LoginRateLimiter and
  // relay::UserSlots built with a store use these).
  //
  // Sliding windows of events per key. The wait until every budget with a
  // limit has room for one more event (> 0; the longest), or nullopt when
  // none is spent. `record`: when none is spent, also records one event at
  // `now` for each budget with a limit, in the same transaction (of
  // concurrent calls, no more than the limit pass).
  Result<std::optional<std::chrono::milliseconds>> check_rate(std::span<const RateBudget> budgets,
                                                              Time now, bool record);
  // Records one event at `now` for each budget with a limit, spent or not;
  // each key keeps its `limit` newest events of the window.
  Result<void> record_rate(std::span<const RateBudget> budgets, Time now);
  // Forgets every event of `key`; its newest one (`newest_only`).
  Result<void> clear_rate(std::string_view key, bool newest_only = false);
  // Keys that start with `prefix` and have an event after `since`.
  Result<int64_t> count_rate_keys(std::string_view prefix, Time since);
  // Deletes the events of keys starting with `prefix` at or before
  // `before` (housekeeping); how many.
  Result<int> purge_rate_events(std::string_view prefix, Time before);
  //
  // Concurrent quotas: places of `kind` ("console", "upload") held by a
  // user, each by the replica (`replica_id`) serving it. A place counts
  // while its replica is the caller's or has a live lease in `replicas`
  // (0014): the places of a replica that died stop counting once its lease
  // expires, and the user's next acquire deletes them.
  // A place for the user unless `limit` (> 0; 0 = unlimited, still
  // counted) are held already: its id, nullopt when full. Counted and
  // inserted in one write transaction. E_INVALID (unknown kind, empty
  // replica id), E_NOT_FOUND (no such user).
  Result<std::optional<int64_t>> acquire_user_slot(int64_t user_id, std::string_view kind,
                                                   std::string_view replica_id, int64_t limit);
  // Gives a place back. Repeatable.
  Result<void> release_user_slot(int64_t slot_id);
  // The user's places of `kind` that count, seen from `replica_id`.
  Result<int64_t> count_user_slots(int64_t user_id, std::string_view kind,
                                   std::string_view replica_id);

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

  // ---- replicas (replicas.cpp; docs/operations.md "Replicas") ----
  // Times: writes use the store's clock; reads take `now` from the caller.
  // System: registers `r` live until now + r.ttl, in one transaction with
  // the checks, after removing the replicas that expired. The first start
  // records the installation (driver, host). Refused with E_CONFLICT (the
  // message names the other replica or the recorded installation and what
  // to do), changing nothing:
  //  - r.driver differs from the recorded driver, unless the database has
  //    no live server and no other live replica (then it is re-recorded);
  //  - r.single_host and the recorded host differs from r.host, unless
  //    r.adopt_host and no other replica is live (then r.host is recorded);
  //  - r.single_host and another replica is live.
  // E_INVALID (empty id, driver or host, ttl not positive), E_CONFLICT
  // also when r.id is registered already.
  Result<Replica> register_replica(const NewReplica& r);
  // System: the replica stays live until now + ttl. E_NOT_FOUND when its
  // row is gone or already expired (the others consider it dead: register
  // again). Repeatable.
  Result<Replica> heartbeat_replica(std::string_view id, std::chrono::milliseconds ttl);
  // The replicas live at `now` (expires_at > now), by id.
  Result<std::vector<Replica>> list_live_replicas(Time now);
  // System: removes the replica (a clean stop). Repeatable.
  Result<void> deregister_replica(std::string_view id);
  // System: removes the replicas expired at `now`; how many.
  Result<int> purge_expired_replicas(Time now);
  // The installation's record; E_NOT_FOUND before the first registration.
  Result<Deployment> get_deployment();
  // System (the replica sampling those servers): appends `rows` (a row
  // already there is kept) and deletes every row with t_ms < keep_from_ms.
  Result<void> append_server_samples(std::span<const SampleRow> rows, int64_t keep_from_ms);
  // The server's published samples with t_ms > after_ms, oldest first.
  Result<std::vector<SampleRow>> list_server_samples(int64_t server_id, int64_t after_ms);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<Store>> open_sqlite(const std::string& path, Options options);
  // pg_store.cpp; only in a build with libpq.
  static Result<std::unique_ptr<Store>> open_postgres(const std::string& url, Options options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlh::api::store
