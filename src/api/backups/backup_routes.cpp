#include "api/backups/backup_routes.hpp"

#include <cctype>

#include "api/audit.hpp"
#include "api/authz/authz.hpp"
#include "api/body.hpp"
#include "api/request_ids.hpp"
#include "api/servers/server_view.hpp"
#include "api/with_deps.hpp"

namespace zlh::api::backups {

using http::Request;
using http::Response;

namespace {

int64_t ms(store::Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The server named by the path if the caller may use this route (authz).
Result<store::Server> own_server(const BackupDeps& d, const Request& req) {
  auto a = authz::authorize(d.store, req);  // owner, or a member with the permission
  if (!a) return fail(a.error());
  return std::move(a->server);
}

Response list_backups(const BackupDeps& d, Request& req) {
  auto s = own_server(d, req);
  if (!s) return Response::error(s.error());
  auto list = d.store.list_backups(s->id);
  if (!list) return Response::error(list.error());
  auto used = d.store.backup_bytes_used(s->owner_id);
  auto limit = d.service.quota_for(s->owner_id);
  if (!used || !limit) return Response::error(!used ? used.error() : limit.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : *list) out.push_back(backup_json(b));
  return Response::json(200, {{"backups", out},
                              {"quota", {{"used_bytes", *used}, {"limit_bytes", *limit}}},
                              {"keep", d.service.keep()}});
}

Response create_backup(const BackupDeps& d, Request& req) {
  auto s = own_server(d, req);
  if (!s) return Response::error(s.error());
  auto body = body::object(req.body.empty() ? "{}" : req.body, {"name"});
  if (!body) return Response::error(body.error());
  auto name = body::string_field(*body, "name", false);
  if (!name) return Response::error(name.error());
  auto started = d.service.create(*s, *name, BackupKind::kManual);
  if (!started) return Response::error(started.error());
  audit(d.store, req, user_id(req), "backup.create", "server:" + std::to_string(s->id),
        {{"backup_id", started->backup.id}, {"job", started->job.id}});
  d.jobs.submit(started->job.id);
  return Response::json(
      202, {{"backup", backup_json(started->backup)}, {"job", job_json(started->job)}});
}

Response restore_backup(const BackupDeps& d, Request& req) {
  auto s = own_server(d, req);
  if (!s) return Response::error(s.error());
  auto b = path_id(req, "b");
  if (!b) return Response::error(b.error());
  auto started = d.service.restore(*s, *b);
  if (!started) return Response::error(started.error());
  audit(d.store, req, user_id(req), "backup.restore", "server:" + std::to_string(s->id),
        {{"backup_id", *b}, {"pre_restore_id", started->pre_restore.id}, {"job", started->job.id}});
  d.jobs.submit(started->job.id);
  return Response::json(202, {{"job", job_json(started->job)}});
}

Response delete_backup(const BackupDeps& d, Request& req) {
  auto s = own_server(d, req);
  if (!s) return Response::error(s.error());
  auto b = path_id(req, "b");
  if (!b) return Response::error(b.error());
  if (auto r = d.service.remove(*s, *b); !r) return Response::error(r.error());
  audit(d.store, req, user_id(req), "backup.delete", "server:" + std::to_string(s->id),
        {{"backup_id", *b}});
  Response res;
  res.status = 204;
  return res;
}

// "mc-survival-12.tar.zst": the server's name and the backup id, with only
// [A-Za-z0-9._-] kept, so the header needs no quoting rules.
std::string file_name(const store::Server& s, const store::Backup& b) {
  std::string base;
  for (char ch : s.name)
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')
      base += ch;
  if (base.empty()) base = "server-" + std::to_string(s.id);
  return base.substr(0, 64) + "-" + std::to_string(b.id) + ".tar.zst";
}

Response download_backup(const BackupDeps& d, Request& req) {
  auto s = own_server(d, req);
  if (!s) return Response::error(s.error());
  auto b = path_id(req, "b");
  if (!b) return Response::error(b.error());
  store::Backup backup;
  auto a = d.service.open(*s, *b, backup);
  if (!a) return Response::error(a.error());
  Response res;
  res.headers.set("Content-Type", "application/zstd");
  res.headers.set("Content-Disposition", "attachment; filename=\"" + file_name(*s, backup) + "\"");
  if (!backup.sha256.empty()) res.headers.set("X-Zlh-Sha256", backup.sha256);
  res.source = std::move(a->source);
  res.source_length = a->size;
  return res;
}

}  // namespace

nlohmann::json backup_json(const store::Backup& b) {
  return {
      {"id", b.id},
      {"name", b.name},
      {"kind", to_string(b.kind)},
      {"state", to_string(b.state)},
      {"size", b.size},
      {"sha256", b.sha256},
      {"format", b.format},
      {"created_at", ms(b.created_at)},
      {"finished_at", b.finished_at ? nlohmann::json(ms(*b.finished_at)) : nlohmann::json(nullptr)},
      {"error", b.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.error)}};
}

void add_backup_routes(http::Router& r, const BackupDeps& deps) {
  const WithDeps with(deps);
  http::RouteOptions opts;
  opts.blocking = true;  // the store, the audit log and the archive's reads
  r.add_sync("GET", "/api/servers/{id}/backups", with(list_backups), opts);
  http::RouteOptions create = opts;
  create.body_limit = 4096;
  create.json_body = true;
  r.add_sync("POST", "/api/servers/{id}/backups", with(create_backup), create);
  http::RouteOptions small = opts;
  small.body_limit = 4096;
  r.add_sync("POST", "/api/servers/{id}/backups/{b}/restore", with(restore_backup), small);
  r.add_sync("DELETE", "/api/servers/{id}/backups/{b}", with(delete_backup), opts);
  r.add_sync("GET", "/api/servers/{id}/backups/{b}/download", with(download_backup), opts);
}

}  // namespace zlh::api::backups
