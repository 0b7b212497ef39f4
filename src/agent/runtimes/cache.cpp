#include "agent/runtimes/cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crypto.hpp"
#include "base/fs.hpp"

namespace zlh::agent::runtimes {

namespace {
constexpr std::string_view kTmpPrefix = ".tmp-";
}

void ArtifactCache::discard_temporaries() {
  DIR* d = opendir(dir_.c_str());
  if (!d) return;
  while (auto* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.starts_with(kTmpPrefix)) unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

Result<std::string> ArtifactCache::get(const std::string& url, const std::string& sha256,
                                       uint64_t size,
                                       const std::function<void(uint64_t, uint64_t)>& progress,
                                       const std::atomic<bool>* cancel) {
  std::string final_path = fs::join(dir_, sha256);
  struct stat st {};
  if (::stat(final_path.c_str(), &st) == 0) {
    if (S_ISREG(st.st_mode) && (size == kUnknownSize || uint64_t(st.st_size) == size))
      return final_path;
    ::unlink(final_path.c_str());  // not what a verified entry looks like
  }
  if (auto r = fs::make_dirs(dir_, 0755); !r) return fail(r.error());
  std::string tmp =
      fs::join(dir_, std::string(kTmpPrefix) + sha256.substr(0, 16) + "-" + crypto::random_hex(6));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Error::from_errno("create " + tmp, errno));
  crypto::Sha256 hash;
  uint64_t done = 0, last_report = 0;
  auto r = fetcher_.fetch(
      url,
      [&](std::string_view chunk) -> Result<void> {
        if (done + chunk.size() > (size == kUnknownSize ? kMaxUnknownSize : size))
          return fail(codes::kHashMismatch,
                      "artifact is larger than the expected " +
                          std::to_string(size == kUnknownSize ? kMaxUnknownSize : size) + " bytes");
        hash.update(chunk);
        if (auto w = fs::write_all(fd, chunk, "write " + tmp); !w) return w;
        done += chunk.size();
        if (progress && (done - last_report >= (4u << 20) || done == size)) {
          last_report = done;
          progress(done, size);
        }
        return {};
      },
      cancel);
  auto abort = [&](Error e) -> Result<std::string> {
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(std::move(e));
  };
  if (!r) return abort(r.error().wrap("download " + url));
  if (size != kUnknownSize && done != size)
    return abort(
        Error::make(codes::kHashMismatch, "artifact " + url + " has " + std::to_string(done) +
                                              " bytes, the catalog says " + std::to_string(size)));
  std::string got = hash.hex_digest();
  if (got != sha256)
    return abort(Error::make(codes::kHashMismatch, "artifact " + url + " has sha256 " + got +
                                                       ", the catalog says " + sha256));
  if (::fsync(fd) != 0) return abort(Error::from_errno("fsync " + tmp, errno));
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(Error::from_errno("rename " + tmp, err));
  }
  return final_path;
}

}  // namespace zlh::agent::runtimes
