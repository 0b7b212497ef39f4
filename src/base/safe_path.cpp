#include "base/safe_path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace zlh::safe_path {
namespace {

constexpr unsigned long long kResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
// EAGAIN means a rename or mount raced with a ".." lookup; the kernel asks us
// to retry. Bounded so a hostile writer cannot keep us spinning forever.
constexpr int kMaxAgain = 128;

// fd, or -errno.
int raw_openat2(int dirfd, const char* path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
  // The kernel rejects a non-zero mode without O_CREAT/O_TMPFILE (EINVAL).
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) how.mode = mode;
  how.resolve = kResolve;
  int again = 0;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && ++again < kMaxAgain) continue;
    return -err;
  }
}

Error path_error(std::string_view what, std::string_view rel, int err) {
  std::string p = rel.empty() ? std::string(".") : std::string(rel);
  switch (err) {
    case EXDEV:
      return Error::make(codes::kBadPath, p + ": path leads outside the root");
    case ELOOP:
      return Error::make(codes::kBadPath, p + ": symlink not allowed here or too many levels");
    case ENOENT:
      return Error::make(codes::kNotFound, p + ": no such file or directory");
    case ENOTDIR:
      return Error::make(codes::kNotFound, p + ": not a directory");
    default:
      return Error::from_errno(std::string(what) + " " + p, err);
  }
}

std::vector<std::string_view> split(std::string_view norm) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < norm.size()) {
    size_t j = norm.find('/', i);
    if (j == std::string_view::npos) j = norm.size();
    out.push_back(norm.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Opens the directory made of the first `n` components of `norm` (which is
// normalized), each prefix resolved from root_fd so that every step is
// checked against the root, not against the previous directory.
Result<int> open_dirs(int root_fd, std::string_view norm, size_t n, bool create, mode_t mode) {
  auto parts = split(norm);
  int fd = raw_openat2(root_fd, ".", O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fail(path_error("open", "", -fd));
  UniqueFd cur(fd);
  size_t prefix_len = 0;
  for (size_t i = 0; i < n && i < parts.size(); ++i) {
    prefix_len = (i == 0 ? 0 : prefix_len + 1) + parts[i].size();
    std::string prefix(norm.substr(0, prefix_len));
    fd = raw_openat2(root_fd, prefix.c_str(), O_RDONLY | O_DIRECTORY, 0);
    if (fd == -ENOENT && create) {
      // mkdirat never follows a symlink in its last component, and cur is a
      // directory already resolved beneath the root.
      std::string name(parts[i]);
      if (::mkdirat(cur.get(), name.c_str(), mode) != 0 && errno != EEXIST)
        return fail(path_error("mkdir", prefix, errno));
      fd = raw_openat2(root_fd, prefix.c_str(), O_RDONLY | O_DIRECTORY, 0);
    }
    if (fd < 0) return fail(path_error("open", prefix, -fd));
    cur.reset(fd);
  }
  return cur.release();
}

}  // namespace

Result<std::string> normalize_relative(std::string_view rel, bool allow_empty) {
  auto bad = [&](std::string_view why) {
    return fail(codes::kBadPath, "path " + std::string(why));
  };
  if (rel.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (rel.find('\\') != std::string_view::npos) return bad("contains a backslash");
  if (!rel.empty() && rel.front() == '/') return bad("is absolute");
  std::string out;
  out.reserve(rel.size());
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string_view::npos) j = rel.size();
    std::string_view seg = rel.substr(i, j - i);
    if (seg == "..") return bad("contains a \"..\" segment");
    if (!seg.empty() && seg != ".") {
      if (!out.empty()) out += '/';
      out += seg;
    }
    i = j + 1;
  }
  if (out.empty() && !allow_empty) return bad("is empty");
  return out;
}

Result<int> open_beneath(int root_fd, std::string_view rel, int flags, mode_t mode) {
  auto norm = normalize_relative(rel, /*allow_empty=*/true);
  if (!norm) return fail(std::move(norm.error()));
  const char* p = norm->empty() ? "." : norm->c_str();
  int fd = raw_openat2(root_fd, p, flags, mode);
  if (fd < 0) return fail(path_error("open", *norm, -fd));
  return fd;
}

Result<std::pair<int, std::string>> open_parent_beneath(int root_fd, std::string_view rel,
                                                        bool create_dirs, mode_t dir_mode) {
  auto norm = normalize_relative(rel);
  if (!norm) return fail(std::move(norm.error()));
  size_t slash = norm->rfind('/');
  std::string last = slash == std::string::npos ? *norm : norm->substr(slash + 1);
  size_t depth = slash == std::string::npos ? 0 : split(*norm).size() - 1;
  auto dir = open_dirs(root_fd, *norm, depth, create_dirs, dir_mode);
  if (!dir) return fail(std::move(dir.error()));
  return std::pair<int, std::string>{*dir, std::move(last)};
}

Result<void> mkdirs_beneath(int root_fd, std::string_view rel, mode_t mode) {
  auto norm = normalize_relative(rel, /*allow_empty=*/true);
  if (!norm) return fail(std::move(norm.error()));
  if (norm->empty()) return {};
  auto dir = open_dirs(root_fd, *norm, split(*norm).size(), /*create=*/true, mode);
  if (!dir) return fail(std::move(dir.error()));
  ::close(*dir);
  return {};
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

UniqueFd::~UniqueFd() { reset(); }

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace zlh::safe_path
