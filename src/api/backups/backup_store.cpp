#include "api/backups/backup_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/safe_path.hpp"
#include "http/file_source.hpp"

namespace zlh::api::backups {
namespace {

class FsWriter : public BackupWriter {
 public:
  FsWriter(safe_path::UniqueFd fd, std::string tmp, std::string final_path)
      : fd_(std::move(fd)), tmp_(std::move(tmp)), final_(std::move(final_path)) {}
  ~FsWriter() override {
    if (!committed_) ::unlink(tmp_.c_str());
  }
  Result<void> write(std::string_view piece) override {
    if (auto w = fs::write_all(fd_.get(), piece, "backup archive"); !w) return w;
    sha_.update(piece);
    written_ += piece.size();
    return {};
  }
  uint64_t written() const override { return written_; }
  Result<StoredArchive> commit() override {
    if (::fsync(fd_.get()) != 0) return fail(Error::from_errno("fsync backup archive", errno));
    fd_.reset();
    if (::rename(tmp_.c_str(), final_.c_str()) != 0)
      return fail(Error::from_errno("rename backup archive", errno));
    committed_ = true;
    if (auto d = fs::fsync_dir(fs::dir_of(final_)); !d) return fail(d.error());
    return StoredArchive{written_, sha_.hex_digest()};
  }

 private:
  safe_path::UniqueFd fd_;
  std::string tmp_, final_;
  crypto::Sha256 sha_;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace

std::string FsBackupStore::path(int64_t server, int64_t id) const {
  return fs::join(fs::join(dir_, std::to_string(server)), std::to_string(id) + ".tar.zst");
}

Result<std::unique_ptr<BackupWriter>> FsBackupStore::create(int64_t server, int64_t id) {
  const std::string final_path = path(server, id);
  if (auto d = fs::make_dirs(fs::dir_of(final_path), 0700); !d) return fail(d.error());
  const std::string tmp = final_path + ".partial";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(Error::from_errno("create backup archive", errno));
  return std::unique_ptr<BackupWriter>(
      std::make_unique<FsWriter>(safe_path::UniqueFd(fd), tmp, final_path));
}

Result<OpenedArchive> FsBackupStore::open(int64_t server, int64_t id) {
  const std::string p = path(server, id);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) return fail(codes::kNotFound, "backup archive is missing");
  if (fd < 0) return fail(Error::from_errno("open backup archive", errno));
  safe_path::UniqueFd file(fd);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return fail(Error::from_errno("stat backup archive", errno));
  OpenedArchive out;
  out.size = uint64_t(st.st_size);
  out.source = std::make_shared<http::FileSource>(std::move(file), 0, out.size);
  return out;
}

Result<void> FsBackupStore::remove(int64_t server, int64_t id) {
  for (const std::string& p : {path(server, id), path(server, id) + ".partial"})
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      return fail(Error::from_errno("remove backup archive", errno));
  return {};
}

Result<void> FsBackupStore::remove_server(int64_t server) {
  std::error_code ec;
  std::filesystem::remove_all(fs::join(dir_, std::to_string(server)), ec);
  if (ec) return fail(codes::kIo, "remove backups of server: " + ec.message());
  return {};
}

}  // namespace zlh::api::backups
