// A directory as a compressed tar stream: .tar.gz for GET
// /files/download?path=DIR (docs/design.md §8), .tar.zst for GET
// /backups/archive (docs/backups.md). The one tar writer of the agent; the
// compressor is libarchive's gzip filter or libzstd. Pull model: the HTTP
// layer calls read() for the next piece of compressed output and sends it,
// so a slow client slows the archiver down instead of making it buffer.
//
// Containment: the directory is opened beneath root_fd with
// safe_path::open_beneath; the walk below it uses file descriptors only
// (openat with O_NOFOLLOW relative to the parent directory's fd, fstatat with
// AT_SYMLINK_NOFOLLOW), never path strings, so no symlink or concurrent
// rename can lead the walk outside the directory. Symlinks are archived as
// symlinks (their target text), never followed. Only regular files,
// directories and symlinks are archived; sockets, FIFOs and devices are
// skipped, and so is anything that vanishes while the walk runs. Hard links
// are archived as separate files.
//
// Format: pax (ustar where it fits, pax headers for long names), then gzip
// (without a timestamp, so the same tree gives the same bytes) or zstd
// (level 3, one frame, with a content checksum). Entries are "<top_name>/"
// followed by the path below the directory (open()), or the path below the
// directory alone without an entry for the directory itself (open_flat()),
// in depth-first order with each directory's names sorted bytewise. Permissions (mode &
// 07777), mtime (whole seconds) and numeric uid/gid are kept. A file that
// changes size while it is read is stored with the size it had when its
// header was written (cut, or padded with zeros).
//
// Memory and descriptors: constant, whatever the tree's size: each read()
// step handles at most 64 KiB of one file, and the stream holds the gzip
// state (~300 KiB; zstd ~1.3 MiB), that one step's output, and one open fd per directory
// level (at most kMaxDepth) plus the current file. Names of the directories
// on the current path are kept (one sorted list per level).
//
// Errors: open() returns E_BADPATH / E_NOT_FOUND / E_IO as
// safe_path::open_beneath reports them for `rel_dir` (a non-directory is
// E_NOT_FOUND), E_INVALID for a bad top_name, E_UNAVAILABLE when libarchive
// cannot be loaded. read() returns E_IO for a failed read of the tree,
// E_TOO_LARGE for directories nested deeper than kMaxDepth, E_INTERNAL when
// libarchive fails. After an error the stream is dead and every later read()
// returns the same error; the output already handed out is a truncated
// archive, so the HTTP layer must abort the response, not end it cleanly.
//
// libarchive is loaded with dlopen on first use (runtimes/lazy_lib.hpp).
//
// Threading: one stream is used by one thread at a time. It borrows nothing:
// root_fd may be closed once open() returns.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/safe_path.hpp"

struct archive;
struct archive_entry;
struct ZSTD_CCtx_s;
typedef struct ZSTD_CCtx_s ZSTD_CCtx;
struct ZSTD_inBuffer_s;
typedef struct ZSTD_inBuffer_s ZSTD_inBuffer;

namespace zlh::agent::files {

enum class Compression { kGzip, kZstd };

class TarStream {
 public:
  static constexpr size_t kMaxDepth = 128;

  // Opens `rel_dir` ("" for the root itself) beneath root_fd; entries are
  // named "<top_name>/...". top_name must be one path segment (not "." or
  // ".."). The directory itself is listed here, the rest while reading.
  // With `link_owner` set (a root agent acting for the dev user), regular
  // files with more than one hard link that the user does not own are
  // skipped: a hard link the user made to someone else's file is not read
  // on their behalf.
  static Result<std::unique_ptr<TarStream>> open(int root_fd, const std::string& rel_dir,
                                                 const std::string& top_name,
                                                 std::optional<uid_t> link_owner = std::nullopt,
                                                 Compression c = Compression::kGzip);
  // Same, with entries named by their path below `rel_dir` ("a", "a/b"):
  // a backup of the files root, restored into the root itself.
  static Result<std::unique_ptr<TarStream>> open_flat(int root_fd, const std::string& rel_dir,
                                                      std::optional<uid_t> link_owner,
                                                      Compression c);

  // Fills up to `cap` bytes of gzip output into buf and returns how many;
  // 0 (with cap > 0) means the archive is complete. Blocks on disk I/O only.
  Result<size_t> read(char* buf, size_t cap);

  ~TarStream();
  TarStream(const TarStream&) = delete;
  TarStream& operator=(const TarStream&) = delete;

 private:
  std::optional<uid_t> link_owner_;
  struct Dir {
    safe_path::UniqueFd fd;
    std::string path;                // archive path of this directory
    std::vector<std::string> names;  // sorted
    size_t next = 0;
  };
  enum class State { kWalk, kDone, kFailed };

  TarStream() = default;
  static Result<std::unique_ptr<TarStream>> open_impl(int root_fd, const std::string& rel_dir,
                                                      const std::string& top_name,
                                                      std::optional<uid_t> link_owner,
                                                      Compression c);
  Result<void> start_compression(Compression c);
  Result<void> finish_compression();
  bool zstd_step(ZSTD_inBuffer& in, int end_op);
  static ssize_t write_cb(archive* a, void* self, const void* buf, size_t n);

  Result<void> step();
  Result<void> add_entry(Dir& parent, const std::string& name);
  Result<void> push_dir(safe_path::UniqueFd fd, std::string path);
  Result<void> write_header(const std::string& path, const struct stat& st,
                            const std::string* symlink);
  Result<void> file_step();
  Error archive_error(std::string_view what);
  Result<void> stop(Error e);

  archive* a_ = nullptr;
  archive_entry* entry_ = nullptr;
  State state_ = State::kWalk;
  Error error_;

  std::vector<Dir> stack_;
  safe_path::UniqueFd file_;  // regular file being archived
  std::string file_path_;
  uint64_t file_left_ = 0;
  std::unique_ptr<char[]> io_buf_;

  std::string out_;  // gzip output not yet handed out, from out_pos_ on
  size_t out_pos_ = 0;
  bool out_failed_ = false;
  bool discard_ = false;       // being destroyed: drop output
  ZSTD_CCtx* zstd_ = nullptr;  // set for Compression::kZstd: write_cb compresses the tar
  std::string zstd_error_;
};

}  // namespace zlh::agent::files
