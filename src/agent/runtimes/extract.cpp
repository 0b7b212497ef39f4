#include "agent/runtimes/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <vector>

#include "agent/runtimes/lazy_lib.hpp"
#include "base/safe_path.hpp"

namespace zlh::agent::runtimes {

namespace lz {
ZLH_LAZY("libarchive.so.13", archive_entry_filetype)
ZLH_LAZY("libarchive.so.13", archive_entry_hardlink)
ZLH_LAZY("libarchive.so.13", archive_entry_mtime)
ZLH_LAZY("libarchive.so.13", archive_entry_mtime_is_set)
ZLH_LAZY("libarchive.so.13", archive_entry_mtime_nsec)
ZLH_LAZY("libarchive.so.13", archive_entry_pathname)
ZLH_LAZY("libarchive.so.13", archive_entry_perm)
ZLH_LAZY("libarchive.so.13", archive_entry_size)
ZLH_LAZY("libarchive.so.13", archive_entry_size_is_set)
ZLH_LAZY("libarchive.so.13", archive_entry_sparse_count)
ZLH_LAZY("libarchive.so.13", archive_entry_symlink)
ZLH_LAZY("libarchive.so.13", archive_error_string)
ZLH_LAZY("libarchive.so.13", archive_read_data_block)
ZLH_LAZY("libarchive.so.13", archive_read_free)
ZLH_LAZY("libarchive.so.13", archive_read_new)
ZLH_LAZY("libarchive.so.13", archive_read_next_header)
ZLH_LAZY("libarchive.so.13", archive_read_open_fd)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_bzip2)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_compress)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_gzip)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_lz4)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_lzma)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_xz)
ZLH_LAZY("libarchive.so.13", archive_read_support_filter_zstd)
ZLH_LAZY("libarchive.so.13", archive_read_support_format_7zip)
ZLH_LAZY("libarchive.so.13", archive_read_support_format_cpio)
ZLH_LAZY("libarchive.so.13", archive_read_support_format_empty)
ZLH_LAZY("libarchive.so.13", archive_read_support_format_tar)
ZLH_LAZY("libarchive.so.13", archive_read_support_format_zip)
}  // namespace lz

namespace {

using safe_path::UniqueFd;

constexpr uint64_t kProgressStep = 4ull << 20;
constexpr int kMaxSymlinkFollows = 40;  // the kernel's MAXSYMLINKS

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Error bad_entry(std::string_view entry, std::string_view what) {
  return Error::make(codes::kBadArchive, "entry " + quoted(entry) + ": " + std::string(what));
}

// A safe_path refusal during extraction is the archive's fault; an I/O
// failure is the disk's.
Error entry_error(std::string_view entry, Error e) {
  if (e.is(codes::kBadPath) || e.is(codes::kNotFound)) {
    Error out = bad_entry(entry, e.message);
    out.cause = std::move(e.cause);
    return out;
  }
  return std::move(e).wrap("extract " + quoted(entry));
}

Error errno_error(std::string_view what, std::string_view entry, int err) {
  return Error::from_errno(std::string(what) + " " + quoted(entry), err);
}

std::vector<std::string_view> split_nonempty(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string_view>& parts, size_t from = 0) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) {
    if (!out.empty()) out += '/';
    out += parts[i];
  }
  return out;
}

// The path an archive name maps to below dest_dir, or "" when the entry is
// to be skipped (stripped away, or "." itself). The error message is the
// bare reason; callers name the entry.
Result<std::string> entry_path(std::string_view raw, int strip) {
  if (raw.empty()) return fail(codes::kBadArchive, "empty name");
  if (raw.front() == '/') return fail(codes::kBadArchive, "absolute path");
  auto parts = split_nonempty(raw);
  for (auto p : parts)
    if (p == "..") return fail(codes::kBadArchive, "path contains \"..\"");
  if (strip < 0 || size_t(strip) >= parts.size()) return std::string();
  auto norm = safe_path::normalize_relative(join(parts, size_t(strip)), /*allow_empty=*/true);
  if (!norm) return fail(codes::kBadArchive, norm.error().message);
  return *norm;
}

