// Recursive removal of a container's directory that can only ever delete
// what lies inside it.
//
// Everything is done relative to directory fds opened with O_NOFOLLOW:
// a symlink anywhere in the tree (to "/", to the API's data, to another
// container) is unlinked itself and never followed, and no path is ever
// re-resolved from the top, so renaming things during the walk cannot
// redirect it. Another filesystem mounted inside the tree is not entered:
// the removal fails there (E_IO) and leaves it alone. Directories without
// write or search permission for us (a read-only runtime tree) are made
// accessible (chmod u+rwx) first. Arbitrarily deep trees are handled with at
// most `max_open_fds` directory fds open: deeper ancestors are closed and
// reopened through ".." with a device/inode check on the way back up.
//
// Thread-safety: reentrant. Not atomic: a failure (or a crash) leaves part
// of the tree; calling again removes the rest.
#pragma once

#include <string>

#include "base/error.hpp"

namespace zlh::fs {

struct RemoveTreeOptions {
  size_t max_open_fds = 64;  // at least 2
  bool missing_ok = false;   // a `path` that does not exist is success, not E_NOT_FOUND
};

// Removes `path` (a directory and everything below it, or a single file or
// symlink, which is unlinked, not followed). The parent part of `path` is
// resolved normally (it is the caller's, e.g. the data dir).
// E_NOT_FOUND when `path` does not exist (unless missing_ok); E_IO on any failure (the message
// names the entry), including a mount point inside the tree or a tree that
// changed under the walk.
Result<void> remove_tree(const std::string& path, RemoveTreeOptions opts = {});

}  // namespace zlh::fs
