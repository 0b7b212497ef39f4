#include "agent/files/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/crypto.hpp"

namespace zlh::agent::files {

using safe_path::UniqueFd;

Result<void> make_dirs_owned(int root_fd, std::string_view rel, std::optional<Owner> owner) {
  auto norm = safe_path::normalize_relative(rel, true);
  if (!norm) return fail(norm.error());
  if (norm->empty()) return {};
  // One component at a time, each re-resolved from the root, so a symlink
  // swapped in on the way is still caught by RESOLVE_BENEATH.
  size_t pos = 0;
  for (;;) {
    size_t slash = norm->find('/', pos);
    std::string prefix = norm->substr(0, slash);
    auto parent = safe_path::open_parent_beneath(root_fd, prefix, false);
    if (!parent) return fail(parent.error());
    UniqueFd dir(parent->first);
    const std::string& name = parent->second;
    if (::mkdirat(dir.get(), name.c_str(), 0755) == 0) {
      if (owner &&
          ::fchownat(dir.get(), name.c_str(), owner->uid, owner->gid, AT_SYMLINK_NOFOLLOW) != 0)
        return fail(Error::from_errno("chown " + prefix, errno));
    } else if (errno != EEXIST) {
      return fail(Error::from_errno("mkdir " + prefix, errno));
    } else {
      // Exists: it must be a directory (or a symlink inside the root to one).
      auto d = safe_path::open_beneath(root_fd, prefix, O_PATH | O_DIRECTORY);
      if (!d) return fail(d.error());
      ::close(*d);
    }
    if (slash == std::string::npos) return {};
    pos = slash + 1;
  }
}

Result<AtomicFile> AtomicFile::create(int root_fd, std::string_view rel, std::optional<Owner> owner,
                                      bool create_dirs) {
  auto norm = safe_path::normalize_relative(rel, false);
  if (!norm) return fail(norm.error());
  if (create_dirs) {
    auto slash = norm->rfind('/');
    if (slash != std::string::npos)
      if (auto r = make_dirs_owned(root_fd, norm->substr(0, slash), owner); !r)
        return fail(r.error());
  }
  auto parent = safe_path::open_parent_beneath(root_fd, *norm, false);
  if (!parent) return fail(parent.error());
  AtomicFile f;
  f.dir_.reset(parent->first);
  f.name_ = parent->second;
  f.rel_ = *norm;

  struct stat st {};
  if (::fstatat(f.dir_.get(), f.name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(codes::kConflict, *norm + ": is a directory");
    if (S_ISLNK(st.st_mode)) {
      // The link itself would be replaced, never written through; still, a
      // link that leads outside is refused like any path that does.
      auto t = safe_path::open_beneath(root_fd, *norm, O_PATH);
      if (!t && t.error().code == codes::kBadPath) return fail(t.error());
      if (t) ::close(*t);
    }
    if (S_ISREG(st.st_mode)) f.mode_ = st.st_mode & 07777 & ~mode_t(S_ISUID | S_ISGID);
  } else if (errno != ENOENT) {
    return fail(Error::from_errno("stat " + *norm, errno));
  }

  int fd = ::openat(f.dir_.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    f.temp_name_ = ".zlh-tmp-" + crypto::random_hex(8);
    fd = ::openat(f.dir_.get(), f.temp_name_.c_str(),
                  O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) f.temp_name_.clear();
  }
  if (fd < 0) return fail(Error::from_errno("create " + *norm, errno));
  f.fd_.reset(fd);
  if (owner && ::fchown(fd, owner->uid, owner->gid) != 0)
    return fail(Error::from_errno("chown " + *norm, errno));
  if (::fchmod(fd, f.mode_) != 0) return fail(Error::from_errno("chmod " + *norm, errno));
  return f;
}

AtomicFile::~AtomicFile() {
  if (!committed_ && !temp_name_.empty() && dir_.valid())
    ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
}

Result<void> AtomicFile::write(std::string_view data) {
  if (committed_) return fail(codes::kInternal, rel_ + ": write after commit");
  while (!data.empty()) {
    ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Error::from_errno("write " + rel_, errno));
    }
    data.remove_prefix(size_t(n));
    size_ += uint64_t(n);
  }
  return {};
}

Result<void> AtomicFile::commit() {
  if (committed_) return {};
  if (::fsync(fd_.get()) != 0) return fail(Error::from_errno("fsync " + rel_, errno));
  std::string link_name = temp_name_;
  if (link_name.empty()) {
    // Give the unnamed inode a hidden name first: linkat cannot replace.
    link_name = ".zlh-tmp-" + crypto::random_hex(8);
    int r = ::linkat(fd_.get(), "", dir_.get(), link_name.c_str(), AT_EMPTY_PATH);
    if (r != 0 && (errno == ENOENT || errno == EPERM)) {
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc works for everyone.
      std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
      r = ::linkat(AT_FDCWD, proc.c_str(), dir_.get(), link_name.c_str(), AT_SYMLINK_FOLLOW);
    }
    if (r != 0) return fail(Error::from_errno("link " + rel_, errno));
  }
  if (::renameat(dir_.get(), link_name.c_str(), dir_.get(), name_.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dir_.get(), link_name.c_str(), 0);
    if (err == EISDIR) return fail(codes::kConflict, rel_ + ": is a directory");
    return fail(Error::from_errno("rename " + rel_, err));
  }
  committed_ = true;
  if (::fsync(dir_.get()) != 0) return fail(Error::from_errno("fsync dir of " + rel_, errno));
  return {};
}

}  // namespace zlh::agent::files
