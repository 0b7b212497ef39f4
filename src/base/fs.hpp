// Small filesystem helpers with explicit durability guarantees.
//
// write_file_atomic: the file at `path` is either the old content or the new
// content after a crash at any point, never a mix or empty: data goes to a
// temporary file in the same directory, is fsync'ed, renamed over `path`, and
// the directory is fsync'ed. On any failure the temporary file is removed and
// the old file is untouched. Safe to repeat.
//
// Thread-safety: reentrant; concurrent writers of one path each produce a
// complete file (last rename wins).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::fs {

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

// write(2) until all of data is written, retrying EINTR and short writes.
// E_IO "<what>: <strerror>" on any other failure (a part of data may have
// been written by then).
Result<void> write_all(int fd, std::string_view data, std::string_view what);

// Whole file into memory, for small files (config, state). NotFound is
// E_NOT_FOUND, other failures E_IO. Files over max_bytes are E_TOO_LARGE.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 16 << 20);

// The rest of an open file (from its offset to EOF), retrying EINTR; the fd
// stays open. E_TOO_LARGE over max_bytes, E_IO on a read error; `name`
// names the file in messages.
Result<std::string> read_fd(int fd, size_t max_bytes, const std::string& name);

// "0644": the permission bits of `m` as four octal digits, for messages.
std::string octal_mode(mode_t m);

// The directory part of `path`: "a/b" → "a", "/a" → "/", "a" → ".".
std::string dir_of(const std::string& path);

// mkdir -p with `mode` for directories it creates.
Result<void> make_dirs(const std::string& path, mode_t mode = 0755);

// fsync(2) of a directory, so a rename or create inside it is durable.
Result<void> fsync_dir(const std::string& dir);

// Joins root and a relative path ("/" root means the path itself, absolute).
std::string join(std::string_view root, std::string_view rel);

}  // namespace zlh::fs
