#include "api/portal/static_routes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "base/safe_path.hpp"
#include "http/file_source.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {

// One file of the built portal; paths that are not files get index.html
// (a single-page app). Unknown /api/ and /artifacts/ paths stay JSON 404s.
Response portal_file(const std::string& dir, Request& req) {
  if (req.path.starts_with("/api/") || req.path.starts_with("/artifacts/"))
    return Response::error(Error::make(codes::kNotFound, "no route for GET " + req.path));
  int root = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return Response::error(Error::make(codes::kNotFound, "portal not built"));
  safe_path::UniqueFd root_fd(root);
  std::string rel = req.params.count("path") ? req.params["path"] : "";
  auto fd = rel.empty() ? Result<int>(fail(codes::kNotFound, "root"))
                        : safe_path::open_beneath(root, rel, O_RDONLY);
  struct stat st {};
  if (fd && (::fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(*fd);
    fd = fail(codes::kNotFound, "not a file");
  }
  if (!fd) {
    if (fd.error().code == codes::kBadPath) return Response::error(fd.error());
    rel = "index.html";
    fd = safe_path::open_beneath(root, rel, O_RDONLY);
    if (fd && ::fstat(*fd, &st) != 0) {
      ::close(*fd);
      fd = fail(codes::kNotFound, "index.html");
    }
    if (!fd) return Response::error(Error::make(codes::kNotFound, "portal not built"));
  }
  static const std::map<std::string, std::string> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/x-icon"},
      {"woff2", "font/woff2"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"}};
  auto dot = rel.rfind('.');
  auto it = dot == std::string::npos ? kTypes.end() : kTypes.find(rel.substr(dot + 1));
  Response res;
  res.headers.set("Content-Type", it == kTypes.end() ? "application/octet-stream" : it->second);
  res.headers.set("Cache-Control", rel == "index.html" ? "no-cache" : "public, max-age=3600");
  res.headers.set("X-Content-Type-Options", "nosniff");
  res.source =
      std::make_shared<http::FileSource>(safe_path::UniqueFd(*fd), 0, uint64_t(st.st_size));
  res.source_length = uint64_t(st.st_size);
  return res;
}

}  // namespace

void add_artifact_routes(http::Router& r, const std::string& dir) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/artifacts/{path...}",
      [dir](Request& req) {
        int root = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
          return Response::error(Error::make(codes::kUnavailable, "artifact store unavailable"));
        safe_path::UniqueFd root_fd(root);
        auto fd = safe_path::open_beneath(root, req.params["path"], O_RDONLY);
        if (!fd) return Response::error(fd.error());
        safe_path::UniqueFd file(*fd);
        struct stat st {};
        if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode))
          return Response::error(Error::make(codes::kNotFound, "not a file"));
        Response res;
        res.headers.set("Content-Type", "application/octet-stream");
        res.source = std::make_shared<http::FileSource>(std::move(file), 0, uint64_t(st.st_size));
        res.source_length = uint64_t(st.st_size);
        return res;
      },
      pub);
}

void add_portal_routes(http::Router& r, const std::string& dir) {
  http::RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/{path...}", [dir](Request& req) { return portal_file(dir, req); }, pub);
}

}  // namespace zlh::api
