// Restoring a workload's files root from an archive stream (PUT
// /backups/restore, docs/backups.md).
//
// start() creates a staging directory beside the root, on the same file
// system: "<parent>/.<name>.restore-<random>", owned by `owner` (the
// workload user) with the root's permission bits, and starts a thread that
// extracts what write() feeds into a local socket, with the agent's extraction
// rules (runtimes/extract.hpp: no absolute paths, no "..", no links leaving
// the tree, no devices, FIFOs or sockets; tar.zst, tar.gz and the other
// formats libarchive reads built in, recognised by their magic). The
// extraction runs with the workload user's file-system rights
// (files/as_user.hpp), so every restored file belongs to that user.
//
// finish() waits for the extraction, then checks `may_swap` (the workload
// must still be stopped), exchanges staging and root atomically
// (renameat2 RENAME_EXCHANGE) and removes the old tree. Until the
// exchange nothing of the root is touched: any failure before it, and a
// RestoreJob destroyed without finish() (the client went away), removes
// the staging directory and leaves the old files as they were.
//
// A staging dir of an earlier restore found by start() (the agent died in
// the middle) is removed first.
//
// Errors: E_BAD_ARCHIVE (hostile, corrupt or truncated archive), E_IO,
// E_CONFLICT from may_swap, E_NOT_FOUND when the root does not exist.
//
// Memory: constant (socket buffers and libarchive's). Thread-safety: one
// RestoreJob is driven by one thread at a time (write/finish); the
// extraction runs on its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "agent/files/atomic_file.hpp"
#include "agent/runtimes/extract.hpp"
#include "base/error.hpp"
#include "base/safe_path.hpp"

namespace zlh::agent::backups {

struct RestoreResult {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

class RestoreJob {
 public:
  static Result<std::unique_ptr<RestoreJob>> start(const std::string& root_dir,
                                                   std::optional<files::Owner> owner,
                                                   runtimes::ExtractOptions opts = {});
  // Feeds the next piece of the archive. Once the extraction failed, its
  // error (the rest of the body is useless).
  Result<void> write(std::string_view chunk);
  // The body is complete: see the header.
  Result<RestoreResult> finish(const std::function<Result<void>()>& may_swap);
  ~RestoreJob();
  RestoreJob(const RestoreJob&) = delete;
  RestoreJob& operator=(const RestoreJob&) = delete;

  const std::string& staging_dir() const { return staging_path_; }

 private:
  RestoreJob() = default;
  void extract_thread(int read_fd);
  Result<void> wait_extraction();
  void discard_staging();
  void discard_leftovers();

  std::string root_dir_, parent_, name_, staging_name_, staging_path_;
  std::optional<files::Owner> owner_;
  runtimes::ExtractOptions opts_;
  runtimes::ExtractStats stats_;
  safe_path::UniqueFd parent_fd_;
  safe_path::UniqueFd write_fd_;
  std::thread thread_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> extract_done_{false};
  Result<void> extract_result_;
  bool swapped_ = false;
};

}  // namespace zlh::agent::backups
