// The file operations of the agent's /files API (docs/design.md §8) on one
// workload root (dev: the workspace; game: the server directory).
//
// Every path is relative to the root and goes through the one resolver
// (base/safe_path.hpp: lexical check, then openat2 RESOLVE_BENEATH), so
// `..`, absolute paths, NUL bytes and symlinks that lead outside at any
// depth are E_BADPATH and nothing is touched. Operations act on names with
// *at() calls on the resolved parent directory and never follow a symlink
// in the last component when they change something (rename, delete replace
// or remove the link itself, never its target). Reads follow symlinks that
// stay inside the root.
//
// Ownership: a FileStore owns an O_PATH fd of the root; new files and
// directories get `owner` when set (the dev user; the agent may be root).
// Errors: E_BADPATH, E_NOT_FOUND, E_CONFLICT (exists / is a directory / not
// empty where it matters), E_INVALID (e.g. reading a directory), E_IO.
// Thread-safety: const methods and distinct FileStores may be used
// concurrently; concurrent changes of one tree can make calls fail, never
// escape the root.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/files/atomic_file.hpp"
#include "base/error.hpp"
#include "base/safe_path.hpp"

namespace zlh::agent::files {

struct OpenedFile {
  safe_path::UniqueFd fd;  // O_RDONLY
  uint64_t size = 0;
  int64_t mtime = 0;
  bool is_dir = false;
  std::string name;  // last path component ("" for the root)
};

class FileStore {
 public:
  // E_CONFLICT when root_dir does not exist yet (no workload provisioned).
  static Result<FileStore> open(const std::string& root_dir, std::optional<Owner> owner);

  int root_fd() const { return root_.get(); }
  std::optional<Owner> owner() const { return owner_; }

  // Entries of a directory ("" = the root), dirs first, then by name:
  // [{name, type: file|dir|symlink, size, mtime (unix seconds), mode ("0644")}].
  // Sockets, fifos and devices are not listed.
  Result<nlohmann::json> list(std::string_view rel) const;
  // Opens a file or directory for reading (symlinks inside the root followed).
  Result<OpenedFile> open_read(std::string_view rel) const;
  // mkdir -p; an existing directory is fine, an existing file is E_CONFLICT.
  Result<void> mkdir(std::string_view rel) const;
  // Renames without replacing: an existing `to` is E_CONFLICT. Missing
  // parents of `to` are created.
  Result<void> rename(std::string_view from, std::string_view to) const;
  // Deletes files, symlinks and whole directory trees. Every path is checked
  // (resolves, exists) before the first one is deleted, so a bad path in the
  // list deletes nothing. The root itself cannot be deleted.
  Result<void> remove(const std::vector<std::string>& rels) const;

 private:
  FileStore(safe_path::UniqueFd root, std::optional<Owner> owner)
      : root_(std::move(root)), owner_(owner) {}
  safe_path::UniqueFd root_;
  std::optional<Owner> owner_;
};

// The one check of a client-supplied path: safe_path::normalize_relative,
// and the same for its percent-decoded forms (up to three rounds), so an
// encoded traversal ("%2e%2e/x", "..%252f") is E_BADPATH even though it is
// inside the root as a literal name: a relay that decodes once more must
// not turn it into one. Returns the normalized path.
Result<std::string> user_path(std::string_view rel, bool allow_empty);

// A file name a client may create in one directory (uploads, mods): not
// empty, ≤ 255 bytes, no '/', '\\' or NUL, not "." or "..". Else E_BADPATH.
Result<void> check_file_name(std::string_view name);

}  // namespace zlh::agent::files
