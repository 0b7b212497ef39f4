#include "agent/files/tar_stream.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "agent/runtimes/lazy_lib.hpp"

namespace zlh::agent::files {

namespace lz {
ZLH_LAZY("libarchive.so.13", archive_entry_clear)
ZLH_LAZY("libarchive.so.13", archive_entry_free)
ZLH_LAZY("libarchive.so.13", archive_entry_new)
ZLH_LAZY("libarchive.so.13", archive_entry_set_filetype)
ZLH_LAZY("libarchive.so.13", archive_entry_set_gid)
ZLH_LAZY("libarchive.so.13", archive_entry_set_mtime)
ZLH_LAZY("libarchive.so.13", archive_entry_set_pathname)
ZLH_LAZY("libarchive.so.13", archive_entry_set_perm)
ZLH_LAZY("libarchive.so.13", archive_entry_set_size)
ZLH_LAZY("libarchive.so.13", archive_entry_set_symlink)
ZLH_LAZY("libarchive.so.13", archive_entry_set_uid)
ZLH_LAZY("libarchive.so.13", archive_error_string)
ZLH_LAZY("libarchive.so.13", archive_write_add_filter_gzip)
ZLH_LAZY("libarchive.so.13", archive_write_close)
ZLH_LAZY("libarchive.so.13", archive_write_data)
ZLH_LAZY("libarchive.so.13", archive_write_fail)
ZLH_LAZY("libarchive.so.13", archive_write_finish_entry)
ZLH_LAZY("libarchive.so.13", archive_write_free)
ZLH_LAZY("libarchive.so.13", archive_write_header)
ZLH_LAZY("libarchive.so.13", archive_write_new)
ZLH_LAZY("libarchive.so.13", archive_write_open2)
ZLH_LAZY("libarchive.so.13", archive_write_set_bytes_in_last_block)
ZLH_LAZY("libarchive.so.13", archive_write_set_bytes_per_block)
ZLH_LAZY("libarchive.so.13", archive_write_set_filter_option)
ZLH_LAZY("libarchive.so.13", archive_write_set_format_pax_restricted)
}  // namespace lz

namespace {

using safe_path::UniqueFd;

constexpr const char* kLibArchive = "libarchive.so.13";
constexpr size_t kChunk = 64 * 1024;  // file bytes per step
constexpr int kBlock = 16 * 1024;     // gzip output is handed to write_cb in blocks this big

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// The entries of a directory, sorted. Reads through a dup so that `fd`
// itself stays usable for *at calls.
Result<std::vector<std::string>> list_dir(int fd, const std::string& path) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail(Error::from_errno("list " + quoted(path), errno));
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int err = errno;
    ::close(dup);
    return fail(Error::from_errno("list " + quoted(path), err));
  }
  std::vector<std::string> names;
  int err = 0;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d);
    if (e == nullptr) {
      err = errno;
      break;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  if (err != 0) return fail(Error::from_errno("list " + quoted(path), err));
  std::sort(names.begin(), names.end());
  return names;
}

// Errors that mean the entry changed or vanished under us: skip it.
bool vanished(int err) { return err == ENOENT || err == ELOOP || err == ENOTDIR || err == ENXIO; }

}  // namespace

Result<std::unique_ptr<TarStream>> TarStream::open(int root_fd, const std::string& rel_dir,
                                                   const std::string& top_name,
                                                   std::optional<uid_t> link_owner, Compression c) {
  if (top_name.empty() || top_name == "." || top_name == ".." ||
      top_name.find_first_of(std::string_view("/\0", 2)) != std::string::npos)
    return fail(Error::invalid("top_name", "tar: bad top-level name " + quoted(top_name)));
  return open_impl(root_fd, rel_dir, top_name, link_owner, c);
}

Result<std::unique_ptr<TarStream>> TarStream::open_flat(int root_fd, const std::string& rel_dir,
                                                        std::optional<uid_t> link_owner,
                                                        Compression c) {
  return open_impl(root_fd, rel_dir, "", link_owner, c);
}

