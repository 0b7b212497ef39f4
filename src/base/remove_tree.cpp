#include "base/remove_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace zlh::fs {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// One directory on the way down. `fd` may be closed (-1) while deeper
// levels are open; it is reopened through ".." from its child.
struct Level {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string name;                  // its entry in the parent ("" for the top)
  std::string path;                  // for messages only
  std::vector<std::string> subdirs;  // still to descend into
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// openat(dirfd, name) as a directory; a directory we may not read or search
// is made accessible first (we are removing it anyway).
int open_dir(int dirfd, const std::string& name) {
  int fd = ::openat(dirfd, name.c_str(), kDirFlags);
  if (fd < 0 && errno == EACCES) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        ::fchmodat(dirfd, name.c_str(), (st.st_mode & 07777) | S_IRWXU, 0) == 0)
      fd = ::openat(dirfd, name.c_str(), kDirFlags);
    else
      errno = EACCES;
  }
  return fd;
}

// unlinkat that retries once after making the directory writable.
int unlink_in(int dirfd, const std::string& name, int flags) {
  if (::unlinkat(dirfd, name.c_str(), flags) == 0) return 0;
  if (errno != EACCES && errno != EPERM) return -1;
  int saved = errno;
  struct stat st {};
  if (::fstat(dirfd, &st) != 0 || (st.st_mode & S_IRWXU) == S_IRWXU ||
      ::fchmod(dirfd, (st.st_mode & 07777) | S_IRWXU) != 0) {
    errno = saved;
    return -1;
  }
  return ::unlinkat(dirfd, name.c_str(), flags);
}

Error io(const std::string& what, const std::string& path, int err) {
  return Error::from_errno(what + " " + path, err);
}

// Unlinks every non-directory entry of the level's directory and lists its
// subdirectories (same filesystem only).
Result<void> scan(Level& l) {
  int dup = ::fcntl(l.fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail(io("dup", l.path, errno));
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int err = errno;
    ::close(dup);
    return fail(io("opendir", l.path, err));
  }
  l.subdirs.clear();
  std::vector<std::string> files;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(l.fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      int err = errno;
      ::closedir(d);
      return fail(io("stat", l.path + "/" + n, err));
    }
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(std::move(n));
    } else if (st.st_dev != l.dev) {
      ::closedir(d);
      return fail(codes::kIo, "mount point inside the tree: " + l.path + "/" + n);
    } else {
      l.subdirs.push_back(std::move(n));
    }
  }
  ::closedir(d);
  // Unlinking while readdir walks the same directory may skip entries;
  // listing first and deleting afterwards does not.
  for (const auto& n : files)
    if (unlink_in(l.fd, n, 0) != 0 && errno != ENOENT)
      return fail(io("unlink", l.path + "/" + n, errno));
  return {};
}

Result<void> remove_existing_tree(const std::string& path_in, const RemoveTreeOptions& opts) {
  std::string path = path_in;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty() || path == "/" || path == "." || path == "..")
    return fail(Error::invalid("path", "refusing to remove \"" + path_in + "\""));
  size_t slash = path.rfind('/');
  std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string leaf = slash == std::string::npos ? path : path.substr(slash + 1);
  if (leaf == "." || leaf == "..")
    return fail(Error::invalid("path", "refusing to remove " + path));
  const size_t max_open = std::max<size_t>(opts.max_open_fds, 2);

  int parent_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0) {
    if (errno == ENOENT) return fail(codes::kNotFound, path + " does not exist");
    return fail(io("open", parent, errno));
  }
  struct stat top {};
  if (::fstatat(parent_fd, leaf.c_str(), &top, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    ::close(parent_fd);
    if (err == ENOENT) return fail(codes::kNotFound, path + " does not exist");
    return fail(io("stat", path, err));
  }
  if (!S_ISDIR(top.st_mode)) {
    int rc = unlink_in(parent_fd, leaf, 0);
    int err = errno;
    ::close(parent_fd);
    if (rc != 0 && err != ENOENT) return fail(io("unlink", path, err));
    return {};
  }

  std::vector<Level> stack;
  auto cleanup = [&] {
    for (auto& l : stack) close_fd(l.fd);
    close_fd(parent_fd);
  };
  auto push = [&](int dirfd, const std::string& name, const std::string& p,
                  dev_t want_dev) -> Result<void> {
    int fd = open_dir(dirfd, name);
    if (fd < 0) return fail(io("open", p, errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return fail(io("stat", p, err));
    }
    if (st.st_dev != want_dev) {
      ::close(fd);
      return fail(codes::kIo, "mount point inside the tree: " + p);
    }
    Level l;
    l.fd = fd;
    l.dev = st.st_dev;
    l.ino = st.st_ino;
    l.name = name;
    l.path = p;
    stack.push_back(std::move(l));
    // Keep at most max_open fds: close the oldest still open.
    size_t open_count = 0;
    for (auto& lv : stack) open_count += lv.fd >= 0;
    for (auto& lv : stack) {
      if (open_count <= max_open) break;
      if (lv.fd >= 0 && &lv != &stack.back()) {
        close_fd(lv.fd);
        --open_count;
      }
    }
    return scan(stack.back());
  };

  if (auto r = push(parent_fd, leaf, path, top.st_dev); !r) {
    cleanup();
    return r;
  }
  // A writer that keeps refilling the tree must not keep us here forever.
  constexpr int kMaxRescans = 100;
  int rescans = 0;
  while (!stack.empty()) {
    Level& cur = stack.back();
    if (!cur.subdirs.empty()) {
      std::string name = std::move(cur.subdirs.back());
      cur.subdirs.pop_back();
      // push() may reallocate the stack: no reference to `cur` after it.
      int fd = cur.fd;
      std::string child_path = cur.path + "/" + name;
      if (auto r = push(fd, name, child_path, cur.dev); !r) {
        cleanup();
        return r;
      }
      continue;
    }
    // Everything below `cur` is gone: remove it from its parent.
    Level done = std::move(stack.back());
    stack.pop_back();
    int parent_dir = parent_fd;
    if (!stack.empty()) {
      Level& up = stack.back();
      if (up.fd < 0) {
        up.fd = ::openat(done.fd, "..", kDirFlags);
        struct stat st {};
        if (up.fd < 0 || ::fstat(up.fd, &st) != 0 || st.st_dev != up.dev || st.st_ino != up.ino) {
          close_fd(done.fd);
          cleanup();
          return fail(codes::kIo, "tree changed during removal at " + up.path);
        }
      }
      parent_dir = up.fd;
    }
    close_fd(done.fd);
    if (unlink_in(parent_dir, done.name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
      int err = errno;
      if ((err == ENOTEMPTY || err == EEXIST) && ++rescans <= kMaxRescans) {
        // Something was created under it meanwhile: go through it again.
        if (auto r = push(parent_dir, done.name, done.path, done.dev); !r) {
          cleanup();
          return r;
        }
        continue;
      }
      cleanup();
      return fail(io("rmdir", done.path, err));
    }
  }
  cleanup();
  return {};
}

}  // namespace

Result<void> remove_tree(const std::string& path, RemoveTreeOptions opts) {
  auto r = remove_existing_tree(path, opts);
  if (!r && opts.missing_ok && r.error().is(codes::kNotFound)) return {};
  return r;
}

}  // namespace zlh::fs
