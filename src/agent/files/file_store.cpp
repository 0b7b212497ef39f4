#include "agent/files/file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/files/as_user.hpp"
#include "base/fs.hpp"
#include "http/http.hpp"

namespace zlh::agent::files {

using safe_path::UniqueFd;

namespace {

constexpr int kMaxDepth = 512;

// Removes `name` in `dir`: a file or symlink is unlinked, a directory is
// emptied depth-first through fds (never by path, never following links).
Result<void> remove_at(int dir, const std::string& name, const std::string& shown, int depth) {
  if (depth > kMaxDepth) return fail(codes::kIo, shown + ": directory tree too deep");
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};  // gone meanwhile: the goal is reached
    return fail(Error::from_errno("stat " + shown, errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT)
      return fail(Error::from_errno("delete " + shown, errno));
    return {};
  }
  int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail(Error::from_errno("open " + shown, errno));
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return fail(Error::from_errno("open " + shown, errno));
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  Result<void> result;
  for (const auto& n : names) {
    result = remove_at(::dirfd(d), n, shown + "/" + n, depth + 1);
    if (!result) break;
  }
  ::closedir(d);
  if (!result) return result;
  if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return fail(Error::from_errno("delete " + shown, errno));
  return {};
}

}  // namespace

Result<std::string> user_path(std::string_view rel, bool allow_empty) {
  auto norm = safe_path::normalize_relative(rel, allow_empty);
  if (!norm) return fail(norm.error());
  std::string cur = *norm;
  for (int round = 0; round < 3 && cur.find('%') != std::string::npos; ++round) {
    auto dec = http::url_decode(cur, false);
    if (!dec) {
      // A literal '%' in a name ("100%.txt") is fine; an encoded NUL is not.
      if (cur.find("%00") != std::string::npos)
        return fail(codes::kBadPath, std::string(rel) + ": encoded NUL");
      break;
    }
    if (auto again = safe_path::normalize_relative(*dec, allow_empty); !again)
      return fail(codes::kBadPath, std::string(rel) + ": encoded traversal");
    cur = std::move(*dec);
  }
  return *norm;
}

namespace {
// user_path(rel) once the identity switch `as` is known to have taken effect
// (its E_INTERNAL first).
Result<std::string> path_as(const AsUser& as, std::string_view rel, bool allow_empty) {
  if (auto c = as.check(); !c) return fail(c.error());
  return user_path(rel, allow_empty);
}
}  // namespace

Result<void> check_file_name(std::string_view name) {
  if (auto u = user_path(name, false); !u) return fail(u.error());
  if (name.empty() || name == "." || name == ".." || name.size() > 255 ||
      name.find_first_of(std::string_view("/\\\0", 3)) != std::string_view::npos)
    return fail(codes::kBadPath, "file name \"" + std::string(name.substr(0, 64)) +
                                     "\": must be a plain name (no '/', '\\\\', '..' or NUL)");
  return {};
}

Result<FileStore> FileStore::open(const std::string& root_dir, std::optional<Owner> owner) {
  // H2: the root is opened again for every store (never cached) and its last
  // component is never followed: the user owns the directory that holds the
  // workspace and could swap it for a symlink to "/". Its parent belongs to
  // root (/home, /opt/zlh) or is the user's home, which the user cannot move.
  AsUser as(owner);
  if (auto c = as.check(); !c) return fail(c.error());
  std::string dir = root_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const auto slash = dir.rfind('/');
  const std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  const std::string name = slash == std::string::npos ? dir : dir.substr(slash + 1);
  int pfd = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    if (errno == ENOENT) return fail(codes::kConflict, "the workload directory does not exist yet");
    return fail(Error::from_errno("open workload directory", errno));
  }
  UniqueFd parent_fd(pfd);
  int fd = name.empty() || name == "." || name == ".."
               ? ::dup(pfd)
               : ::openat(pfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return fail(codes::kConflict, "the workload directory does not exist yet");
    return fail(Error::from_errno("open workload directory", errno));
  }
  UniqueFd root(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(Error::from_errno("stat workload directory", errno));
  if (!S_ISDIR(st.st_mode))
    return fail(codes::kBadPath,
                "the workload directory has been replaced by something that is not a "
                "directory (a symlink?): file operations refused until it is a directory again");
  return FileStore(std::move(root), owner);
}

Result<nlohmann::json> FileStore::list(std::string_view rel) const {
  AsUser as(owner_);
  auto clean = path_as(as, rel, true);
  if (!clean) return fail(clean.error());
  auto fd = safe_path::open_beneath(root_.get(), *clean, O_RDONLY | O_DIRECTORY);
  if (!fd) return fail(fd.error());
  DIR* d = ::fdopendir(*fd);
  if (!d) {
    int err = errno;
    ::close(*fd);
    return fail(Error::from_errno("list", err));
  }
  nlohmann::json out = nlohmann::json::array();
  struct Item {
    bool dir;
    std::string name;
    nlohmann::json j;
  };
  std::vector<Item> items;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced away
    std::string type = S_ISREG(st.st_mode)   ? "file"
                       : S_ISDIR(st.st_mode) ? "dir"
                       : S_ISLNK(st.st_mode) ? "symlink"
                                             : "";
    if (type.empty()) continue;
    nlohmann::json j = {{"name", e->d_name},
                        {"type", type},
                        {"size", uint64_t(st.st_size)},
                        {"mtime", int64_t(st.st_mtim.tv_sec)},
                        {"mode", fs::octal_mode(st.st_mode)}};
    items.push_back({type == "dir", e->d_name, std::move(j)});
  }
  ::closedir(d);
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.dir != b.dir) return a.dir;
    return a.name < b.name;
  });
  for (auto& i : items) out.push_back(std::move(i.j));
  return out;
}

