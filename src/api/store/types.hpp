// Records the store hands in and out (docs/design.md §10.7). Plain values: a
// record read from the store is a copy, owned by the caller, and goes stale
// the moment another thread writes; re-read rather than cache.
//
// Times are std::chrono::system_clock time points, kept with millisecond
// precision (the store truncates to whole milliseconds). JSON fields
// (payload, audit detail) travel as JSON text; the store checks that they
// are a JSON object and never interprets them.
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "proto/container_type.hpp"

namespace zlh::api::store {

using Clock = std::chrono::system_clock;
using Time = Clock::time_point;

// ---- users and sessions -------------------------------------------------

struct NewUser {
  std::string email;     // unique, compared case-insensitively (ASCII)
  std::string username;  // unique, compared case-insensitively (ASCII)
  std::string password_hash;
  bool is_admin = false;
};

struct User {
  int64_t id = 0;
  std::string email;
  std::string username;
  std::string password_hash;
  bool is_admin = false;
  Time created_at;
};

struct Session {
  std::string id;  // random, 43 characters of base64url (256 bits)
  int64_t user_id = 0;
  Time created_at;
  Time expires_at;
  std::optional<Time> revoked_at;
};

// What an IDE ticket or zlh_ide cookie grants: the IDE origin of `vmid` for
// `user_id`, as long as the session `session_id` is valid.
struct IdeGrant {
  std::string session_id;
  int64_t user_id = 0;
  int vmid = 0;
};

// ---- servers --------------------------------------------------------------

// A server is a dev or game container; "dev"/"game" in the database.
using ServerType = ContainerType;

// The control plane's view of a server; the agent's own state is
// Server::agent_state. provisioning → ready | error; ready|error → deleting →
// deleted. `deleted` is set only by Store::delete_server.
enum class ServerState { kProvisioning, kReady, kError, kDeleting, kDeleted };

struct NewServer {
  int64_t owner_id = 0;  // always the session's user, never from a request body
  ServerType type = ServerType::kDev;
  std::string name;
  // hostname = prefix + vmid ("dev-" → "dev-6000", "mc-paper-" →
  // "mc-paper-5000"); the vmid is only known inside the create transaction.
  // Empty: the server gets no hostname.
  std::string hostname_prefix;
  std::string payload = "{}";  // JSON object text
  int port_count = 0;          // ports to take from the pool, 0..kMaxPortsPerServer
  // Checked against the owner's live servers inside the create transaction
  // (concurrent creates cannot both pass): 0 = unlimited.
  int64_t quota_servers = 0, quota_memory_mb = 0, quota_disk_gb = 0;
  int64_t memory_mb = 0, disk_gb = 0;  // what this server asks for (also in payload)
};

// The operator's quotas (--quota-*), for users without an override; 0 = unlimited.
struct QuotaDefaults {
  int64_t servers = 0, memory_mb = 0, disk_gb = 0, consoles = 0, uploads = 0;
  int64_t backup_bytes = 0;  // bytes of backups (--backup-quota)
};

// A user's quotas: each field unset = the operator's default, 0 = unlimited.
struct QuotaOverrides {
  std::optional<int64_t> servers, memory_mb, disk_gb, consoles, uploads;
  std::optional<int64_t> backup_bytes;
};
inline constexpr int kMaxPortsPerServer = 64;

struct Server {
  int64_t id = 0;
  int64_t owner_id = 0;
  ServerType type = ServerType::kDev;
  std::string name;
  std::optional<int> vmid;  // absent once the allocations are released
  std::vector<int> ports;   // ascending; empty once released
  std::string hostname;
  std::string ip;
  std::string node;
  std::string payload;  // JSON object text
  ServerState state = ServerState::kProvisioning;
  std::string agent_state;  // the agent's /status state (§3.4), "" until first seen
  std::optional<Time> agent_last_seen;
  int crash_count = 0;
  std::string install_step;
  double progress = 0;  // 0..1
  std::string error;
  // The agent's last_exit as JSON object text ({code}|{signal}, maybe with
  // "reason": "out of memory"); "" when the workload never ended.
  std::string last_exit;
  Time created_at;
  Time updated_at;
  std::optional<Time> deleted_at;
};

// Fields to change; absent fields keep their value. updated_at is always set.
// Meant for designated initializers: update_server(id, {.ip = ..., .node = ...}).
struct ServerUpdate {
  std::optional<ServerState> state{};  // kDeleted refused: use Store::delete_server
  std::optional<std::string> hostname{};
  std::optional<std::string> ip{};
  std::optional<std::string> node{};
  std::optional<std::string> payload{};  // JSON object text
  std::optional<std::string> agent_state{};
  std::optional<Time> agent_last_seen{};
  std::optional<int> crash_count{};
  std::optional<std::string> install_step{};
  std::optional<double> progress{};  // 0..1
  std::optional<std::string> error{};
  std::optional<std::string> last_exit{};  // JSON object text or "" (none)
};

// ---- jobs -----------------------------------------------------------------

// backup and restore: src/api/backups (their params name the backups).
enum class JobKind { kCreate, kDelete, kBackup, kRestore };

// queued → running → done
//                  → failed → compensating → compensated
//                  → compensating (straight from running)
// compensating → failed (compensation gave up; may be retried later).
// queued may also go to failed or compensating (cancelled before it ran).
// done and compensated are final. Setting the current state again is allowed
// (a resumed runner repeats its last write). Only queued, running and
// compensating are resumed after a restart (is_unfinished), so a failing
// create job goes from running straight to compensating: a crash cannot
// then strand it in failed with its vmid held.
// queued or running → cancelled: a create job superseded by the server's
// delete (Store::create_delete_job); final, and the delete job cleans up.
enum class JobState { kQueued, kRunning, kDone, kFailed, kCompensating, kCompensated, kCancelled };

// Not a state machine: a resumed job may run a step again (steps are
// idempotent, §10.3), so any state may follow any other.
enum class StepState { kPending, kRunning, kDone, kFailed };

struct JobStep {
  int idx = 0;  // 0-based position in the job
  std::string name;
  StepState state = StepState::kPending;
  std::string detail;
  std::optional<Time> started_at;   // first time it became running
  std::optional<Time> finished_at;  // last time it became done or failed
};

struct Job {
  int64_t id = 0;
  int64_t server_id = 0;
  JobKind kind = JobKind::kCreate;
  JobState state = JobState::kQueued;
  std::string error;
  Time created_at;
  Time updated_at;
  std::vector<JobStep> steps;  // by idx
  std::string params = "{}";   // JSON object text: what the job works on (backups)
};

// A job is unfinished while a runner still owes it work: queued, running,
// compensating. These are what Store::list_unfinished_jobs returns.
bool is_unfinished(JobState s);
// Whether update_job_state accepts from → to (see JobState).
bool job_transition_allowed(JobState from, JobState to);

// ---- backups ----------------------------------------------------------------

enum class BackupKind { kManual, kScheduled, kPreRestore };
// creating → ready | failed; ready → restoring → ready (a restore reads it).
enum class BackupState { kCreating, kReady, kFailed, kRestoring };

struct Backup {
  int64_t id = 0;
  int64_t server_id = 0;
  int64_t owner_id = 0;  // the server's owner when it was made: whose quota it uses
  std::string name;
  BackupKind kind = BackupKind::kManual;
  BackupState state = BackupState::kCreating;
  int64_t size = 0;    // bytes of the archive, once ready
  std::string sha256;  // hex, once ready
  std::string format = "tar.zst";
  std::string error;
  Time created_at;
  std::optional<Time> finished_at;
};

struct NewBackup {
  int64_t server_id = 0;
  int64_t owner_id = 0;
  std::string name;
  BackupKind kind = BackupKind::kManual;
};

struct BackupUpdate {
  std::optional<BackupState> state{};
  std::optional<int64_t> size{};
  std::optional<std::string> sha256{};
  std::optional<std::string> error{};
  std::optional<Time> finished_at{};
};

// ---- audit ----------------------------------------------------------------

struct NewAuditEntry {
  std::optional<int64_t> user_id;  // absent for anonymous actions (failed login)
  std::string action;              // "server.create", "auth.login", ...
  std::string target;              // "server:12", "user:3", ...
  std::string detail = "{}";       // JSON object text; never secrets
  std::string remote_addr;
  // The server the entry is about (its activity log, docs/activity.md).
  // Absent: taken from a target "server:<n>" or "server:<n>/...", else none.
  std::optional<int64_t> server_id{};
};

struct AuditEntry {
  int64_t id = 0;
  Time at;
  std::optional<int64_t> user_id;
  std::string action;
  std::string target;
  std::string detail;
  std::string remote_addr;
  std::optional<int64_t> server_id;
};

// One entry of a server's activity log: an audit entry with the actor's
// current user name ("" when the actor is gone or there was none).
struct ActivityEntry {
  int64_t id = 0;
  Time at;
  std::optional<int64_t> user_id;
  std::string username;
  std::string action;
  std::string detail;  // JSON object text
  std::string remote_addr;
};

// ---- sharing (docs/sharing.md) ------------------------------------------

// What a member of a server may do beyond reading it (the closed set of
// issue 24; wire names "console", "files.read", ...). The owner has all.
// Which route needs which: api/authz/rules.cpp, the one table.
enum class Permission : uint8_t {
  kConsole,
  kFilesRead,
  kFilesWrite,
  kPower,
  kBackups,
  kSchedules,
  kIde,
  kSettings,
};
inline constexpr size_t kPermissionCount = 8;

// A set of permissions, as bits (bit i: Permission(i)).
class PermSet {
 public:
  constexpr PermSet() = default;
  static constexpr PermSet all() { return PermSet((1u << kPermissionCount) - 1); }
  constexpr bool has(Permission p) const { return bits_ & bit(p); }
  constexpr void add(Permission p) { bits_ |= bit(p); }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint16_t bits() const { return bits_; }
  constexpr bool operator==(const PermSet&) const = default;
  // In declaration order.
  std::vector<Permission> list() const;

