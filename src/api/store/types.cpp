#include "api/store/types.hpp"

#include <array>
#include <utility>

namespace zlh::api::store {
namespace {

template <typename E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<ServerState, 5> kServerStates{{{ServerState::kProvisioning, "provisioning"},
                                               {ServerState::kReady, "ready"},
                                               {ServerState::kError, "error"},
                                               {ServerState::kDeleting, "deleting"},
                                               {ServerState::kDeleted, "deleted"}}};
constexpr Names<JobKind, 4> kJobKinds{{{JobKind::kCreate, "create"},
                                       {JobKind::kDelete, "delete"},
                                       {JobKind::kBackup, "backup"},
                                       {JobKind::kRestore, "restore"}}};
constexpr Names<BackupKind, 3> kBackupKinds{{{BackupKind::kManual, "manual"},
                                             {BackupKind::kScheduled, "scheduled"},
                                             {BackupKind::kPreRestore, "pre_restore"}}};
constexpr Names<BackupState, 4> kBackupStates{{{BackupState::kCreating, "creating"},
                                               {BackupState::kReady, "ready"},
                                               {BackupState::kFailed, "failed"},
                                               {BackupState::kRestoring, "restoring"}}};
constexpr Names<JobState, 7> kJobStates{{{JobState::kQueued, "queued"},
                                         {JobState::kRunning, "running"},
                                         {JobState::kDone, "done"},
                                         {JobState::kFailed, "failed"},
                                         {JobState::kCompensating, "compensating"},
                                         {JobState::kCompensated, "compensated"},
                                         {JobState::kCancelled, "cancelled"}}};
constexpr Names<StepState, 4> kStepStates{{{StepState::kPending, "pending"},
                                           {StepState::kRunning, "running"},
                                           {StepState::kDone, "done"},
                                           {StepState::kFailed, "failed"}}};

constexpr Names<Permission, kPermissionCount> kPermissions{
    {{Permission::kConsole, "console"},
     {Permission::kFilesRead, "files.read"},
     {Permission::kFilesWrite, "files.write"},
     {Permission::kPower, "power"},
     {Permission::kBackups, "backups"},
     {Permission::kSchedules, "schedules"},
     {Permission::kIde, "ide"},
     {Permission::kSettings, "settings"}}};

template <typename E, size_t N>
std::string_view name_of(const Names<E, N>& names, E e) {
  for (const auto& [v, n] : names)
    if (v == e) return n;
  return "?";
}

template <typename E, size_t N>
Result<E> parse(const Names<E, N>& names, std::string_view s, std::string_view what) {
  for (const auto& [v, n] : names)
    if (n == s) return v;
  return fail(codes::kInvalid, "unknown " + std::string(what) + " \"" + std::string(s) + "\"");
}

}  // namespace

std::string_view to_string(ServerState s) { return name_of(kServerStates, s); }
std::string_view to_string(JobKind k) { return name_of(kJobKinds, k); }
std::string_view to_string(JobState s) { return name_of(kJobStates, s); }
std::string_view to_string(StepState s) { return name_of(kStepStates, s); }
std::string_view to_string(BackupKind k) { return name_of(kBackupKinds, k); }
std::string_view to_string(BackupState s) { return name_of(kBackupStates, s); }
Result<BackupKind> parse_backup_kind(std::string_view s) {
  return parse(kBackupKinds, s, "backup kind");
}
Result<BackupState> parse_backup_state(std::string_view s) {
  return parse(kBackupStates, s, "backup state");
}

Result<ServerType> parse_server_type(std::string_view s) {
  if (auto t = parse_container_type(s)) return *t;
  return fail(codes::kInvalid, "unknown server type \"" + std::string(s) + "\"");
}
Result<ServerState> parse_server_state(std::string_view s) {
  return parse(kServerStates, s, "server state");
}
Result<JobKind> parse_job_kind(std::string_view s) { return parse(kJobKinds, s, "job kind"); }
Result<JobState> parse_job_state(std::string_view s) { return parse(kJobStates, s, "job state"); }
std::string_view to_string(Permission p) { return name_of(kPermissions, p); }
Result<Permission> parse_permission(std::string_view s) {
  return parse(kPermissions, s, "permission");
}

std::vector<Permission> PermSet::list() const {
  std::vector<Permission> out;
  for (size_t i = 0; i < kPermissionCount; ++i)
    if (has(static_cast<Permission>(i))) out.push_back(static_cast<Permission>(i));
  return out;
}

std::string permissions_text(PermSet p) {
  std::string out = "[";
  for (Permission each : p.list()) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += to_string(each);
    out += '"';
  }
  return out + "]";
}

Result<PermSet> parse_permissions_text(std::string_view text) {
  // Written only by permissions_text: ["name","name"], names without quotes or commas.
  PermSet out;
  if (text.size() < 2 || text.front() != '[' || text.back() != ']')
    return fail(codes::kInvalid, "permissions are not a JSON array");
  std::string_view rest = text.substr(1, text.size() - 2);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    if (item.size() < 2 || item.front() != '"' || item.back() != '"')
      return fail(codes::kInvalid, "permissions hold a non-string");
    auto p = parse_permission(item.substr(1, item.size() - 2));
    if (!p) return fail(p.error());
    out.add(*p);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return out;
}

Result<StepState> parse_step_state(std::string_view s) {
  return parse(kStepStates, s, "step state");
}

bool is_unfinished(JobState s) {
  return s == JobState::kQueued || s == JobState::kRunning || s == JobState::kCompensating;
}

bool job_transition_allowed(JobState from, JobState to) {
  using S = JobState;
  if (from == to) return true;
  switch (from) {
    case S::kQueued:
      return to == S::kRunning || to == S::kFailed || to == S::kCompensating || to == S::kCancelled;
    case S::kRunning:
      return to == S::kDone || to == S::kFailed || to == S::kCompensating || to == S::kCancelled;
    case S::kFailed:
      return to == S::kCompensating;
    case S::kCompensating:
      return to == S::kCompensated || to == S::kFailed;
    case S::kDone:
    case S::kCompensated:
    case S::kCancelled:
      return false;
  }
  return false;
}

}  // namespace zlh::api::store
