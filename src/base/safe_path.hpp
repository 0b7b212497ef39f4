// The one path resolver (docs/design.md §8, STYLE.md §10). Every file operation
// on a user- or archive-supplied path (the agent's /files API, archive
// extraction, mod installs) goes through these functions; none of them ever
// resolves a path outside the directory behind `root_fd`.
//
// How: paths are first checked lexically (normalize_relative), then opened
// with openat2(2) and RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so the kernel
// refuses any ".." or symlink (at any depth, absolute or relative) that would
// leave the root, including races with concurrent renames. Symlinks that stay
// inside the root are followed unless the caller passes O_NOFOLLOW (which,
// as usual, only concerns the last component).
//
// Errors (codes::*):
//   E_BADPATH   the path is not a clean relative path, or it (or a symlink on
//               the way) leads outside the root, or it crosses a /proc magic
//               link, or O_NOFOLLOW met a symlink (ELOOP). Nothing touched.
//   E_NOT_FOUND a component does not exist, or is not a directory where one
//               is needed (ENOENT, ENOTDIR).
//   E_IO        any other failure (Error::from_errno, `cause` = strerror),
//               e.g. EACCES, ENOSPC, EMFILE, or ENOSYS on kernels < 5.6.
//
// Ownership: returned fds belong to the caller, who closes them (UniqueFd
// below does it). `root_fd` is only borrowed; it must be a directory fd
// (O_PATH is enough) and stays open.
//
// Thread-safety: all functions are reentrant and may be called concurrently,
// also on the same root_fd. Races with other writers of the tree can make a
// call fail, never escape the root.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>

#include "base/error.hpp"

namespace zlh::safe_path {

// E_BADPATH unless `rel` is a clean relative path: not empty (unless
// allow_empty), not absolute, no NUL, no ".." segment, no backslash; "." and
// empty segments ("a//b", "./a", "a/") are normalized away. Returns the
// normalized path ("" for the root when allow_empty). Pure function.
Result<std::string> normalize_relative(std::string_view rel, bool allow_empty = false);

// openat2(root_fd, rel, {flags|O_CLOEXEC, mode, RESOLVE_BENEATH|
// RESOLVE_NO_MAGICLINKS}), retried on EINTR/EAGAIN. `rel` goes through
// normalize_relative first; "" (or ".") opens the root itself. Returns the
// new fd (caller closes). With O_CREAT, `mode` is subject to the umask.
Result<int> open_beneath(int root_fd, std::string_view rel, int flags, mode_t mode = 0);

// Opens the parent directory of `rel` beneath root_fd (O_RDONLY|O_DIRECTORY,
// so it can also be fsync'ed and used as the dirfd of *at calls) and returns
// {dir_fd, last_component}; the caller closes dir_fd. `rel` must name
// something below the root (not ""). The last component is not looked at:
// the caller operates on it with *at calls on dir_fd (with O_NOFOLLOW /
// AT_SYMLINK_NOFOLLOW where it matters) and it never contains a '/'.
// With create_dirs, missing intermediate directories are created with
// mkdirat(dir_mode, minus umask); every step is re-resolved from root_fd,
// so a symlink leading out is E_BADPATH and nothing is created outside.
// A dangling symlink on the way is E_NOT_FOUND. Repeatable.
Result<std::pair<int, std::string>> open_parent_beneath(int root_fd, std::string_view rel,
                                                        bool create_dirs, mode_t dir_mode = 0755);

// mkdir -p of `rel` beneath root_fd (same rules as open_parent_beneath). An
// existing directory, or a symlink inside the root to one, is success; an
// existing non-directory is E_NOT_FOUND ("not a directory"). "" is a no-op.
Result<void> mkdirs_beneath(int root_fd, std::string_view rel, mode_t mode = 0755);

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace zlh::safe_path