Result<OpenedFile> FileStore::open_read(std::string_view rel) const {
  AsUser as(owner_);
  auto clean = path_as(as, rel, true);
  if (!clean) return fail(clean.error());
  // O_NONBLOCK (M3): opening a FIFO for reading would otherwise wait for a
  // writer on the agent's io thread, stalling every other request.
  auto fd = safe_path::open_beneath(root_.get(), *clean, O_RDONLY | O_NONBLOCK);
  if (!fd) return fail(fd.error());
  OpenedFile f;
  f.fd.reset(*fd);
  struct stat st {};
  if (::fstat(f.fd.get(), &st) != 0) return fail(Error::from_errno("stat", errno));
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    return fail(codes::kInvalid, "not a regular file or directory");
  if (int fl = ::fcntl(f.fd.get(), F_GETFL); fl >= 0)
    (void)::fcntl(f.fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  // Defense in depth for a root agent: a hard link the dev user made to a
  // file of someone else (possible where fs.protected_hardlinks=0) is not
  // read on the user's behalf.
  if (owner_ && S_ISREG(st.st_mode) && st.st_nlink > 1 && st.st_uid != owner_->uid)
    return fail(codes::kForbidden, "hard link to a file the dev user does not own");
  f.is_dir = S_ISDIR(st.st_mode);
  f.size = uint64_t(st.st_size);
  f.mtime = st.st_mtim.tv_sec;
  auto slash = clean->rfind('/');
  f.name = slash == std::string::npos ? *clean : clean->substr(slash + 1);
  return f;
}

Result<void> FileStore::mkdir(std::string_view rel) const {
  AsUser as(owner_);
  auto norm = path_as(as, rel, false);
  if (!norm) return fail(norm.error());
  auto r = make_dirs_owned(root_.get(), *norm, owner_);
  if (!r && r.error().code == codes::kNotFound)
    return fail(codes::kConflict, *norm + ": a file is in the way");
  return r;
}

Result<void> FileStore::rename(std::string_view from, std::string_view to) const {
  AsUser as(owner_);
  auto nfrom = path_as(as, from, false);
  if (!nfrom) return fail(nfrom.error());
  auto nto = user_path(to, false);
  if (!nto) return fail(nto.error());
  if (*nto == *nfrom || nto->starts_with(*nfrom + "/"))
    return fail(codes::kInvalid, "cannot move " + *nfrom + " into itself");
  auto src = safe_path::open_parent_beneath(root_.get(), *nfrom, false);
  if (!src) return fail(src.error());
  UniqueFd src_dir(src->first);
  struct stat st {};
  if (::fstatat(src_dir.get(), src->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return fail(codes::kNotFound, *nfrom + ": no such file or directory");
  auto slash = nto->rfind('/');
  if (slash != std::string::npos)
    if (auto r = make_dirs_owned(root_.get(), nto->substr(0, slash), owner_); !r) return r;
  auto dst = safe_path::open_parent_beneath(root_.get(), *nto, false);
  if (!dst) return fail(dst.error());
  UniqueFd dst_dir(dst->first);
  if (::renameat2(src_dir.get(), src->second.c_str(), dst_dir.get(), dst->second.c_str(),
                  RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EEXIST) return fail(codes::kConflict, *nto + ": already exists");
    if (err == ENOENT) return fail(codes::kNotFound, *nfrom + ": no such file or directory");
    return fail(Error::from_errno("rename " + *nfrom, err));
  }
  ::fsync(dst_dir.get());
  if (slash != std::string::npos || nfrom->find('/') != std::string::npos) ::fsync(src_dir.get());
  return {};
}

Result<void> FileStore::remove(const std::vector<std::string>& rels) const {
  AsUser as(owner_);
  if (auto c = as.check(); !c) return fail(c.error());
  if (rels.empty()) return fail(Error::invalid("paths", "field \"paths\": must not be empty"));
  struct Target {
    UniqueFd dir;
    std::string name, shown;
  };
  std::vector<Target> targets;
  for (const auto& rel : rels) {
    auto norm = user_path(rel, false);
    if (!norm) return fail(norm.error());
    auto p = safe_path::open_parent_beneath(root_.get(), *norm, false);
    if (!p) return fail(p.error());
    Target t{UniqueFd(p->first), p->second, *norm};
    struct stat st {};
    if (::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(codes::kNotFound, *norm + ": no such file or directory");
    targets.push_back(std::move(t));
  }
  for (auto& t : targets)
    if (auto r = remove_at(t.dir.get(), t.name, t.shown, 0); !r) return r;
  return {};
}

}  // namespace zlh::agent::files
