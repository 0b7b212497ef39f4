// A file written beneath a workload root and made visible in one step
// (docs/design.md §8: writes and uploads are atomic; a failed one leaves the old
// file intact and no temp file behind).
//
// How: the data goes to an unnamed O_TMPFILE inode in the target's directory
// (so even a kill -9 of the agent mid-upload leaves nothing behind); commit()
// fsyncs it, links it under a random hidden name and renames that over the
// target, then fsyncs the directory. On filesystems without O_TMPFILE a
// named temp file (".zlh-tmp-<random>") is used instead; it is unlinked when
// the AtomicFile is dropped uncommitted.
//
// Paths go through the one resolver (base/safe_path.hpp): the target's
// parent is opened with RESOLVE_BENEATH, so `..`, absolute paths and
// symlinks leading out are E_BADPATH before anything is created. The target
// itself is replaced, never written through: a symlink at the target name is
// replaced by the new file (E_BADPATH when that link leads outside). A directory at the target name
// is E_CONFLICT.
//
// Ownership: new files get `owner` (chown) when set, and the old file's mode
// when one is replaced, else 0644. Missing parent directories are created
// (also chowned) when create_dirs is set.
//
// Errors: E_BADPATH, E_NOT_FOUND (missing parent without create_dirs),
// E_CONFLICT (target is a directory), E_IO (disk full, permissions...).
// Thread-safety: one AtomicFile is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "base/safe_path.hpp"

namespace zlh::agent::files {

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// mkdir -p of `rel` beneath root_fd where every directory it creates gets
// `owner`. Existing directories are left as they are. "" is a no-op.
Result<void> make_dirs_owned(int root_fd, std::string_view rel, std::optional<Owner> owner);

class AtomicFile {
 public:
  static Result<AtomicFile> create(int root_fd, std::string_view rel, std::optional<Owner> owner,
                                   bool create_dirs);
  AtomicFile(AtomicFile&&) noexcept = default;
  AtomicFile& operator=(AtomicFile&&) noexcept = default;
  ~AtomicFile();  // uncommitted: discards the data (unlinks a named temp)

  Result<void> write(std::string_view data);
  uint64_t size() const { return size_; }
  // Makes the file visible under its name. Repeating after success is a no-op.
  Result<void> commit();
  const std::string& rel() const { return rel_; }

 private:
  AtomicFile() = default;
  safe_path::UniqueFd dir_, fd_;
  std::string rel_, name_, temp_name_;  // temp_name_ set for a named temp file
  mode_t mode_ = 0644;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace zlh::agent::files
