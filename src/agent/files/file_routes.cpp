#include "agent/files/file_routes.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "agent/files/as_user.hpp"
#include "agent/files/range.hpp"
#include "agent/files/tar_stream.hpp"
#include "agent/files/upload.hpp"
#include "agent/json_body.hpp"
#include "http/file_source.hpp"

namespace zlh::agent::files {

using http::Request;
using http::Response;

namespace {

class TarGzSource : public http::BodySource {
 public:
  TarGzSource(std::unique_ptr<TarStream> s, std::optional<Owner> owner)
      : s_(std::move(s)), owner_(owner) {}
  // The tree is walked as the workload user (H2), piece by piece.
  Result<size_t> read(char* buf, size_t cap) override {
    AsUser as(owner_);
    if (auto c = as.check(); !c) return fail(c.error());
    return s_->read(buf, cap);
  }

 private:
  std::unique_ptr<TarStream> s_;
  std::optional<Owner> owner_;
};

// A filename for Content-Disposition: quoted, with anything odd replaced,
// plus the RFC 8187 form for the real name.
std::string disposition(const std::string& name) {
  std::string ascii;
  for (unsigned char c : name)
    ascii += (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : char(c);
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + http::url_encode(name);
}

Result<Response> read_file(const FilesConfig& cfg, const Request& req, bool as_download) {
  auto rel = path_param(req, "path", as_download);
  if (!rel) return fail(rel.error());
  auto store = cfg.open_store();
  if (!store) return fail(store.error());
  auto f = store->open_read(*rel);
  if (!f) return fail(f.error());
  Response res;
  if (f->is_dir) {
    if (!as_download)
      return fail(codes::kInvalid, "is a directory: use /files/list or /files/download");
    std::string top = f->name.empty() ? cfg.root_label() : f->name;
    std::optional<uid_t> link_owner;
    if (store->owner()) link_owner = store->owner()->uid;
    AsUser as(store->owner());
    if (auto c = as.check(); !c) return fail(c.error());
    auto tgz = TarStream::open(store->root_fd(), *rel, top, link_owner);
    if (!tgz) return fail(tgz.error());
    res.source = std::make_shared<TarGzSource>(std::move(*tgz), store->owner());
    res.headers.set("Content-Type", "application/gzip");
    res.headers.set("Content-Disposition", disposition(top + ".tar.gz"));
    return res;
  }
  uint64_t first = 0, length = f->size;
  auto range = parse_range(req.headers.get("Range"), f->size);
  if (range.kind == RangeKind::kUnsatisfiable) {
    Response r = Response::error(Error::make(codes::kInvalid, "range not satisfiable"));
    r.status = 416;
    r.headers.set("Content-Range", unsatisfied_content_range(f->size));
    return r;
  }
  if (range.kind == RangeKind::kPartial) {
    res.status = 206;
    first = range.range.first;
    length = range.range.last - range.range.first + 1;
    res.headers.set("Content-Range", content_range(range.range, f->size));
  }
  res.headers.set("Accept-Ranges", "bytes");
  res.headers.set("Content-Type", "application/octet-stream");
  if (as_download) res.headers.set("Content-Disposition", disposition(f->name));
  res.source = std::make_shared<http::FileSource>(std::move(f->fd), first, length);
  res.source_length = length;
  return res;
}

Response answer(Result<void> r, nlohmann::json ok) {
  if (!r) return Response::error(r.error());
  return Response::json(200, ok);
}

}  // namespace

Result<std::string> path_param(const Request& req, std::string_view name, bool optional) {
  auto q = http::parse_query(req.query);
  if (!q) return fail(codes::kBadPath, "path: " + q.error().message);
  auto it = q->find(std::string(name));
  if (it == q->end()) {
    if (optional) return std::string();
    return fail(Error::invalid(std::string(name),
                               "query parameter \"" + std::string(name) + "\" is required"));
  }
  auto norm = user_path(it->second, optional);
  if (!norm) return fail(norm.error());
  return *norm;
}

namespace {
// GET /files/list?path=: the directory's entries.
Response get_list(const FilesConfig& c, const Request& req) {
  auto rel = path_param(req, "path", true);
  if (!rel) return Response::error(rel.error());
  auto store = c.open_store();
  if (!store) return Response::error(store.error());
  auto l = store->list(*rel);
  if (!l) return Response::error(l.error());
  return Response::json(200, *l);  // docs/design.md §8: the array itself
}

// PUT /files/write?path=: the sink that writes the body to the file.
Result<std::unique_ptr<http::BodySink>> open_write(const FilesConfig& c, const Request& req) {
  auto rel = path_param(req, "path", false);
  if (!rel) return fail(rel.error());
  if (auto len = req.headers.get("Content-Length")) {
    if (std::strtoull(std::string(*len).c_str(), nullptr, 10) > c.max_upload_bytes)
      return fail(codes::kTooLarge, "file over " + std::to_string(c.max_upload_bytes) + " bytes");
  }
  auto store = c.open_store();
  if (!store) return fail(store.error());
  return make_write_sink(std::move(*store), *rel, c.max_upload_bytes);
}

// POST /files/upload?path=: the multipart sink into the directory.
Result<std::unique_ptr<http::BodySink>> open_upload(const FilesConfig& c, Request& req) {
  auto dir = path_param(req, "path", true);
  if (!dir) return fail(dir.error());
  auto store = c.open_store();
  if (!store) return fail(store.error());
  UploadOptions o;
  o.dir = *dir;
  o.max_file_bytes = c.max_upload_bytes;
  return make_upload_sink(std::move(*store), req, std::move(o));
}

// POST /files/mkdir {path}
Response post_mkdir(const FilesConfig& c, const Request& req) {
  auto f = string_fields(req.body, {"path"});
  if (!f) return Response::error(f.error());
  const std::string& path = (*f)[0];
  auto store = c.open_store();
  if (!store) return Response::error(store.error());
  return answer(store->mkdir(path), {{"path", path}, {"created", true}});
}

// POST /files/rename {from, to}
Response post_rename(const FilesConfig& c, const Request& req) {
  auto f = string_fields(req.body, {"from", "to"});
  if (!f) return Response::error(f.error());
  const std::string& from = (*f)[0];
  const std::string& to = (*f)[1];
  auto store = c.open_store();
  if (!store) return Response::error(store.error());
  return answer(store->rename(from, to), {{"from", from}, {"to", to}});
}

// The "paths" field of a delete: an array of at most 1000 strings.
Result<std::vector<std::string>> paths_field(const nlohmann::json& body) {
  auto it = body.find("paths");
  if (it == body.end() || !it->is_array())
    return fail(Error::invalid("paths", "field \"paths\": must be an array of strings"));
  std::vector<std::string> paths;
  for (auto& p : *it) {
    if (!p.is_string())
      return fail(Error::invalid("paths", "field \"paths\": must be an array of strings"));
    paths.push_back(p.get<std::string>());
  }
  if (paths.size() > 1000) return fail(Error::invalid("paths", "field \"paths\": at most 1000"));
  return paths;
}

// POST /files/delete {paths}
Response post_delete(const FilesConfig& c, const Request& req) {
  auto body = object_body(req.body, {"paths"});
  if (!body) return Response::error(body.error());
  auto paths = paths_field(*body);
  if (!paths) return Response::error(paths.error());
  auto store = c.open_store();
  if (!store) return Response::error(store.error());
  return answer(store->remove(*paths), {{"deleted", *paths}});
}
}  // namespace

void add_file_routes(http::Router& r, const FilesConfig& cfg) {
  const FilesConfig* c = &cfg;
  http::RouteOptions small;
  small.body_limit = 64 * 1024;
  r.add_sync("GET", "/files/list", [c](Request& req) { return get_list(*c, req); });

  http::RouteOptions reads;
  reads.deadline = std::chrono::seconds(30);
  for (bool dl : {false, true}) {
    r.add_sync(
        "GET", dl ? "/files/download" : "/files/read",
        [c, dl](Request& req) {
          auto res = read_file(*c, req, dl);
          if (!res) return Response::error(res.error());
          return std::move(*res);
        },
        reads);
  }

  http::RouteOptions streamed;
  // The whole body; the per-file limit is the sink's (413 E_TOO_LARGE).
  streamed.body_limit = size_t(1) << 46;
  streamed.deadline = std::chrono::minutes(2);  // after the body: fsync + rename
  r.add_streaming(
      "PUT", "/files/write", [c](Request& req) { return open_write(*c, req); }, streamed);
  r.add_streaming(
      "POST", "/files/upload", [c](Request& req) { return open_upload(*c, req); }, streamed);

  r.add_sync(
      "POST", "/files/mkdir", [c](Request& req) { return post_mkdir(*c, req); }, small);
  r.add_sync(
      "POST", "/files/rename", [c](Request& req) { return post_rename(*c, req); }, small);
  r.add_sync(
      "POST", "/files/delete", [c](Request& req) { return post_delete(*c, req); }, small);
}

}  // namespace zlh::agent::files
