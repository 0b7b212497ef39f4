// Where backup archives live (docs/backups-api.md): a small interface so an
// S3-compatible store can follow, and the filesystem store zlh-api uses
// today, <dir>/<server id>/<backup id>.tar.zst.
//
// An archive is written in pieces as it arrives from the agent (never whole
// in memory): into a temporary file beside its final name, hashed (SHA-256)
// while written; commit() makes it durable (fsync) and gives it its name
// (rename, then fsync of the directory), so a reader never sees half an
// archive and a crash leaves at most a temporary file, which the next
// create() of the same backup replaces.
//
// Thread-safety: a BackupStore may be used from any thread; one writer
// belongs to one thread. Errors: E_IO (disk), E_NOT_FOUND (open).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "http/http.hpp"

namespace zlh::api::backups {

struct StoredArchive {
  uint64_t size = 0;
  std::string sha256;  // hex
};

// One archive being written. Destroyed without commit(): what was written
// is removed.
class BackupWriter {
 public:
  virtual ~BackupWriter() = default;
  virtual Result<void> write(std::string_view piece) = 0;
  virtual uint64_t written() const = 0;
  // Durable under its final name once this returns.
  virtual Result<StoredArchive> commit() = 0;
};

struct OpenedArchive {
  std::shared_ptr<http::BodySource> source;  // the whole archive, in order
  uint64_t size = 0;
};

class BackupStore {
 public:
  virtual ~BackupStore() = default;
  // Starts the archive of backup `id` of server `server`; a partial one from
  // an earlier attempt is dropped.
  virtual Result<std::unique_ptr<BackupWriter>> create(int64_t server, int64_t id) = 0;
  virtual Result<OpenedArchive> open(int64_t server, int64_t id) = 0;
  // Repeatable: removing what is not there succeeds.
  virtual Result<void> remove(int64_t server, int64_t id) = 0;
  virtual Result<void> remove_server(int64_t server) = 0;
};

class FsBackupStore : public BackupStore {
 public:
  // `dir` is created (0700) when the first archive is written.
  explicit FsBackupStore(std::string dir) : dir_(std::move(dir)) {}
  Result<std::unique_ptr<BackupWriter>> create(int64_t server, int64_t id) override;
  Result<OpenedArchive> open(int64_t server, int64_t id) override;
  Result<void> remove(int64_t server, int64_t id) override;
  Result<void> remove_server(int64_t server) override;
  // <dir>/<server>/<id>.tar.zst
  std::string path(int64_t server, int64_t id) const;

 private:
  std::string dir_;
};

}  // namespace zlh::api::backups
