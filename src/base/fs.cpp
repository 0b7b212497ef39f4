#include "base/fs.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace zlh::fs {
namespace {
// 12 hex digits from getrandom(2): unique temp names without pulling the
// crypto library into small binaries (zlh-shim) that only need files.
std::string temp_suffix() {
  unsigned char b[6] = {};
  ssize_t n = ::getrandom(b, sizeof b, 0);
  if (n != ssize_t(sizeof b)) {
    static std::atomic<unsigned long> counter{0};
    unsigned long v = (unsigned long)::getpid() << 20 ^ ++counter;
    std::memcpy(b, &v, sizeof b);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

Result<void> fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(Error::from_errno("open dir " + dir, errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return fail(Error::from_errno("fsync dir " + dir, err));
  return {};
}

Result<void> write_all(int fd, std::string_view data, std::string_view what) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Error::from_errno(what, errno));
    }
    p += n;
    left -= size_t(n);
  }
  return {};
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string dir = dir_of(path);
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  std::string tmp = dir + "/." + base + ".tmp-" + temp_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return fail(Error::from_errno("create " + tmp, errno));
  auto abort = [&](std::string_view what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(Error::from_errno(std::string(what) + " " + tmp, err));
  };
  // umask may have narrowed the mode; the caller's mode is the contract.
  if (::fchmod(fd, mode) != 0) return abort("chmod", errno);
  if (auto w = write_all(fd, data, "write " + tmp); !w) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return w;
  }
  if (::fsync(fd) != 0) return abort("fsync", errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(Error::from_errno("close " + tmp, err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(Error::from_errno("rename " + tmp, err));
  }
  return fsync_dir(dir);
}

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", unsigned(m & 07777));
  return buf;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<std::string> read_fd(int fd, size_t max_bytes, const std::string& name) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Error::from_errno("read " + name, errno));
    }
    if (n == 0) return out;
    out.append(buf, size_t(n));
    if (out.size() > max_bytes)
      return fail(codes::kTooLarge, name + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return fail(codes::kNotFound, path + ": no such file");
    return fail(Error::from_errno("open " + path, err));
  }
  auto out = read_fd(fd, max_bytes, path);
  ::close(fd);
  return out;
}

Result<void> make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t i = 0;
  if (path[0] == '/') {
    cur = "/";
    i = 1;
  }
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (!part.empty()) {
      if (!cur.empty() && cur.back() != '/') cur += '/';
      cur += part;
      if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
        return fail(Error::from_errno("mkdir " + cur, errno));
    }
    i = j + 1;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(codes::kIo, "mkdir " + path + ": not a directory");
  return {};
}

std::string join(std::string_view root, std::string_view rel) {
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  std::string out(root);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (rel.empty()) return out;
  if (out != "/") out += '/';
  out += rel;
  return out;
}

}  // namespace zlh::fs