Result<void> TarStream::start_compression(Compression c) {
  archive* a = a_;
  if (c == Compression::kGzip) {
    if (lz::archive_write_add_filter_gzip(a) != ARCHIVE_OK)
      return fail(archive_error("tar: set up gzip"));
    // No mtime in the gzip header: the same tree gives the same bytes.
    lz::archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
    return {};
  }
  // zstd: libarchive hands out plain tar blocks, write_cb compresses them.
  zstd_ = ZSTD_createCCtx();
  if (zstd_ == nullptr) return fail(codes::kInternal, "tar: out of memory");
  if (ZSTD_isError(ZSTD_CCtx_setParameter(zstd_, ZSTD_c_compressionLevel, 3)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(zstd_, ZSTD_c_checksumFlag, 1)))
    return fail(codes::kInternal, "tar: zstd set up failed");
  return {};
}

Result<std::unique_ptr<TarStream>> TarStream::open_impl(int root_fd, const std::string& rel_dir,
                                                        const std::string& top_name,
                                                        std::optional<uid_t> link_owner,
                                                        Compression c) {
  auto fd = safe_path::open_beneath(root_fd, rel_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!fd) return fail(std::move(fd.error()).wrap("tar: open " + quoted(rel_dir)));
  UniqueFd dir(*fd);
  if (!runtimes::lazy::available(kLibArchive))
    return fail(codes::kUnavailable, "tar: libarchive cannot be loaded");

  std::unique_ptr<TarStream> s(new TarStream());
  s->link_owner_ = link_owner;
  s->io_buf_ = std::make_unique<char[]>(kChunk);
  s->entry_ = lz::archive_entry_new();
  s->a_ = lz::archive_write_new();
  if (s->a_ == nullptr || s->entry_ == nullptr) return fail(codes::kInternal, "tar: out of memory");
  archive* a = s->a_;
  if (lz::archive_write_set_format_pax_restricted(a) != ARCHIVE_OK)
    return fail(s->archive_error("tar: set up"));
  if (auto r = s->start_compression(c); !r) return fail(std::move(r.error()));
  lz::archive_write_set_bytes_per_block(a, kBlock);
  lz::archive_write_set_bytes_in_last_block(a, 1);  // no zero padding after the end
  if (lz::archive_write_open2(a, s.get(), nullptr, &TarStream::write_cb, nullptr, nullptr) !=
      ARCHIVE_OK)
    return fail(s->archive_error("tar: open"));

  struct stat st {};
  if (::fstat(dir.get(), &st) != 0)
    return fail(Error::from_errno("tar: stat " + quoted(rel_dir), errno));
  if (auto r = s->push_dir(std::move(dir), top_name); !r) return fail(std::move(r.error()));
  if (!top_name.empty())
    if (auto r = s->write_header(top_name, st, nullptr); !r) return fail(std::move(r.error()));
  return s;
}

TarStream::~TarStream() {
  if (a_ != nullptr) {
    if (state_ != State::kDone) {
      // An abandoned stream must not finish the current entry (padding the
      // rest of a big file could mean compressing gigabytes of zeros), so
      // the archive is marked failed first. It is still closed before it is
      // freed: free alone skips the filters' close, and with it deflateEnd,
      // and leaks the gzip state. Whatever close writes is dropped.
      discard_ = true;
      lz::archive_write_fail(a_);
      lz::archive_write_close(a_);
    }
    lz::archive_write_free(a_);
  }
  if (entry_ != nullptr) lz::archive_entry_free(entry_);
  if (zstd_ != nullptr) ZSTD_freeCCtx(zstd_);
}

ssize_t TarStream::write_cb(archive* /*a*/, void* self, const void* buf, size_t n) {
  auto* s = static_cast<TarStream*>(self);
  if (s->discard_) return static_cast<ssize_t>(n);
  try {
    if (s->zstd_ == nullptr) {
      s->out_.append(static_cast<const char*>(buf), n);
    } else {
      ZSTD_inBuffer in{buf, n, 0};
      if (!s->zstd_step(in, ZSTD_e_continue)) return -1;
    }
  } catch (const std::bad_alloc&) {
    s->out_failed_ = true;
    return -1;
  }
  return static_cast<ssize_t>(n);
}