 private:
  constexpr explicit PermSet(uint16_t b) : bits_(b) {}
  static constexpr uint16_t bit(Permission p) { return uint16_t(1u << static_cast<unsigned>(p)); }
  uint16_t bits_ = 0;
};

// A member of a server: someone else's server, shared with them.
struct Member {
  int64_t server_id = 0;
  int64_t user_id = 0;
  std::string username;
  std::string email;
  PermSet permissions;
  std::optional<int64_t> added_by;
  Time added_at;
  Time updated_at;
};

// A server as one user may use it: theirs (owner, every permission) or
// shared with them (a member, with the member's permissions).
struct ServerAccess {
  Server server;
  bool owner = false;
  PermSet permissions;
  std::string owner_username;
};

// An offer of a server's ownership to another user, until accepted,
// cancelled or expired.
struct Transfer {
  int64_t server_id = 0;
  std::string server_name;
  int64_t from_user_id = 0;
  std::string from_username;
  int64_t to_user_id = 0;
  std::string to_username;
  Time created_at;
  Time expires_at;
};

// ---- names ------------------------------------------------------------------
// The spelling used in the database and in the HTTP API ("dev", "game",
// "provisioning", ...). parse_* return E_INVALID for anything else.

std::string_view to_string(ServerState s);
std::string_view to_string(JobKind k);
std::string_view to_string(JobState s);
std::string_view to_string(StepState s);
std::string_view to_string(BackupKind k);  // manual, scheduled, pre_restore
std::string_view to_string(BackupState s);
Result<BackupKind> parse_backup_kind(std::string_view s);
Result<BackupState> parse_backup_state(std::string_view s);
Result<ServerType> parse_server_type(std::string_view s);
Result<ServerState> parse_server_state(std::string_view s);
Result<JobKind> parse_job_kind(std::string_view s);
Result<JobState> parse_job_state(std::string_view s);
Result<StepState> parse_step_state(std::string_view s);
std::string_view to_string(Permission p);
Result<Permission> parse_permission(std::string_view s);
// Names as a JSON-array text and back (the column server_members.permissions).
std::string permissions_text(PermSet p);
Result<PermSet> parse_permissions_text(std::string_view text);

}  // namespace zlh::api::store
