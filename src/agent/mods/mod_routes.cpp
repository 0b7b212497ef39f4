#include "agent/mods/mod_routes.hpp"

#include "agent/files/upload.hpp"
#include "agent/json_body.hpp"
#include "agent/task_reply.hpp"

namespace zlh::agent::mods {

using http::Request;
using http::Response;

namespace {
Response answer(const Result<nlohmann::json>& r) {
  if (!r) return Response::error(r.error());
  return Response::json(200, *r);
}
// GET /mods (docs/design.md §9): the body is the array; whether the running
// server has yet to load a change rides along in a header.
Response get_mods(ModManager& m) {
  auto l = m.list();
  if (!l) return Response::error(l.error());
  Response res = Response::json(200, (*l)["mods"]);
  res.headers.set("X-ZLH-Mods-Dir", (*l)["mods_dir"].get<std::string>());
  res.headers.set("X-ZLH-Restart-Required",
                  (*l)["restart_required"].get<bool>() ? "true" : "false");
  return res;
}

// A multipart /mods/install: .jar files straight into the mods dir.
files::UploadOptions jar_upload(ModManager* m, std::string dir, uint64_t max_upload_bytes) {
  files::UploadOptions o;
  o.dir = std::move(dir);
  o.max_file_bytes = max_upload_bytes;
  o.accept_name = [](const std::string& name) -> Result<void> {
    if (name.size() <= 4 || !name.ends_with(".jar"))
      return fail(Error::invalid("file", "mods are .jar files"));
    return {};
  };
  o.respond = [m](const nlohmann::json& files) {
    if (files.empty()) return Response::error(Error::invalid("file", "no .jar file in the upload"));
    nlohmann::json installed = nlohmann::json::array();
    for (const auto& f : files) {
      std::string name = f["name"];
      installed.push_back({{"id", name.substr(0, name.size() - 4)},
                           {"file", f["path"]},
                           {"size", f["size"]},
                           {"enabled", true}});
    }
    return Response::json(200, {{"installed", installed}, {"restart_required", m->note_change()}});
  };
  return o;
}

// A JSON /mods/install {artifact, sha256}: fetched from the artifact server
// on a task thread.
void install_artifact(ModManager* m, TaskRunner* t, Request& req, http::Responder res) {
  auto f = string_fields(req.body, {"artifact", "sha256"});
  if (!f) return res.send_error(f.error());
  run_or_refuse(*t, res, [m, res, a = (*f)[0], s = (*f)[1]](const std::atomic<bool>& cancel) {
    res.send(answer(m->install_artifact(a, s, &cancel)));
  });
}

// POST /mods/install: a multipart upload or an artifact to fetch.
Result<std::unique_ptr<http::BodySink>> open_install(ModManager* m, TaskRunner* t,
                                                     uint64_t max_upload_bytes, Request& req) {
  // Vanilla / no game: refused before the body is read.
  auto target = m->upload_target();
  if (!target) return fail(target.error());
  auto ct = req.headers.get("Content-Type").value_or("");
  if (ct.starts_with("multipart/"))
    return files::make_upload_sink(std::move(target->store), req,
                                   jar_upload(m, target->dir, max_upload_bytes));
  return http::buffered_sink(
      64 * 1024, [m, t](Request& req, http::Responder res) { install_artifact(m, t, req, res); });
}
}  // namespace

void add_mod_routes(http::Router& r, ModManager& mods, TaskRunner& tasks,
                    uint64_t max_upload_bytes) {
  ModManager* m = &mods;
  TaskRunner* t = &tasks;
  r.add_sync("GET", "/mods", [m](Request&) { return get_mods(*m); });

  http::RouteOptions install;
  install.body_limit = size_t(1) << 40;
  install.deadline = std::chrono::minutes(30);
  r.add_streaming(
      "POST", "/mods/install",
      [m, t, max_upload_bytes](Request& req) { return open_install(m, t, max_upload_bytes, req); },
      install);

  http::RouteOptions small;
  small.body_limit = 4096;
  for (bool enable : {true, false}) {
    r.add_sync(
        "POST", std::string("/mods/{id}/") + (enable ? "enable" : "disable"),
        [m, enable](Request& req) { return answer(m->set_enabled(req.params["id"], enable)); },
        small);
  }
  r.add_sync(
      "DELETE", "/mods/{id}", [m](Request& req) { return answer(m->remove(req.params["id"])); },
      small);
}

}  // namespace zlh::agent::mods
