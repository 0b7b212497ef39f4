// The agent's /files routes (docs/design.md §8). Handlers only parse and
// serialize; the work is in FileStore, AtomicFile, the upload sink and
// TarStream.
//
// Paths come from the `path` query parameter (percent-decoded; a malformed
// escape or an encoded NUL is E_BADPATH) or from JSON fields, and go through
// the one resolver. GET /files/read supports a single HTTP Range
// (206/416); GET /files/download sends a file as an attachment or a
// directory as a streamed .tar.gz. Writes and uploads are streamed to disk.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "agent/files/file_store.hpp"
#include "http/http.hpp"

namespace zlh::agent::files {

struct FilesConfig {
  // Opens the current workload root (E_CONFLICT before there is one).
  std::function<Result<FileStore>()> open_store;
  // Archive name of the root in directory downloads ("workspace", "server").
  std::function<std::string()> root_label;
  uint64_t max_upload_bytes = uint64_t(1) << 30;
};

// `cfg` must outlive the router.
void add_file_routes(http::Router& r, const FilesConfig& cfg);

// The decoded `name` query parameter; a bad escape or NUL is E_BADPATH.
// Missing → "" (the root) when optional, else E_INVALID.
Result<std::string> path_param(const http::Request& req, std::string_view name, bool optional);

}  // namespace zlh::agent::files
