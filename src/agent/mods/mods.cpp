#include "agent/mods/mods.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "agent/files/atomic_file.hpp"
#include "agent/game/record.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "proto/catalog.hpp"

namespace zlh::agent::mods {

using supervisor::ServiceState;

using safe_path::UniqueFd;

namespace {

bool is_sha256(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::string> jar_name_for(const std::string& id) {
  std::string file = id + ".jar";
  if (id.empty()) return fail(codes::kNotFound, "no such mod");
  if (auto r = files::check_file_name(file); !r) return fail(r.error());
  return file;
}

// Regular file `name` in dir (no symlinks).
std::optional<struct stat> regular_at(int dir, const std::string& name) {
  struct stat st {};
  if (dir < 0 || ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode))
    return std::nullopt;
  return st;
}

}  // namespace

ModManager::ModManager(std::string root, runtimes::ArtifactCache& cache, std::string artifacts_base,
                       supervisor::Supervisor& supervisor,
                       std::function<std::optional<files::Owner>()> owner)
    : root_(std::move(root)),
      server_dir_(fs::join(root_, "opt/zlh/server")),
      cache_(cache),
      artifacts_base_(std::move(artifacts_base)),
      supervisor_(supervisor),
      owner_(std::move(owner)) {}

Result<std::string> ModManager::mods_dir() const {
  auto rec = game::read_record(root_);
  if (!rec) {
    if (rec.error().code == codes::kNotFound)
      return fail(codes::kConflict, "no game server is installed in this container");
    return fail(rec.error());
  }
  if (rec->mods_dir.empty())
    return fail(Error::invalid(
        "variant", rec->variant + " has no mods (the catalog variant has no mods_dir)"));
  auto norm = safe_path::normalize_relative(rec->mods_dir, false);
  if (!norm) return fail(codes::kInternal, "catalog mods_dir is not a clean relative path");
  return *norm;
}

Result<files::FileStore> ModManager::store() const {
  return files::FileStore::open(server_dir_, owner_ ? owner_() : std::nullopt);
}

bool ModManager::workload_running(pid_t* pid) const {
  auto v = supervisor_.service("workload");
  if (!v || v->state != ServiceState::kRunning || v->pid <= 0) return false;
  if (pid) *pid = v->pid;
  return true;
}

bool ModManager::note_change() {
  pid_t pid = 0;
  bool running = workload_running(&pid);
  changed_under_pid_ = running ? pid : 0;
  return running;
}

std::string ModManager::sha256_of(int dir_fd, const std::string& dir, const std::string& file,
                                  uint64_t size, int64_t mtime_ns) {
  std::string key = dir + "/" + file;
  if (auto it = sha_cache_.find(key); it != sha_cache_.end() && std::get<0>(it->second) == size &&
                                      std::get<1>(it->second) == mtime_ns)
    return std::get<2>(it->second);
  int fd = ::openat(dir_fd, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "";
  crypto::Sha256 h;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    h.update(std::string_view(buf.data(), size_t(n)));
  }
  ::close(fd);
  std::string hex = h.hex_digest();
  sha_cache_[key] = {size, mtime_ns, hex};
  return hex;
}

Result<nlohmann::json> ModManager::list() {
  std::lock_guard lk(mu_);
  auto dir = mods_dir();
  if (!dir) return fail(dir.error());
  auto st = store();
  if (!st) return fail(st.error());
  std::map<std::string, nlohmann::json> mods;
  for (bool enabled : {true, false}) {
    std::string d = enabled ? *dir : *dir + "-disabled";
    auto fd = safe_path::open_beneath(st->root_fd(), d, O_RDONLY | O_DIRECTORY);
    if (!fd) {
      if (fd.error().code == codes::kNotFound) continue;
      return fail(fd.error());
    }
    DIR* dp = ::fdopendir(*fd);
    if (!dp) {
      ::close(*fd);
      return fail(Error::from_errno("list " + d, errno));
    }
    std::vector<std::string> names;
    while (auto* e = ::readdir(dp)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.ends_with(".jar")) names.push_back(n);
    }
    for (const auto& n : names) {
      auto s = regular_at(::dirfd(dp), n);
      if (!s) continue;
      std::string id = n.substr(0, n.size() - 4);
      int64_t mtime_ns = int64_t(s->st_mtim.tv_sec) * 1000000000 + s->st_mtim.tv_nsec;
      nlohmann::json m = {{"id", id},
                          {"file", d + "/" + n},
                          {"enabled", enabled},
                          {"size", uint64_t(s->st_size)},
                          {"sha256", sha256_of(::dirfd(dp), d, n, uint64_t(s->st_size), mtime_ns)}};
      // An id both enabled and disabled shows twice, enabled first.
      mods.emplace(id + (enabled ? "\x01" : "\x02"), std::move(m));
    }
    ::closedir(dp);
  }
  nlohmann::json out = nlohmann::json::array();
  for (auto& [k, m] : mods) out.push_back(std::move(m));
  pid_t pid = 0;
  bool pending = changed_under_pid_ != 0 && workload_running(&pid) && pid == changed_under_pid_;
  return nlohmann::json{{"mods_dir", *dir}, {"restart_required", pending}, {"mods", out}};
}

Result<ModManager::ModFile> ModManager::locate(const std::string& id) const {
  auto dir = mods_dir();
  if (!dir) return fail(dir.error());
  auto file = jar_name_for(id);
  if (!file) return fail(file.error());
  auto st = store();
  if (!st) return fail(st.error());
  return ModFile{std::move(*dir), std::move(*file), std::move(*st)};
}

