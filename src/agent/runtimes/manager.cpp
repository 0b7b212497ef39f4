#include "agent/runtimes/manager.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "agent/runtimes/extract.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "base/remove_tree.hpp"
#include "proto/ids.hpp"

namespace zlh::agent::runtimes {

namespace {
constexpr std::string_view kComponent = "runtimes";
constexpr const char* kMarker = ".zlh-runtime.json";

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string& p) {
  std::vector<std::string> out;
  DIR* d = opendir(p.c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.empty() || n[0] == '.') continue;
    out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> check_ids(const std::string& id, const std::string& version) {
  if (!proto::valid_id(id))
    return std::unexpected(
        Error::invalid("runtime", "runtime must match [a-z0-9][a-z0-9_-]{0,31}"));
  if (!proto::valid_version(version))
    return std::unexpected(Error::invalid("version", "version is not a valid version string"));
  return {};
}

std::string substitute_prefix(std::string v, const std::string& prefix) {
  for (size_t pos; (pos = v.find("{prefix}")) != std::string::npos;) v.replace(pos, 8, prefix);
  return v;
}
}  // namespace

std::string read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, size_t(n));
}

Result<void> replace_symlink(const std::string& dir, const std::string& name,
                             const std::string& target) {
  std::string tmp = fs::join(dir, "." + name + ".tmp-" + crypto::random_hex(4));
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return fail(Error::from_errno("symlink " + tmp, errno));
  if (::rename(tmp.c_str(), fs::join(dir, name).c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(Error::from_errno("rename " + tmp, err));
  }
  return fs::fsync_dir(dir);
}

namespace {
// Where installed packages of a kind live, below the container root.
constexpr EnumNames<PackageKind, 2> kPackageDirs{{"opt/zlh/runtimes", "opt/zlh/services"}};
static_assert(kPackageDirs.covers(PackageKind::kAddon));
std::string_view packages_dir(PackageKind k) { return kPackageDirs.name(k); }

// The catalog item `id` of the kind; nullptr when the catalog has none.
const catalog::Item* catalog_item(const catalog::Catalog& c, PackageKind k, const std::string& id) {
  switch (k) {
    case PackageKind::kRuntime:
      return c.runtime(id);
    case PackageKind::kAddon:
      return c.addon(id);
  }
  return nullptr;  // not reached
}
}  // namespace

RuntimeManager::RuntimeManager(std::string root, CatalogClient& catalog, ArtifactCache& cache,
                               PackageKind kind)
    : root_(std::move(root)),
      dir_(fs::join(root_, std::string(packages_dir(kind)))),
      kind_(kind),
      catalog_(catalog),
      cache_(cache) {}

nlohmann::json RuntimeManager::marker(const std::string& id, const std::string& version) const {
  auto m = fs::read_file(fs::join(dir_, id + "/" + version + "/" + kMarker));
  if (!m) return nullptr;
  auto j = nlohmann::json::parse(*m, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

void RuntimeManager::discard_leftovers() {
  std::string staging = fs::join(dir_, ".staging");
  if (is_dir(staging)) {
    if (auto r = fs::remove_tree(staging, {.missing_ok = true}); !r)
      log::warn(kComponent, "cannot discard staging", {{"error", r.error().message}});
    else
      log::info(kComponent, "discarded staging left by an interrupted install");
  }
  cache_.discard_temporaries();
  // Temporary symlinks of an interrupted switch.
  for (const auto& id : list_dir(dir_)) {
    std::string d = fs::join(dir_, id);
    DIR* dp = opendir(d.c_str());
    if (!dp) continue;
    while (auto* e = readdir(dp)) {
      std::string_view n = e->d_name;
      if (n.starts_with(".current.tmp-") || n.starts_with(".previous.tmp-"))
        unlinkat(dirfd(dp), e->d_name, 0);
    }
    closedir(dp);
  }
}

void RuntimeManager::set_run_as(std::optional<uid_t> uid, std::optional<gid_t> gid,
                                std::string user_name) {
  uid_ = uid;
  gid_ = gid;
  user_name_ = std::move(user_name);
}

std::mutex& RuntimeManager::lock_for(const std::string& id) {
  std::lock_guard lk(locks_mu_);
  auto& m = locks_[id];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

bool RuntimeManager::installed(const std::string& id, const std::string& version) const {
  struct stat st {};
  return ::stat(fs::join(dir_, id + "/" + version + "/" + kMarker).c_str(), &st) == 0;
}

Result<void> RuntimeManager::switch_current(const std::string& id, const std::string& version) {
  std::string d = fs::join(dir_, id);
  std::string old = read_link(fs::join(d, "current"));
  if (old == version) return {};
  if (!old.empty() && installed(id, old)) {
    if (auto r = replace_symlink(d, "previous", old); !r) return r;
  }
  if (auto r = replace_symlink(d, "current", version); !r) return r;
  log::info(kComponent, "runtime switched", {{"runtime", id}, {"version", version}, {"from", old}});
  if (on_change_) on_change_();
  return {};
}

namespace {
// The marker written into an installed version: the catalog entry it came from.
nlohmann::json marker_json(const std::string& id, const std::string& version,
                           const catalog::Entry& entry, const std::string& catalog_sha256) {
  return {{"id", id},
          {"version", version},
          {"sha256", entry.sha256},
          {"bin", entry.bin},
          {"env", entry.env},
          {"catalog_sha256", catalog_sha256},
          {"launch", entry.launch},
          {"port", entry.port},
          {"health", entry.health},
          {"installed_at", log::now_rfc3339()}};
}

// Renames the staged tree to `target` (in <dir>/<id>), moving aside a
// marker-less directory in its way.
Result<void> move_into_place(const std::string& staging, const std::string& staging_root,
                             const std::string& id_dir, const std::string& target) {
  if (auto r = fs::make_dirs(id_dir, 0755); !r) return r;
  if (is_dir(target)) {
    // A version dir without a marker cannot come from us (renames are
    // atomic); it is in the way, so it goes.
    std::string trash = fs::join(staging_root, "rm-" + crypto::random_hex(6));
    if (::rename(target.c_str(), trash.c_str()) == 0)
      (void)fs::remove_tree(trash, {.missing_ok = true});
  }
  if (::rename(staging.c_str(), target.c_str()) != 0)
    return fail(Error::from_errno("rename into " + target, errno));
  (void)fs::fsync_dir(id_dir);
  return {};
}
}  // namespace

Result<void> RuntimeManager::verify(const catalog::Entry& entry, const std::string& staging,
                                    const std::string& what) const {
  if (!entry.verify) return {};  // required for runtimes by the catalog, optional for addons
  process::SpawnOptions so;
  std::string exe = fs::join(staging, entry.verify->cmd[0]);
  so.argv = entry.verify->cmd;
  so.argv[0] = exe;
  std::string path;
  for (const auto& b : entry.bin) path += (b == "." ? staging : fs::join(staging, b)) + ":";
  path += std::string(devenv::kSystemPath);
  so.env = {"PATH=" + path, "HOME=" + staging, "LANG=C.UTF-8"};
  for (const auto& [k, v] : entry.env) so.env.push_back(k + "=" + substitute_prefix(v, staging));
  so.cwd = staging;
  so.uid = uid_;
  so.gid = gid_;
  so.user_name = user_name_;
  auto ran = process::run(so, std::chrono::seconds(120), 64 * 1024);
  if (!ran)
    return fail(codes::kVerifyFailed,
                what + ": verify command could not run: " + ran.error().message);
  if (ran->timed_out) return fail(codes::kVerifyFailed, what + ": verify command timed out");
  if (ran->exit_code != 0 || ran->output.find(entry.verify->expect) == std::string::npos) {
    std::string out = ran->output.substr(0, 200);
    return fail(codes::kVerifyFailed, what + ": verify printed \"" + out + "\" (exit " +
                                          std::to_string(ran->exit_code) + "), expected \"" +
                                          entry.verify->expect + "\"");
  }
  return {};
}

Result<void> RuntimeManager::stage(const std::string& archive, const catalog::Entry& entry,
                                   const std::string& staging, const std::string& what,
                                   const Progress& report, const std::atomic<bool>* cancel) const {
  ExtractOptions xo;
  xo.strip_components = entry.strip_components;
  xo.cancel = cancel;
  uint64_t total = entry.size ? entry.size * 3 : 1;  // rough: compressed → uncompressed
  xo.progress = [&](uint64_t done) {
    report("extract " + what, 0.6 + 0.3 * std::min(1.0, double(done) / double(total)));
  };
  if (auto r = extract_archive(archive, staging, xo); !r)
    return fail(r.error().wrap("extract " + what));
  report("verify " + what, 0.9);
  return verify(entry, staging, what);
}

Result<Installed> RuntimeManager::install(const std::string& id, const std::string& version,
                                          const std::string& pinned, const Progress& progress,
                                          const std::atomic<bool>* cancel) {
  if (auto r = check_ids(id, version); !r) return fail(r.error());
  std::lock_guard guard(lock_for(id));
  std::string target = fs::join(dir_, id + "/" + version);
  Progress report = [&](const std::string& step, double f) {
    if (progress) progress(step, f);
  };
  if (installed(id, version)) {
    bool was_current = read_link(fs::join(dir_, id + "/current")) == version;
    if (auto r = switch_current(id, version); !r) return fail(r.error());
    return Installed{id, version, target, !was_current};
  }

  std::string what = std::string(to_string(kind_)) + " " + id + " " + version;
  report("fetch catalog for " + what, 0.0);
  auto cat = catalog_.load(pinned);
  if (!cat) return fail(cat.error());
  const catalog::Item* item = catalog_item(cat->catalog, kind_, id);
  const catalog::Entry* entry = item ? item->find(version) : nullptr;
  if (!entry) return fail(codes::kNotFound, what + " is not in the catalog");

  report("download " + what, 0.0);
  auto cached = cache_.get(
      join_url(catalog_.base_url(), entry->artifact), entry->sha256, entry->size,
      [&](uint64_t done, uint64_t total) {
        report("download " + what, total ? 0.6 * double(done) / double(total) : 0.0);
      },
      cancel);
  if (!cached) return fail(cached.error());

  report("extract " + what, 0.6);
  std::string staging_root = fs::join(dir_, ".staging");
  std::string staging = fs::join(staging_root, id + "-" + version + "-" + crypto::random_hex(4));
  if (auto r = fs::make_dirs(staging, 0755); !r) return fail(r.error());
  Result<void> placed = stage(*cached, *entry, staging, what, report, cancel);
  if (placed)
    placed =
        fs::write_file_atomic(fs::join(staging, kMarker),
                              marker_json(id, version, *entry, cat->sha256).dump(2) + "\n", 0644);
  if (placed) placed = move_into_place(staging, staging_root, fs::join(dir_, id), target);
  if (!placed) {
    (void)fs::remove_tree(staging, {.missing_ok = true});
    return fail(placed.error());
  }
  if (auto r = switch_current(id, version); !r) return fail(r.error());
  report("installed " + what, 1.0);
  log::info(kComponent, "runtime installed",
            {{"runtime", id}, {"version", version}, {"path", target}});
  return Installed{id, version, target, true};
}

Result<Installed> RuntimeManager::use(const std::string& id, const std::string& version) {
  if (auto r = check_ids(id, version); !r) return fail(r.error());
  std::lock_guard guard(lock_for(id));
  if (!installed(id, version))
    return fail(codes::kNotFound, "runtime " + id + " " + version + " is not installed");
  bool was = read_link(fs::join(dir_, id + "/current")) == version;
  if (auto r = switch_current(id, version); !r) return fail(r.error());
  return Installed{id, version, fs::join(dir_, id + "/" + version), !was};
}

Result<Installed> RuntimeManager::rollback(const std::string& id) {
  if (!proto::valid_id(id))
    return std::unexpected(
        Error::invalid("runtime", "runtime must match [a-z0-9][a-z0-9_-]{0,31}"));
  std::lock_guard guard(lock_for(id));
  std::string prev = read_link(fs::join(dir_, id + "/previous"));
  if (prev.empty() || !installed(id, prev))
    return fail(codes::kNotFound, "runtime " + id + " has no previous version to roll back to");
  if (auto r = switch_current(id, prev); !r) return fail(r.error());
  return Installed{id, prev, fs::join(dir_, id + "/" + prev), true};
}

Result<void> RuntimeManager::remove(const std::string& id, const std::string& version, bool force) {
  if (auto r = check_ids(id, version); !r) return r;
  std::lock_guard guard(lock_for(id));
  if (!installed(id, version))
    return fail(codes::kNotFound, "runtime " + id + " " + version + " is not installed");
  std::string d = fs::join(dir_, id);
  std::string current = read_link(fs::join(d, "current"));
  std::string previous = read_link(fs::join(d, "previous"));
  bool active = current == version;
  if (active && !force)
    return fail(codes::kConflict,
                "runtime " + id + " " + version + " is the active version (use ?force=1)");
  if (active) {
    // Forced removal of the active version falls back to the previous one.
    if (!previous.empty() && previous != version && installed(id, previous)) {
      if (auto r = replace_symlink(d, "current", previous); !r) return r;
    } else {
      ::unlink(fs::join(d, "current").c_str());
    }
    ::unlink(fs::join(d, "previous").c_str());
  } else if (previous == version) {
    ::unlink(fs::join(d, "previous").c_str());
  }
  std::string staging_root = fs::join(dir_, ".staging");
  if (auto r = fs::make_dirs(staging_root, 0755); !r) return r;
  std::string trash =
      fs::join(staging_root, "rm-" + id + "-" + version + "-" + crypto::random_hex(4));
  if (::rename(fs::join(d, version).c_str(), trash.c_str()) != 0)
    return fail(Error::from_errno("remove " + version, errno));
  if (auto r = fs::remove_tree(trash, {.missing_ok = true}); !r)
    log::warn(kComponent, "cannot delete removed runtime", {{"error", r.error().message}});
  log::info(kComponent, "runtime removed",
            {{"runtime", id}, {"version", version}, {"forced", force}});
  if (active && on_change_) on_change_();
  return {};
}

std::optional<Installed> RuntimeManager::if_current(const std::string& id,
                                                    const std::string& version) const {
  if (!proto::valid_id(id) || !proto::valid_version(version) || !installed(id, version))
    return std::nullopt;
  if (read_link(fs::join(dir_, id + "/current")) != version) return std::nullopt;
  return Installed{id, version, fs::join(dir_, id + "/" + version), false};
}

nlohmann::json RuntimeManager::list() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& id : list_dir(dir_)) {
    std::string d = fs::join(dir_, id);
    if (!is_dir(d)) continue;
    nlohmann::json versions = nlohmann::json::array();
    std::vector<std::string> vs;
    for (const auto& v : list_dir(d))
      if (v != "current" && v != "previous" && installed(id, v)) vs.push_back(v);
    std::sort(vs.begin(), vs.end(),
              [](const auto& a, const auto& b) { return catalog::compare_versions(a, b) < 0; });
    for (const auto& v : vs) {
      auto m = fs::read_file(fs::join(d, v + "/" + kMarker));
      auto mj = m ? nlohmann::json::parse(*m, nullptr, false) : nlohmann::json();
      versions.push_back({{"version", v},
                          {"path", fs::join(d, v)},
                          {"installed_at", mj.is_object() ? mj.value("installed_at", "") : ""}});
    }
    auto cur = read_link(fs::join(d, "current"));
    auto prev = read_link(fs::join(d, "previous"));
    out.push_back({{"id", id},
                   {"current", cur.empty() ? nlohmann::json(nullptr) : nlohmann::json(cur)},
                   {"previous", prev.empty() ? nlohmann::json(nullptr) : nlohmann::json(prev)},
                   {"versions", versions}});
  }
  return out;
}

std::vector<devenv::ActiveRuntime> RuntimeManager::active() const {
  std::vector<devenv::ActiveRuntime> out;
  for (const auto& id : list_dir(dir_)) {
    std::string cur = read_link(fs::join(dir_, id + "/current"));
    if (cur.empty() || !installed(id, cur)) continue;
    auto m = fs::read_file(fs::join(dir_, id + "/" + cur + "/" + kMarker));
    auto mj = m ? nlohmann::json::parse(*m, nullptr, false) : nlohmann::json();
    if (!mj.is_object()) continue;
    devenv::ActiveRuntime a;
    a.id = id;
    a.prefix = fs::join(dir_, id + "/current");
    for (const auto& b : mj.value("bin", nlohmann::json::array()))
      a.bin.push_back(b.get<std::string>());
    if (mj.contains("env") && mj["env"].is_object())
      for (auto it = mj["env"].begin(); it != mj["env"].end(); ++it)
        a.env[it.key()] = it->get<std::string>();
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace zlh::agent::runtimes