bool TarStream::zstd_step(ZSTD_inBuffer& in, int end_op) {
  // Compresses all of `in` (or, with ZSTD_e_end, finishes the frame) into
  // out_, growing it by at most ZSTD_CStreamOutSize() per round.
  const size_t chunk = ZSTD_CStreamOutSize();
  for (;;) {
    const size_t at = out_.size();
    out_.resize(at + chunk);
    ZSTD_outBuffer out{out_.data() + at, chunk, 0};
    size_t left = ZSTD_compressStream2(zstd_, &out, &in, ZSTD_EndDirective(end_op));
    out_.resize(at + out.pos);
    if (ZSTD_isError(left)) {
      zstd_error_ = ZSTD_getErrorName(left);
      return false;
    }
    if (end_op == ZSTD_e_end ? left == 0 : in.pos == in.size) return true;
  }
}

Result<void> TarStream::finish_compression() {
  if (zstd_ == nullptr) return {};
  ZSTD_inBuffer in{nullptr, 0, 0};
  try {
    if (!zstd_step(in, ZSTD_e_end)) return fail(codes::kInternal, "tar: zstd: " + zstd_error_);
  } catch (const std::bad_alloc&) {
    return fail(codes::kInternal, "tar: out of memory");
  }
  return {};
}

Error TarStream::archive_error(std::string_view what) {
  if (out_failed_) return Error::make(codes::kInternal, std::string(what) + ": out of memory");
  if (!zstd_error_.empty())
    return Error::make(codes::kInternal, std::string(what) + ": zstd: " + zstd_error_);
  const char* msg = a_ != nullptr ? lz::archive_error_string(a_) : nullptr;
  Error e = Error::make(codes::kInternal, std::string(what) + ": libarchive failed");
  if (msg != nullptr) e.cause = msg;
  return e;
}

Result<void> TarStream::stop(Error e) {
  state_ = State::kFailed;
  error_ = e;
  file_.reset();
  stack_.clear();
  out_.clear();
  out_.shrink_to_fit();
  out_pos_ = 0;
  return fail(std::move(e));
}

Result<size_t> TarStream::read(char* buf, size_t cap) {
  if (state_ == State::kFailed) return fail(error_);
  if (cap == 0) return size_t{0};
  while (out_pos_ == out_.size()) {
    // Drained: reuse the buffer's memory for the next step.
    out_.clear();
    out_pos_ = 0;
    if (state_ == State::kDone) return size_t{0};
    if (auto r = step(); !r) return fail(std::move(r.error()));
  }
  const size_t n = std::min(cap, out_.size() - out_pos_);
  std::memcpy(buf, out_.data() + out_pos_, n);
  out_pos_ += n;
  return n;
}

Result<void> TarStream::step() {
  if (file_.valid()) return file_step();
  if (stack_.empty()) {
    if (lz::archive_write_close(a_) != ARCHIVE_OK) return stop(archive_error("tar: finish"));
    if (auto r = finish_compression(); !r) return stop(std::move(r.error()));
    state_ = State::kDone;
    return {};
  }
  Dir& top = stack_.back();
  if (top.next == top.names.size()) {
    stack_.pop_back();  // closes its fd
    return {};
  }
  // add_entry may push onto stack_, so it gets its own copy of the name.
  const std::string name = top.names[top.next++];
  return add_entry(top, name);
}

