// A server's backups over HTTP (docs/backups-api.md, docs/design.md §10.3):
//   GET    /api/servers/{id}/backups                 list, quota, keep
//   POST   /api/servers/{id}/backups {name?}         202 {backup, job}
//   GET    /api/servers/{id}/backups/{b}/download    the archive, streamed from the store
//   POST   /api/servers/{id}/backups/{b}/restore     202 {job}
//   DELETE /api/servers/{id}/backups/{b}             204
// Every route starts with the owner check of the other server routes
// (get_server_for_owner): not yours = 404, exactly like missing.
#pragma once

#include "api/backups/backup_service.hpp"
#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api::backups {

struct BackupDeps {
  store::Store& store;
  BackupService& service;
  JobRunner& jobs;
};

void add_backup_routes(http::Router& r, const BackupDeps& deps);

// A backup as the routes show it: {id, name, kind, state, size, sha256,
// format, created_at, finished_at (unix ms or null), error (null when none)}.
nlohmann::json backup_json(const store::Backup& b);

}  // namespace zlh::api::backups
