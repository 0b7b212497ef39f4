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
}  // namespace

void add_mod_routes(http::Router& r, ModManager& mods, TaskRunner& tasks,
                    uint64_t max_upload_bytes) {
  ModManager* m = &mods;
  TaskRunner* t = &tasks;
  // docs/design.md §9: the body is the array; whether the running server has yet
  // to load a change rides along in a header.
  r.add_sync("GET", "/mods", [m](Request&) {
    auto l = m->list();
    if (!l) return Response::error(l.error());
    Response res = Response::json(200, (*l)["mods"]);
    res.headers.set("X-ZLH-Mods-Dir", (*l)["mods_dir"].get<std::string>());
    res.headers.set("X-ZLH-Restart-Required",
                    (*l)["restart_required"].get<bool>() ? "true" : "false");
    return res;
  });

  http::RouteOptions install;
  install.body_limit = size_t(1) << 40;
  install.deadline = std::chrono::minutes(30);
  r.add_streaming(
      "POST", "/mods/install",
      [m, t, max_upload_bytes](Request& req) -> Result<std::unique_ptr<http::BodySink>> {
        // Vanilla / no game: refused before the body is read.
        auto target = m->upload_target();
        if (!target) return fail(target.error());
        auto ct = req.headers.get("Content-Type").value_or("");
        if (ct.starts_with("multipart/")) {
          files::UploadOptions o;
          o.dir = target->dir;
          o.max_file_bytes = max_upload_bytes;
          o.accept_name = [](const std::string& name) -> Result<void> {
            if (name.size() <= 4 || !name.ends_with(".jar"))
              return fail(Error::invalid("file", "mods are .jar files"));
            return {};
          };
          o.respond = [m](const nlohmann::json& files) {
            if (files.empty())
              return Response::error(Error::invalid("file", "no .jar file in the upload"));
            nlohmann::json installed = nlohmann::json::array();
            for (const auto& f : files) {
              std::string name = f["name"];
              installed.push_back({{"id", name.substr(0, name.size() - 4)},
                                   {"file", f["path"]},
                                   {"size", f["size"]},
                                   {"enabled", true}});
            }
            return Response::json(
                200, {{"installed", installed}, {"restart_required", m->note_change()}});
          };
          return files::make_upload_sink(std::move(target->store), req, std::move(o));
        }
        return http::buffered_sink(64 * 1024, [m, t](Request& req, http::Responder res) {
          auto f = string_fields(req.body, {"artifact", "sha256"});
          if (!f) return res.send_error(f.error());
          run_or_refuse(*t, res,
                        [m, res, a = (*f)[0], s = (*f)[1]](const std::atomic<bool>& cancel) {
                          res.send(answer(m->install_artifact(a, s, &cancel)));
                        });
        });
      },
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
