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

// The path to remove, split into the directory that holds it and its entry
// there; "/", ".", ".." and paths ending in them are refused.
struct TopPath {
  std::string path;  // without trailing slashes
  std::string parent;
  std::string leaf;
};

Result<TopPath> split_top(const std::string& path_in) {
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
  return TopPath{std::move(path), std::move(parent), std::move(leaf)};
}

// Opens `name` in dirfd as one level of the walk; refuses a directory on
// another device than want_dev (a mount point).
Result<Level> open_level(int dirfd, const std::string& name, const std::string& p, dev_t want_dev) {
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
  return l;
}

// Depth-first removal of one directory below an open parent, with at most
// max_open level descriptors open. Owns the parent's descriptor and every
// level's; the destructor closes them.
class TreeRemoval {
 public:
  TreeRemoval(int parent_fd, size_t max_open) : parent_fd_(parent_fd), max_open_(max_open) {}
  ~TreeRemoval() {
    for (auto& l : stack_) close_fd(l.fd);
    close_fd(parent_fd_);
  }
  TreeRemoval(const TreeRemoval&) = delete;
  TreeRemoval& operator=(const TreeRemoval&) = delete;

  // Removes the directory `leaf` of the parent (on device dev) and all below.
  Result<void> run(const std::string& leaf, const std::string& path, dev_t dev) {
    if (auto r = push(parent_fd_, leaf, path, dev); !r) return r;
    while (!stack_.empty()) {
      auto r = stack_.back().subdirs.empty() ? remove_top() : descend();
      if (!r) return r;
    }
    return {};
  }

 private:
  // A writer that keeps refilling the tree must not keep us here forever.
  static constexpr int kMaxRescans = 100;

  // Opens a level, keeps the descriptors bounded and clears its files.
  Result<void> push(int dirfd, const std::string& name, const std::string& p, dev_t want_dev) {
    auto l = open_level(dirfd, name, p, want_dev);
    if (!l) return fail(std::move(l.error()));
    stack_.push_back(std::move(*l));
    close_oldest_fds();
    return scan(stack_.back());
  }

  // Keep at most max_open fds: close the oldest still open.
  void close_oldest_fds() {
    size_t open_count = 0;
    for (auto& lv : stack_) open_count += lv.fd >= 0;
    for (auto& lv : stack_) {
      if (open_count <= max_open_) break;
      if (lv.fd >= 0 && &lv != &stack_.back()) {
        close_fd(lv.fd);
        --open_count;
      }
    }
  }

  // Goes down into the next subdirectory of the deepest level.
  Result<void> descend() {
    Level& cur = stack_.back();
    std::string name = std::move(cur.subdirs.back());
    cur.subdirs.pop_back();
    // push() may reallocate the stack: no reference to `cur` after it.
    int fd = cur.fd;
    dev_t dev = cur.dev;
    std::string child_path = cur.path + "/" + name;
    return push(fd, name, child_path, dev);
  }

  // The descriptor of the directory holding the level just popped, whose
  // own descriptor is child_fd: reopened through ".." if it was closed, and
  // checked to be the same directory.
  Result<int> holder_of(int child_fd) {
    if (stack_.empty()) return parent_fd_;
    Level& up = stack_.back();
    if (up.fd < 0) {
      up.fd = ::openat(child_fd, "..", kDirFlags);
      struct stat st {};
      if (up.fd < 0 || ::fstat(up.fd, &st) != 0 || st.st_dev != up.dev || st.st_ino != up.ino)
        return fail(codes::kIo, "tree changed during removal at " + up.path);
    }
    return up.fd;
  }

  // Everything below the deepest level is gone: remove it from its parent,
  // or go through it again when something was created in it meanwhile.
  Result<void> remove_top() {
    Level done = std::move(stack_.back());
    stack_.pop_back();
    auto holder = holder_of(done.fd);
    close_fd(done.fd);
    if (!holder) return fail(std::move(holder.error()));
    if (unlink_in(*holder, done.name, AT_REMOVEDIR) == 0 || errno == ENOENT) return {};
    int err = errno;
    if ((err == ENOTEMPTY || err == EEXIST) && ++rescans_ <= kMaxRescans)
      return push(*holder, done.name, done.path, done.dev);
    return fail(io("rmdir", done.path, err));
  }

  std::vector<Level> stack_;
  int parent_fd_;
  size_t max_open_;
  int rescans_ = 0;
};

Result<void> remove_existing_tree(const std::string& path_in, const RemoveTreeOptions& opts) {
  auto top = split_top(path_in);
  if (!top) return fail(std::move(top.error()));
  const std::string& path = top->path;
  const size_t max_open = std::max<size_t>(opts.max_open_fds, 2);

  int parent_fd = ::open(top->parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0) {
    if (errno == ENOENT) return fail(codes::kNotFound, path + " does not exist");
    return fail(io("open", top->parent, errno));
  }
  struct stat st {};
  if (::fstatat(parent_fd, top->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    ::close(parent_fd);
    if (err == ENOENT) return fail(codes::kNotFound, path + " does not exist");
    return fail(io("stat", path, err));
  }
  if (!S_ISDIR(st.st_mode)) {
    int rc = unlink_in(parent_fd, top->leaf, 0);
    int err = errno;
    ::close(parent_fd);
    if (rc != 0 && err != ENOENT) return fail(io("unlink", path, err));
    return {};
  }
  TreeRemoval removal(parent_fd, max_open);
  return removal.run(top->leaf, path, st.st_dev);
}

}  // namespace

Result<void> remove_tree(const std::string& path, RemoveTreeOptions opts) {
  auto r = remove_existing_tree(path, opts);
  if (!r && opts.missing_ok && r.error().is(codes::kNotFound)) return {};
  return r;
}

}  // namespace zlh::fs
