// THE table of who may call which server route (issue 24's precisions).
// Adding a server route means adding its line here: make_api_router refuses
// a route without one, and the permission matrix test walks this table.
#include "api/authz/authz.hpp"

namespace zlh::api::authz {
namespace {

using enum Need;
constexpr Permission kNone = Permission::kConsole;  // unused by kMember/kOwner

constexpr Rule kRules[] = {
    // Any member reads the server, its stats and its activity.
    {"GET", "/api/servers/{id}", kMember, kNone},
    {"GET", "/api/servers/{id}/stats", kMember, kNone},
    {"GET", "/api/servers/{id}/stats/stream", kMember, kNone},
    {"GET", "/api/servers/{id}/activity", kMember, kNone},
    // Only the owner deletes, transfers or manages members (a member may leave).
    {"DELETE", "/api/servers/{id}", kOwner, kNone},
    {"GET", "/api/servers/{id}/members", kOwner, kNone},
    {"POST", "/api/servers/{id}/members", kOwner, kNone},
    {"PATCH", "/api/servers/{id}/members/{user_id}", kOwner, kNone},
    {"DELETE", "/api/servers/{id}/members/{user_id}", kOwnerOrSelf, kNone},  // or leaving
    {"GET", "/api/servers/{id}/transfer", kOwner, kNone},
    {"POST", "/api/servers/{id}/transfer", kOwner, kNone},
    {"DELETE", "/api/servers/{id}/transfer", kOwner, kNone},
    // console
    {"GET", "/api/servers/{id}/console", kPermission, Permission::kConsole},
    {"POST", "/api/servers/{id}/command", kPermission, Permission::kConsole},
    // files.read / files.write
    {"GET", "/api/servers/{id}/files/{rest...}", kPermission, Permission::kFilesRead},
    {"PUT", "/api/servers/{id}/files/{rest...}", kPermission, Permission::kFilesWrite},
    {"POST", "/api/servers/{id}/files/{rest...}", kPermission, Permission::kFilesWrite},
    {"POST", "/api/servers/{id}/files/mkdir", kPermission, Permission::kFilesWrite},
    {"POST", "/api/servers/{id}/files/rename", kPermission, Permission::kFilesWrite},
    {"POST", "/api/servers/{id}/files/delete", kPermission, Permission::kFilesWrite},
    {"GET", "/api/servers/{id}/mods", kPermission, Permission::kFilesRead},
    {"POST", "/api/servers/{id}/mods/{rest...}", kPermission, Permission::kFilesWrite},
    {"DELETE", "/api/servers/{id}/mods/{rest...}", kPermission, Permission::kFilesWrite},
    // power: the workload and the container
    {"POST", "/api/servers/{id}/start", kPermission, Permission::kPower},
    {"POST", "/api/servers/{id}/stop", kPermission, Permission::kPower},
    {"POST", "/api/servers/{id}/restart", kPermission, Permission::kPower},
    {"POST", "/api/servers/{id}/kill", kPermission, Permission::kPower},
    {"POST", "/api/servers/{id}/host/start", kPermission, Permission::kPower},
    {"POST", "/api/servers/{id}/host/stop", kPermission, Permission::kPower},
    {"POST", "/api/servers/{id}/host/restart", kPermission, Permission::kPower},
    // backups
    {"GET", "/api/servers/{id}/backups", kPermission, Permission::kBackups},
    {"POST", "/api/servers/{id}/backups", kPermission, Permission::kBackups},
    {"POST", "/api/servers/{id}/backups/{b}/restore", kPermission, Permission::kBackups},
    {"DELETE", "/api/servers/{id}/backups/{b}", kPermission, Permission::kBackups},
    {"GET", "/api/servers/{id}/backups/{b}/download", kPermission, Permission::kBackups},
    // schedules
    {"GET", "/api/servers/{id}/schedules", kPermission, Permission::kSchedules},
    {"POST", "/api/servers/{id}/schedules", kPermission, Permission::kSchedules},
    {"PATCH", "/api/servers/{id}/schedules/{s}", kPermission, Permission::kSchedules},
    {"DELETE", "/api/servers/{id}/schedules/{s}", kPermission, Permission::kSchedules},
    {"POST", "/api/servers/{id}/schedules/{s}/run", kPermission, Permission::kSchedules},
    // ide: each of these is a shell in the container
    {"POST", "/api/servers/{id}/ide-ticket", kPermission, Permission::kIde},
    {"GET", "/api/servers/{id}/ports", kPermission, Permission::kIde},
    {"POST", "/api/servers/{id}/tailscale", kPermission, Permission::kIde},
    {"DELETE", "/api/servers/{id}/tailscale", kPermission, Permission::kIde},
    {"*", "/dev/{vmid}/ide/{rest...}", kPermission, Permission::kIde},
    {"*", "/dev/{vmid}/port/{n}/{rest...}", kPermission, Permission::kIde},
};

}  // namespace

std::span<const Rule> rules() { return kRules; }

}  // namespace zlh::api::authz
