#include "agent/game/launch.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/fs.hpp"
#include "proto/catalog.hpp"

namespace zlh::agent::game {

int64_t heap_mb(int64_t memory_mb) {
  int64_t headroom = std::clamp<int64_t>(memory_mb / 4, 256, 2048);
  return std::max<int64_t>(128, memory_mb - headroom);
}

nlohmann::json Launch::to_json() const {
  if (kind == Kind::kJar) return {{"kind", "jar"}, {"jar", jar}};
  return {{"kind", "argfiles"}, {"unix_args", unix_args}, {"user_jvm_args", user_jvm_args}};
}

Result<Launch> Launch::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::unexpected(Error::invalid("launch", "launch must be an object"));
  Launch l;
  std::string kind = j.value("kind", "");
  if (kind == "jar") {
    l.kind = Kind::kJar;
    l.jar = j.value("jar", "");
    if (!catalog::safe_relative_path(l.jar))
      return std::unexpected(Error::invalid("launch.jar", "bad launch jar"));
  } else if (kind == "argfiles") {
    l.kind = Kind::kArgFiles;
    l.unix_args = j.value("unix_args", "");
    l.user_jvm_args = j.value("user_jvm_args", false);
    if (!catalog::safe_relative_path(l.unix_args))
      return std::unexpected(Error::invalid("launch.unix_args", "bad launch argument file"));
  } else {
    return std::unexpected(Error::invalid("launch.kind", "unknown launch kind \"" + kind + "\""));
  }
  return l;
}

std::vector<std::string> java_argv(const std::string& java, int64_t memory_mb,
                                   const Launch& launch) {
  std::string heap = std::to_string(heap_mb(memory_mb)) + "M";
  std::vector<std::string> argv = {java, "-Xms" + heap, "-Xmx" + heap};
  if (launch.kind == Launch::Kind::kJar) {
    argv.insert(argv.end(), {"-jar", launch.jar});
  } else {
    if (launch.user_jvm_args) argv.push_back("@user_jvm_args.txt");
    argv.push_back("@" + launch.unix_args);
  }
  argv.push_back("nogui");
  return argv;
}

namespace {

struct Found {
  std::string rel;
  int64_t mtime_ns = 0;
};

bool newer(const Found& a, const Found& b) {
  if (a.mtime_ns != b.mtime_ns) return a.mtime_ns > b.mtime_ns;
  return catalog::compare_versions(a.rel, b.rel) > 0;
}

int64_t mtime_ns(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Directory entries (without . and ..), never following symlinks.
void scan_args(int dirfd, const std::string& rel, int depth, std::vector<Found>& out) {
  if (depth > 12) return;
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return;
  }
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string child = rel + "/" + n;
    if (S_ISDIR(st.st_mode)) {
      int fd = ::openat(::dirfd(d), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) scan_args(fd, child, depth + 1, out);
    } else if (S_ISREG(st.st_mode) && n == "unix_args.txt") {
      out.push_back({child, mtime_ns(st)});
    }
  }
  ::closedir(d);
}

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<Launch> find_installed_launch(const std::string& server_dir,
                                     const std::string& installer_name) {
  std::vector<Found> args;
  int lib = ::open(fs::join(server_dir, "libraries").c_str(),
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (lib >= 0) scan_args(lib, "libraries", 0, args);
  if (!args.empty()) {
    std::sort(args.begin(), args.end(), newer);
    Launch l;
    l.kind = Launch::Kind::kArgFiles;
    l.unix_args = args.front().rel;
    l.user_jvm_args = is_regular(fs::join(server_dir, "user_jvm_args.txt"));
    return l;
  }
  std::vector<Found> jars;
  std::string seen;
  int listed = 0;
  if (DIR* d = ::opendir(server_dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (++listed <= 20) seen += (seen.empty() ? "" : ", ") + n;
      struct stat st {};
      if (!n.ends_with(".jar") || n == installer_name || n.starts_with("minecraft_server"))
        continue;
      if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        continue;
      jars.push_back({n, mtime_ns(st)});
    }
    ::closedir(d);
  }
  if (jars.empty())
    return fail(
        codes::kNotFound,
        "the installer produced neither libraries/**/unix_args.txt nor a server jar (found: " +
            (seen.empty() ? std::string("nothing") : seen) + ")");
  std::sort(jars.begin(), jars.end(), newer);
  Launch l;
  l.kind = Launch::Kind::kJar;
  l.jar = jars.front().rel;
  return l;
}

}  // namespace zlh::agent::game
