// Safe archive extraction for runtime, addon and game artifacts
// (docs/design.md §4.2), and removal of the staging trees it writes into.
//
// extract_archive streams the archive (constant memory, data goes straight
// from libarchive's blocks to disk) into `dest_dir`, normally an empty
// staging directory on the same filesystem as the final location. Every
// file, directory and link is created through base/safe_path (openat2
// RESOLVE_BENEATH on a dest_dir fd), so no entry sequence, however tricky
// ("l -> sub" then "l/../../x", "d/l -> .." then "d/l/l2 -> .."), can create
// or modify anything outside dest_dir.
//
// Accepted: tar (ustar, pax, GNU), zip, 7zip and cpio, plain or compressed
// with gzip, bzip2, xz/lzma, zstd, lz4 or compress. Deliberately not
// accepted: mtree (its entries can name host files, e.g.
// "contents=/etc/shadow", that libarchive would read) and compressors that
// libarchive would run as external programs (children go through the one
// spawn door, STYLE §7).
//
// Entry rules. Refused as E_BAD_ARCHIVE, with the message naming the entry:
// absolute paths, ".." segments, backslashes or NUL in names; symlinks with
// an empty or absolute target or one that leads outside dest_dir lexically
// (relative to the link's directory); hard links whose target is outside,
// missing, stripped away, or not a regular file already extracted; device
// files, FIFOs, sockets and unknown entry types; more than max_entries
// entries or more than max_total_bytes of file data; corrupt or truncated
// input. Not refused: entries that are empty after strip_components (or are
// "." itself) are skipped; setuid/setgid/sticky bits are dropped. Files keep
// their permission bits (& 0777) and mtime; directories get their bits plus
// owner rwx (so extraction can continue below them). Ownership is not
// restored (everything belongs to the calling user). An existing entry of
// the same name (also from earlier in the archive) is replaced; a non-empty
// directory is never replaced (E_BAD_ARCHIVE). strip_components counts the
// leading components the way GNU tar does ("./a/b" with 1 gives "a/b") and
// applies to hard link targets too, never to symlink targets.
//
// After the last entry every symlink in dest_dir is resolved the way the
// kernel would (following symlinks inside, taking missing components
// lexically); one that leaves dest_dir, is absolute or loops is refused.
//
// Errors: E_BAD_ARCHIVE as above; E_NOT_FOUND when archive_path or
// dest_dir does not exist; E_IO for disk failures (ENOSPC, EACCES, ...);
// E_INTERNAL "cancelled" when opts.cancel became true. On any error the
// function returns at once and leaves what it wrote inside dest_dir (the
// caller discards the staging dir with remove_tree), never anything outside.
//
// Thread-safety: reentrant; runs on the calling thread (blocking I/O, so not
// on an io_context thread). `progress` is called on that thread; `cancel` may
// be set from any thread. Concurrent extractions into the same dest_dir are
// not supported (each install has its own staging dir).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/error.hpp"

namespace zlh::agent::runtimes {

struct ExtractStats {
  uint64_t entries = 0;  // archive entries read (skipped ones too)
  uint64_t bytes = 0;    // file data written
};

struct ExtractOptions {
  int strip_components = 0;
  uint64_t max_total_bytes = 16ull << 30;  // uncompressed bytes
  uint64_t max_entries = 1'000'000;
  std::function<void(uint64_t bytes_done)> progress;  // may be empty; called every few MiB
  const std::atomic<bool>* cancel = nullptr;  // when set and true → stop, E_INTERNAL "cancelled"
  ExtractStats* stats = nullptr;              // when set: filled in after a successful extraction
};

// Extracts the archive at archive_path into dest_dir, which must exist. See
// the rules above. Repeating the call into the same dir overwrites entries.
Result<void> extract_archive(const std::string& archive_path, const std::string& dest_dir,
                             const ExtractOptions& opts);
// Same, reading the archive from `in_fd` (a file or a pipe, read
// sequentially; not closed). A pipe whose writer closes early is a
// truncated archive: E_BAD_ARCHIVE.
Result<void> extract_archive_fd(int in_fd, const std::string& dest_dir, const ExtractOptions& opts);

}  // namespace zlh::agent::runtimes