Result<void> TarStream::file_step() {
  const size_t want = static_cast<size_t>(std::min<uint64_t>(file_left_, kChunk));
  ssize_t n = 0;
  if (want > 0) {
    do {
      n = ::read(file_.get(), io_buf_.get(), want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return stop(Error::from_errno("tar: read " + quoted(file_path_), errno));
  }
  if (n > 0) {
    if (lz::archive_write_data(a_, io_buf_.get(), size_t(n)) != n)
      return stop(archive_error("tar: write " + quoted(file_path_)));
    file_left_ -= uint64_t(n);
  }
  if (n == 0 || file_left_ == 0) {
    // Done, or the file shrank: finish_entry pads the rest with zeros.
    file_.reset();
    if (lz::archive_write_finish_entry(a_) != ARCHIVE_OK)
      return stop(archive_error("tar: write " + quoted(file_path_)));
  }
  return {};
}

Result<void> TarStream::push_dir(UniqueFd fd, std::string path) {
  if (stack_.size() >= kMaxDepth)
    return stop(Error::make(codes::kTooLarge, "tar: " + quoted(path) + " is nested deeper than " +
                                                  std::to_string(kMaxDepth) + " directories"));
  auto names = list_dir(fd.get(), path);
  if (!names) return stop(std::move(names.error()).wrap("tar"));
  stack_.push_back(Dir{std::move(fd), std::move(path), std::move(*names), 0});
  return {};
}

Result<void> TarStream::write_header(const std::string& path, const struct stat& st,
                                     const std::string* symlink) {
  archive_entry* e = entry_;
  lz::archive_entry_clear(e);
  lz::archive_entry_set_pathname(e, path.c_str());
  lz::archive_entry_set_perm(e, st.st_mode & 07777);
  lz::archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
  lz::archive_entry_set_uid(e, st.st_uid);
  lz::archive_entry_set_gid(e, st.st_gid);
  if (S_ISREG(st.st_mode)) {
    lz::archive_entry_set_filetype(e, AE_IFREG);
    lz::archive_entry_set_size(e, st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    lz::archive_entry_set_filetype(e, AE_IFDIR);
    lz::archive_entry_set_size(e, 0);
  } else {
    lz::archive_entry_set_filetype(e, AE_IFLNK);
    lz::archive_entry_set_size(e, 0);
    lz::archive_entry_set_symlink(e, symlink->c_str());
  }
  // ARCHIVE_WARN is a name libarchive could not convert to UTF-8 for a pax
  // header; it is stored as raw bytes, which is what the tree holds.
  if (lz::archive_write_header(a_, e) < ARCHIVE_WARN)
    return stop(archive_error("tar: write " + quoted(path)));
  return {};
}

Result<void> TarStream::add_entry(Dir& parent, const std::string& name) {
  const std::string path = parent.path.empty() ? name : parent.path + "/" + name;
  const int pfd = parent.fd.get();
  struct stat st {};
  if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (vanished(errno)) return {};
    return stop(Error::from_errno("tar: stat " + quoted(path), errno));
  }

  if (S_ISLNK(st.st_mode)) {
    std::string target(size_t(st.st_size > 0 ? st.st_size : 0) + 1, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(pfd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        if (vanished(errno) || errno == EINVAL) return {};  // replaced by a non-link
        return stop(Error::from_errno("tar: readlink " + quoted(path), errno));
      }
      if (size_t(n) < target.size()) {
        target.resize(size_t(n));
        break;
      }
      target.resize(target.size() * 2);  // grew since the stat
    }
    return write_header(path, st, &target);
  }

  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return {};  // socket, fifo, device

  // Open, then describe what was opened: the header matches the content even
  // if the name was replaced after the fstatat. O_NONBLOCK keeps a FIFO
  // swapped in meanwhile from blocking the open; the fstat then skips it.
  const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                    (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NONBLOCK);
  UniqueFd fd;
  do {
    fd.reset(::openat(pfd, name.c_str(), flags));
  } while (!fd.valid() && errno == EINTR);
  if (!fd.valid()) {
    if (vanished(errno)) return {};
    return stop(Error::from_errno("tar: open " + quoted(path), errno));
  }
  struct stat fst {};
  if (::fstat(fd.get(), &fst) != 0)
    return stop(Error::from_errno("tar: stat " + quoted(path), errno));
  if ((fst.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) return {};
  if (link_owner_ && S_ISREG(fst.st_mode) && fst.st_nlink > 1 && fst.st_uid != *link_owner_)
    return {};

  if (S_ISDIR(fst.st_mode)) {
    if (auto r = write_header(path, fst, nullptr); !r) return r;
    return push_dir(std::move(fd), path);
  }
  if (auto r = write_header(path, fst, nullptr); !r) return r;
  if (fst.st_size == 0) return {};
  // Reads stay blocking for regular files whatever O_NONBLOCK says.
  file_ = std::move(fd);
  file_path_ = path;
  file_left_ = uint64_t(fst.st_size);
  return {};
}

}  // namespace zlh::agent::files