// Lexical check of a symlink target against the link's own directory.
Result<void> check_symlink_target(std::string_view rel, std::string_view target,
                                  std::string_view entry) {
  if (target.empty()) return fail(bad_entry(entry, "empty symlink target"));
  if (target.front() == '/')
    return fail(bad_entry(entry, "absolute symlink target " + quoted(target)));
  auto depth = split_nonempty(rel).size() - 1;  // components of the link's directory
  for (auto p : split_nonempty(target)) {
    if (p == ".") continue;
    if (p == "..") {
      if (depth == 0)
        return fail(bad_entry(entry, "symlink target " + quoted(target) + " leads outside"));
      --depth;
    } else {
      ++depth;
    }
  }
  return {};
}

// Removes a file, symlink or empty directory so that an entry of the same
// name can be created. Returns 0 or errno.
int remove_existing(int dir_fd, const std::string& name) {
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0) return 0;
  if (errno != EISDIR) return errno;
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) == 0) return 0;
  return errno;
}

Error replace_error(std::string_view entry, int err) {
  if (err == ENOTEMPTY || err == EEXIST)
    return bad_entry(entry, "would replace a non-empty directory");
  return errno_error("replace", entry, err);
}

struct DirItem {
  std::string name;
  bool is_dir;
  bool is_link;
};

// Lists a directory without following anything. Takes ownership of fd.
Result<std::vector<DirItem>> list_dir(int fd, std::string_view rel) {
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return fail(Error::from_errno("opendir " + quoted(rel), err));
  }
  std::vector<DirItem> out;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d);
    if (e == nullptr) break;
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
    }
    out.push_back({std::string(name), type == DT_DIR, type == DT_LNK});
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return fail(Error::from_errno("readdir " + quoted(rel), err));
  return out;
}

std::string child_of(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : rel + "/" + name;
}

// Resolves the symlink at `rel` the way the kernel would: symlinks met on the
// way are followed (up to kMaxSymlinkFollows), missing components are taken
// lexically so that a dangling link is judged by where it would point once
// the missing part exists. `stack` only ever holds components that are not
// symlinks, so ".." can be applied lexically and fstatat never follows one.
Result<void> check_resolves_inside(int root_fd, const std::string& rel) {
  std::vector<std::string> stack;
  std::deque<std::string> todo;
  for (auto p : split_nonempty(rel)) todo.emplace_back(p);
  int follows = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (stack.empty()) return fail(bad_entry(rel, "symlink leads outside the destination"));
      stack.pop_back();
      continue;
    }
    std::string path;
    for (const auto& s : stack) path += s + "/";
    path += c;
    struct stat st {};
    if (::fstatat(root_fd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
      stack.push_back(std::move(c));
      continue;
    }
    if (++follows > kMaxSymlinkFollows) return fail(bad_entry(rel, "symlink loop"));
    std::string target(size_t(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(root_fd, path.c_str(), target.data(), target.size());
    if (n < 0) return fail(errno_error("readlink", path, errno));
    target.resize(size_t(n));
    if (target.empty() || target.front() == '/')
      return fail(bad_entry(rel, "symlink leads outside the destination"));
    auto parts = split_nonempty(target);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.emplace_front(*it);
  }
  return {};
}

Result<void> verify_symlinks(int root_fd) {
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    std::string rel = std::move(pending.back());
    pending.pop_back();
    auto fd = safe_path::open_beneath(root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) return fail(std::move(fd.error()).wrap("verify"));
    auto items = list_dir(*fd, rel);
    if (!items) return fail(std::move(items.error()).wrap("verify"));
    for (auto& it : *items) {
      std::string child = child_of(rel, it.name);
      if (it.is_dir) {
        pending.push_back(std::move(child));
      } else if (it.is_link) {
        if (auto r = check_resolves_inside(root_fd, child); !r) return r;
      }
    }
  }
  return {};
}