Result<nlohmann::json> ModManager::set_enabled(const std::string& id, bool enabled) {
  std::lock_guard lk(mu_);
  auto m = locate(id);
  if (!m) return fail(m.error());
  std::string from = enabled ? m->dir + "-disabled" : m->dir;
  std::string to = enabled ? m->dir : m->dir + "-disabled";
  auto open_dir = [&](const std::string& d) -> UniqueFd {
    auto fd = safe_path::open_beneath(m->store.root_fd(), d, O_RDONLY | O_DIRECTORY);
    return UniqueFd(fd ? *fd : -1);
  };
  UniqueFd from_fd = open_dir(from);
  UniqueFd to_fd = open_dir(to);
  bool in_from = regular_at(from_fd.get(), m->file).has_value();
  bool in_to = regular_at(to_fd.get(), m->file).has_value();
  nlohmann::json out = {{"id", id}, {"enabled", enabled}};
  if (!in_from) {
    if (!in_to) return fail(codes::kNotFound, "no mod " + id);
    out["changed"] = false;  // already where it should be
    out["restart_required"] = changed_under_pid_ != 0;
    return out;
  }
  if (in_to)
    return fail(codes::kConflict, "mod " + id + " is both enabled and disabled; delete one copy");
  if (!to_fd.valid()) {
    if (auto r = files::make_dirs_owned(m->store.root_fd(), to, m->store.owner()); !r)
      return fail(r.error());
    to_fd = open_dir(to);
    if (!to_fd.valid()) return fail(codes::kIo, "cannot open " + to);
  }
  if (::renameat2(from_fd.get(), m->file.c_str(), to_fd.get(), m->file.c_str(), RENAME_NOREPLACE) !=
      0)
    return fail(Error::from_errno("move mod " + id, errno));
  ::fsync(from_fd.get());
  ::fsync(to_fd.get());
  out["changed"] = true;
  out["file"] = to + "/" + m->file;
  out["restart_required"] = note_change();
  return out;
}

Result<nlohmann::json> ModManager::remove(const std::string& id) {
  std::lock_guard lk(mu_);
  auto m = locate(id);
  if (!m) return fail(m.error());
  bool found = false;
  for (const std::string& d : {m->dir, m->dir + "-disabled"}) {
    auto fd = safe_path::open_beneath(m->store.root_fd(), d, O_RDONLY | O_DIRECTORY);
    if (!fd) continue;
    UniqueFd dfd(*fd);
    if (!regular_at(dfd.get(), m->file)) continue;
    if (::unlinkat(dfd.get(), m->file.c_str(), 0) != 0)
      return fail(Error::from_errno("delete mod " + id, errno));
    ::fsync(dfd.get());
    found = true;
  }
  if (!found) return fail(codes::kNotFound, "no mod " + id);
  return nlohmann::json{{"id", id}, {"deleted", true}, {"restart_required", note_change()}};
}

Result<nlohmann::json> ModManager::install_artifact(const std::string& artifact,
                                                    const std::string& sha256,
                                                    const std::atomic<bool>* cancel) {
  if (!catalog::safe_relative_path(artifact) || !artifact.ends_with(".jar"))
    return fail(Error::invalid(
        "artifact", "field \"artifact\": must be a relative .jar path on the artifact server"));
  if (!is_sha256(sha256))
    return fail(Error::invalid("sha256", "field \"sha256\": must be 64 lowercase hex digits"));
  std::string file =
      artifact.substr(artifact.rfind('/') == std::string::npos ? 0 : artifact.rfind('/') + 1);
  if (auto r = files::check_file_name(file); !r) return fail(r.error());
  {
    std::lock_guard lk(mu_);
    if (auto dir = mods_dir(); !dir) return fail(dir.error());
  }
  if (artifacts_base_.empty())
    return fail(codes::kUnavailable, "no artifact server configured (--artifacts)");
  std::string base = artifacts_base_;
  while (!base.empty() && base.back() == '/') base.pop_back();
  // The download runs without the lock: it may take a while.
  auto cached = cache_.get(base + "/" + artifact, sha256, runtimes::ArtifactCache::kUnknownSize,
                           nullptr, cancel);
  if (!cached) return fail(cached.error());

  std::lock_guard lk(mu_);
  auto dir = mods_dir();
  if (!dir) return fail(dir.error());
  auto st = store();
  if (!st) return fail(st.error());
  if (auto dfd =
          safe_path::open_beneath(st->root_fd(), *dir + "-disabled", O_RDONLY | O_DIRECTORY)) {
    UniqueFd d(*dfd);
    if (regular_at(d.get(), file))
      return fail(codes::kConflict,
                  "a disabled copy of " + file + " exists; enable or delete it first");
  }
  auto out = files::AtomicFile::create(st->root_fd(), *dir + "/" + file, st->owner(), true);
  if (!out) return fail(out.error());
  int in = ::open(cached->c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return fail(Error::from_errno("open " + *cached, errno));
  UniqueFd in_fd(in);
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Error::from_errno("read " + *cached, errno));
    if (n == 0) break;
    if (auto w = out->write(std::string_view(buf.data(), size_t(n))); !w) return fail(w.error());
  }
  if (auto c = out->commit(); !c) return fail(c.error());
  std::string id = file.substr(0, file.size() - 4);
  return nlohmann::json{{"id", id},         {"file", *dir + "/" + file},
                        {"enabled", true},  {"size", out->size()},
                        {"sha256", sha256}, {"restart_required", note_change()}};
}

Result<ModManager::UploadTarget> ModManager::upload_target() {
  std::lock_guard lk(mu_);
  auto dir = mods_dir();
  if (!dir) return fail(dir.error());
  auto st = store();
  if (!st) return fail(st.error());
  return UploadTarget{std::move(*st), *dir};
}

}  // namespace zlh::agent::mods
