// Streamed uploads (docs/design.md §8 POST /files/upload, and the .jar upload of
// POST /mods/install): a multipart/form-data body whose file parts are
// written straight to disk as they arrive (never whole in memory), each one
// through an AtomicFile, so every file appears complete or not at all.
//
// Per file: the part's filename must be a plain name (check_file_name:
// E_BADPATH for '/', '..', NUL...), `accept_name` may refuse more (E_INVALID),
// and more than max_file_bytes is E_TOO_LARGE. Form fields without a
// filename are ignored (at most 64 KiB each). Files completed before a
// failure stay; the file in progress is discarded: a broken connection or
// any error leaves the old file intact and no temp file behind.
//
// Ownership: the sink owns the FileStore it writes into. Thread-safety: the
// HTTP server calls it from one thread at a time (http::BodySink).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/files/atomic_file.hpp"
#include "agent/files/file_store.hpp"
#include "agent/files/multipart.hpp"
#include "http/http.hpp"

namespace zlh::agent::files {

struct UploadOptions {
  std::string dir;  // relative to the store's root; created when missing
  uint64_t max_file_bytes = uint64_t(1) << 30;
  std::function<Result<void>(const std::string& name)> accept_name;  // optional
  // Answers once every file is committed: default {"files":[{name,path,size}]}.
  std::function<http::Response(const nlohmann::json& files)> respond;
};

// The BodySink of one upload request. E_INVALID when the Content-Type is not
// multipart/form-data with a boundary; E_BADPATH for a bad `dir`.
Result<std::unique_ptr<http::BodySink>> make_upload_sink(FileStore store, const http::Request& req,
                                                         UploadOptions opts);

// The BodySink of PUT /files/write: the raw body becomes the file at `rel`
// (atomic; over max_bytes is E_TOO_LARGE and nothing changes).
Result<std::unique_ptr<http::BodySink>> make_write_sink(FileStore store, const std::string& rel,
                                                        uint64_t max_bytes);

}  // namespace zlh::agent::files