std::string_view refused_kind(mode_t type) {
  switch (type) {
    case AE_IFCHR:
    case AE_IFBLK:
      return "device files are not allowed";
    case AE_IFIFO:
      return "FIFOs are not allowed";
    case AE_IFSOCK:
      return "sockets are not allowed";
    default:
      return "unsupported entry type";
  }
}

class Extractor {
 public:
  Extractor(archive* a, int root_fd, const ExtractOptions& opts)
      : a_(a), root_(root_fd), opts_(opts) {}

  Result<void> run() {
    uint64_t entries = 0;
    for (;;) {
      if (cancelled()) return fail(codes::kInternal, "cancelled");
      archive_entry* e = nullptr;
      int r = lz::archive_read_next_header(a_, &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return fail(archive_failure("read header"));
      if (++entries > opts_.max_entries)
        return fail(codes::kBadArchive,
                    "archive has more than " + std::to_string(opts_.max_entries) + " entries");
      if (auto ok = one_entry(e); !ok) return ok;
    }
    if (opts_.progress) opts_.progress(total_);
    if (auto r = verify_symlinks(root_); !r) return r;
    if (opts_.stats != nullptr) *opts_.stats = ExtractStats{entries, total_};
    return {};
  }

 private:
  bool cancelled() const { return opts_.cancel != nullptr && opts_.cancel->load(); }

  Error archive_failure(std::string_view what) const {
    const char* msg = lz::archive_error_string(a_);
    return Error::make(codes::kBadArchive,
                       std::string(what) + ": " + (msg != nullptr ? msg : "unknown error"));
  }

  Result<void> one_entry(archive_entry* e) {
    const char* raw_c = lz::archive_entry_pathname(e);
    if (raw_c == nullptr) return fail(codes::kBadArchive, "entry without a usable name");
    std::string raw = raw_c;
    auto rel = entry_path(raw, opts_.strip_components);
    if (!rel) return fail(bad_entry(raw, rel.error().message));

    // Classify before skipping, so a refused kind is refused even when its
    // name is stripped away.
    const char* hardlink = lz::archive_entry_hardlink(e);
    mode_t type = lz::archive_entry_filetype(e);
    if (hardlink == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
      return fail(bad_entry(raw, refused_kind(type)));
    if (rel->empty()) return {};  // stripped away or "."; its data is skipped by libarchive

    mode_t perm = lz::archive_entry_perm(e) & 0777;  // drops setuid, setgid, sticky
    if (hardlink != nullptr) return make_hardlink(raw, *rel, hardlink);
    if (type == AE_IFDIR) return make_dir(raw, *rel, perm);
    if (type == AE_IFLNK) return make_symlink(raw, *rel, lz::archive_entry_symlink(e));
    return make_file(e, raw, *rel, perm);
  }

  Result<std::pair<UniqueFd, std::string>> parent(std::string_view raw, const std::string& rel) {
    auto p = safe_path::open_parent_beneath(root_, rel, /*create_dirs=*/true, 0755);
    if (!p) return fail(entry_error(raw, std::move(p.error())));
    return std::pair<UniqueFd, std::string>{UniqueFd(p->first), std::move(p->second)};
  }

  Result<void> make_dir(std::string_view raw, const std::string& rel, mode_t perm) {
    auto p = parent(raw, rel);
    if (!p) return fail(std::move(p.error()));
    auto& [dir, name] = *p;
    if (::mkdirat(dir.get(), name.c_str(), 0700) != 0) {
      if (errno != EEXIST) return fail(errno_error("mkdir", raw, errno));
      struct stat st {};
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return fail(errno_error("stat", raw, errno));
      if (!S_ISDIR(st.st_mode)) {
        if (int err = remove_existing(dir.get(), name); err != 0)
          return fail(replace_error(raw, err));
        if (::mkdirat(dir.get(), name.c_str(), 0700) != 0)
          return fail(errno_error("mkdir", raw, errno));
      }
    }
    UniqueFd d(::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.valid()) return fail(errno_error("open", raw, errno));
    if (::fchmod(d.get(), perm | 0700) != 0) return fail(errno_error("chmod", raw, errno));
    return {};
  }

  Result<void> make_symlink(std::string_view raw, const std::string& rel, const char* target) {
    if (target == nullptr) return fail(bad_entry(raw, "symlink without a target"));
    if (auto ok = check_symlink_target(rel, target, raw); !ok) return ok;
    auto p = parent(raw, rel);
    if (!p) return fail(std::move(p.error()));
    auto& [dir, name] = *p;
    if (::symlinkat(target, dir.get(), name.c_str()) != 0) {
      if (errno != EEXIST) return fail(errno_error("symlink", raw, errno));
      if (int err = remove_existing(dir.get(), name); err != 0)
        return fail(replace_error(raw, err));
      if (::symlinkat(target, dir.get(), name.c_str()) != 0)
        return fail(errno_error("symlink", raw, errno));
    }
    return {};
  }

  Result<void> make_hardlink(std::string_view raw, const std::string& rel, std::string_view link) {
    auto target = entry_path(link, opts_.strip_components);
    if (!target)
      return fail(
          bad_entry(raw, "hard link target " + quoted(link) + ": " + target.error().message));
    if (target->empty())
      return fail(bad_entry(raw, "hard link target " + quoted(link) + " is stripped away"));
    auto tp = safe_path::open_parent_beneath(root_, *target, /*create_dirs=*/false);
    if (!tp) return fail(bad_entry(raw, "hard link target: " + tp.error().message));
    UniqueFd tdir(tp->first);
    struct stat tst {};
    if (::fstatat(tdir.get(), tp->second.c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(bad_entry(raw, "hard link target " + quoted(link) + " does not exist"));
    if (!S_ISREG(tst.st_mode))
      return fail(bad_entry(raw, "hard link target " + quoted(link) + " is not a regular file"));

    auto p = parent(raw, rel);
    if (!p) return fail(std::move(p.error()));
    auto& [dir, name] = *p;
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_dev == tst.st_dev && st.st_ino == tst.st_ino)
      return {};  // already this file (a link to itself, or a repeated entry)
    // flags = 0: linkat never follows a symlink in the target's last component.
    if (::linkat(tdir.get(), tp->second.c_str(), dir.get(), name.c_str(), 0) != 0) {
      if (errno != EEXIST) return fail(errno_error("link", raw, errno));
      if (int err = remove_existing(dir.get(), name); err != 0)
        return fail(replace_error(raw, err));
      if (::linkat(tdir.get(), tp->second.c_str(), dir.get(), name.c_str(), 0) != 0)
        return fail(errno_error("link", raw, errno));
    }
    return {};
  }

  Result<void> make_file(archive_entry* e, std::string_view raw, const std::string& rel,
                         mode_t perm) {
    // total_ never exceeds the limit here: the first byte over it fails.
    if (lz::archive_entry_size_is_set(e) && lz::archive_entry_size(e) > 0 &&
        uint64_t(lz::archive_entry_size(e)) > opts_.max_total_bytes - total_)
      return fail(too_large());
    auto p = parent(raw, rel);
    if (!p) return fail(std::move(p.error()));
    auto& [dir, name] = *p;
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd fd(::openat(dir.get(), name.c_str(), kFlags, 0600));
    if (!fd.valid() && errno == EEXIST) {
      if (int err = remove_existing(dir.get(), name); err != 0)
        return fail(replace_error(raw, err));
      fd.reset(::openat(dir.get(), name.c_str(), kFlags, 0600));
    }
    if (!fd.valid()) return fail(errno_error("create", raw, errno));

    for (;;) {
      if (cancelled()) return fail(codes::kInternal, "cancelled");
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = lz::archive_read_data_block(a_, &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return fail(archive_failure("read " + quoted(raw)));
      total_ += size;
      if (total_ > opts_.max_total_bytes) return fail(too_large());
      if (auto ok = write_at(fd.get(), static_cast<const char*>(buf), size, offset, raw); !ok)
        return ok;
      if (opts_.progress && total_ >= next_progress_) {
        opts_.progress(total_);
        next_progress_ = total_ + kProgressStep;
      }
    }
    // A sparse file may end in a hole that no data block covers.
    if (lz::archive_entry_sparse_count(e) > 0 && lz::archive_entry_size_is_set(e) &&
        ::ftruncate(fd.get(), lz::archive_entry_size(e)) != 0)
      return fail(errno_error("truncate", raw, errno));
    if (::fchmod(fd.get(), perm) != 0) return fail(errno_error("chmod", raw, errno));
    if (lz::archive_entry_mtime_is_set(e)) {
      timespec times[2] = {{0, UTIME_OMIT},
                           {lz::archive_entry_mtime(e), lz::archive_entry_mtime_nsec(e)}};
      ::futimens(fd.get(), times);  // best effort: mtime is informative only
    }
    if (::close(fd.release()) != 0) return fail(errno_error("close", raw, errno));
    return {};
  }

  Result<void> write_at(int fd, const char* p, size_t n, la_int64_t offset, std::string_view raw) {
    while (n > 0) {
      ssize_t w = ::pwrite(fd, p, n, offset);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(errno_error("write", raw, errno));
      }
      p += w;
      n -= size_t(w);
      offset += w;
    }
    return {};
  }

  Error too_large() const {
    return Error::make(codes::kBadArchive, "archive expands to more than " +
                                               std::to_string(opts_.max_total_bytes) + " bytes");
  }

  archive* a_;
  int root_;
  const ExtractOptions& opts_;
  uint64_t total_ = 0;
  uint64_t next_progress_ = kProgressStep;
};

struct ArchiveFree {
  void operator()(archive* a) const { lz::archive_read_free(a); }
};

}  // namespace

namespace {
// Built-in decoders only (see the header for why not filter_all/format_all).
void support_builtin_formats(archive* a) {
  using Enable = int (*)(archive*);
  for (Enable enable : {
           &lz::archive_read_support_filter_gzip<archive*>,
           &lz::archive_read_support_filter_bzip2<archive*>,
           &lz::archive_read_support_filter_xz<archive*>,
           &lz::archive_read_support_filter_lzma<archive*>,
           &lz::archive_read_support_filter_zstd<archive*>,
           &lz::archive_read_support_filter_lz4<archive*>,
           &lz::archive_read_support_filter_compress<archive*>,
           &lz::archive_read_support_format_tar<archive*>,
           &lz::archive_read_support_format_zip<archive*>,
           &lz::archive_read_support_format_7zip<archive*>,
           &lz::archive_read_support_format_cpio<archive*>,
           &lz::archive_read_support_format_empty<archive*>,
       })
    enable(a);
}
}  // namespace

Result<void> extract_archive(const std::string& archive_path, const std::string& dest_dir,
                             const ExtractOptions& opts) {
  UniqueFd in(::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    if (errno == ENOENT)
      return fail(codes::kNotFound, "extract: " + archive_path + ": no such file");
    return fail(Error::from_errno("extract: open " + archive_path, errno));
  }
  if (auto r = extract_archive_fd(in.get(), dest_dir, opts); !r)
    return fail(std::move(r.error()).wrap("extract " + archive_path));
  return {};
}

Result<void> extract_archive_fd(int in_fd, const std::string& dest_dir,
                                const ExtractOptions& opts) {
  UniqueFd root(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    if (errno == ENOENT)
      return fail(codes::kNotFound, "extract: " + dest_dir + ": no such directory");
    return fail(Error::from_errno("extract: open " + dest_dir, errno));
  }
  std::unique_ptr<archive, ArchiveFree> a(lz::archive_read_new());
  if (!a) return fail(codes::kInternal, "extract: out of memory");
  support_builtin_formats(a.get());
  if (lz::archive_read_open_fd(a.get(), in_fd, 64 * 1024) < ARCHIVE_WARN) {
    const char* msg = lz::archive_error_string(a.get());
    return fail(codes::kBadArchive,
                std::string("extract: ") + (msg != nullptr ? msg : "cannot open"));
  }
  Extractor x(a.get(), root.get(), opts);
  return x.run();
}

}  // namespace zlh::agent::runtimes
