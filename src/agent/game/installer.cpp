#include "agent/game/installer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/game/java_select.hpp"
#include "agent/game/properties.hpp"
#include "agent/game/ready.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"

namespace zlh::agent::game {

namespace {
constexpr std::string_view kComponent = "game";

constexpr std::string_view kEulaText =
    "#By changing the setting below to TRUE you are indicating your agreement to our EULA "
    "(https://aka.ms/MinecraftEULA).\n"
    "#Accepted by the server's owner through zlh (payload \"eula\": true).\n"
    "eula=true\n";

// The server dir belongs to the service user: never follow a link there.
Result<void> set_owner(const std::string& path, const devenv::DevUser& u) {
  if (u.is_current_user) return {};
  if (::fchownat(AT_FDCWD, path.c_str(), u.uid, u.gid, AT_SYMLINK_NOFOLLOW) != 0)
    return fail(Error::from_errno("chown " + path, errno));
  return {};
}

// mkdir -p of `rel` below `base`, refusing symlinks at every level, each
// directory owned by the user.
Result<void> make_dirs_beneath(const std::string& base, const std::string& rel,
                               const devenv::DevUser& u) {
  int fd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(Error::from_errno("open " + base, errno));
  size_t start = 0;
  std::string done = base;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    std::string part =
        rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    start = slash == std::string::npos ? rel.size() : slash + 1;
    if (part.empty()) continue;
    done += "/" + part;
    if (::mkdirat(fd, part.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      ::close(fd);
      return fail(Error::from_errno("mkdir " + done, err));
    }
    int next = ::openat(fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    ::close(fd);
    if (next < 0) {
      if (err == ELOOP || err == ENOTDIR)
        return fail(codes::kBadPath, done + " is not a directory");
      return fail(Error::from_errno("open " + done, err));
    }
    fd = next;
    if (!u.is_current_user && ::fchown(fd, u.uid, u.gid) != 0) {
      err = errno;
      ::close(fd);
      return fail(Error::from_errno("chown " + done, err));
    }
  }
  ::close(fd);
  return {};
}

// The content of a regular file; "" when it is missing. A symlink or other
// non-regular file in its place is ignored (and later replaced by the
// rename), never read through.
Result<std::string> read_regular(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    if (errno == ELOOP) {
      log::warn(kComponent, "ignoring a symlink in place of a config file", {{"path", path}});
      return std::string();
    }
    return fail(Error::from_errno("open " + path, errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    log::warn(kComponent, "ignoring a non-regular file in place of a config file",
              {{"path", path}});
    return std::string();
  }
  if (uint64_t(st.st_size) > max_bytes) {
    ::close(fd);
    return fail(codes::kTooLarge, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && out.size() <= max_bytes)
    out.append(buf, size_t(n));
  int err = errno;
  ::close(fd);
  if (n < 0) return fail(Error::from_errno("read " + path, err));
  return out;
}

Result<void> write_owned(const std::string& path, std::string_view data, const devenv::DevUser& u) {
  if (auto r = fs::write_file_atomic(path, data, 0644); !r) return r;
  return set_owner(path, u);
}

// Copies `src` to dir/name: temp file, fsync, owner, rename, fsync dir.
Result<void> copy_into(const std::string& src, const std::string& dir, const std::string& name,
                       const devenv::DevUser& u, const std::atomic<bool>& stop) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return fail(Error::from_errno("open " + src, errno));
  std::string tmp = fs::join(dir, "." + name + ".tmp-" + crypto::random_hex(6));
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return fail(Error::from_errno("create " + tmp, err));
  }
  auto abort = [&](Error e) -> Result<void> {
    ::close(in);
    ::close(out);
    ::unlink(tmp.c_str());
    return fail(std::move(e));
  };
  std::string buf(1 << 20, '\0');
  for (;;) {
    if (stop) return abort(Error::make(codes::kUnavailable, "cancelled: the agent is stopping"));
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abort(Error::from_errno("read " + src, errno));
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.data() + off, size_t(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return abort(Error::from_errno("write " + tmp, errno));
      off += w;
    }
  }
  if (::fsync(out) != 0) return abort(Error::from_errno("fsync " + tmp, errno));
  if (!u.is_current_user && ::fchown(out, u.uid, u.gid) != 0)
    return abort(Error::from_errno("chown " + tmp, errno));
  ::close(in);
  ::close(out);
  std::string dst = fs::join(dir, name);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(Error::from_errno("rename into " + dst, err));
  }
  return fs::fsync_dir(dir);
}

bool regular_beneath(const std::string& dir, const std::string& rel) {
  struct stat st {};
  return ::lstat(fs::join(dir, rel).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string output_tail(const std::string& output, size_t lines) {
  std::vector<std::string> all;
  size_t start = 0;
  while (start < output.size()) {
    size_t nl = output.find('\n', start);
    std::string line = strip_terminal_codes(
        output.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (!line.empty()) all.push_back(line.size() > 500 ? line.substr(0, 500) + "…" : line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "\n" + all[i];
  return out.empty() ? " (no output)" : ":" + out;
}
}  // namespace

GameInstaller::GameInstaller(std::string root, runtimes::CatalogClient& catalog,
                             runtimes::ArtifactCache& cache, runtimes::RuntimeManager& runtimes,
                             devenv::DevEnvironment& devenv, GameServer& server, InstallerOptions o)
    : root_(std::move(root)),
      server_dir_(fs::join(root_, "opt/zlh/server")),
      catalog_(catalog),
      cache_(cache),
      runtimes_(runtimes),
      devenv_(devenv),
      server_(server),
      opts_(o) {}

namespace {
// The payload's game / variant / version in the catalog; E_NOT_FOUND naming
// what is missing.
Result<std::pair<const catalog::Variant*, const catalog::Entry*>> find_server(
    const catalog::Catalog& cat, const payload::Payload& p) {
  const catalog::Game* g = cat.game(p.game);
  if (!g) return fail(codes::kNotFound, "game " + p.game + " is not in the catalog");
  const catalog::Variant* v = g->find(p.variant);
  if (!v)
    return fail(codes::kNotFound, p.game + " has no variant " + p.variant + " in the catalog");
  const catalog::Entry* e = v->find(p.version);
  if (!e)
    return fail(codes::kNotFound,
                p.game + " " + p.variant + " has no version " + p.version + " in the catalog");
  return std::pair{v, e};
}

// The record of this install but its launch and time: what the catalog entry
// and the installed Java (its marker `jm`) say.
GameRecord record_for(const payload::Payload& p, const catalog::Variant& v, const catalog::Entry& e,
                      ServerKind kind, const std::string& java, const runtimes::Installed& inst,
                      const nlohmann::json& jm) {
  GameRecord rec;
  rec.game = p.game;
  rec.variant = p.variant;
  rec.version = p.version;
  rec.sha256 = e.sha256;
  rec.kind = kind;
  rec.mods_dir = v.mods_dir;
  rec.java_version = java;
  rec.java_home = inst.path;
  rec.java_bin = {"bin"};
  if (jm.is_object() && jm.contains("bin") && jm["bin"].is_array() && !jm["bin"].empty())
    rec.java_bin = jm["bin"].get<std::vector<std::string>>();
  if (jm.is_object() && jm.contains("env") && jm["env"].is_object())
    rec.java_env = jm["env"].get<std::map<std::string, std::string>>();
  rec.ready = e.ready;
  rec.backup = e.backup;
  if (e.stop.is_object()) {
    rec.stop_type = e.stop.value("type", "command");
    rec.stop_value = e.stop.value("value", "stop");
  }
  return rec;
}
}  // namespace

Result<runtimes::Installed> GameInstaller::install_java(const catalog::Catalog& cat,
                                                        const payload::Payload& p,
                                                        const catalog::Entry& e,
                                                        const std::atomic<bool>& stop,
                                                        const StepProgress& progress) {
  const std::string what = p.game + " " + p.variant + " " + p.version;
  auto java = select_java(cat, e.java);
  if (!java) return fail(java.error().wrap(what + " needs java " + e.java));
  progress("install java " + *java, 0.02);
  auto inst = runtimes_.install(
      std::string(kJavaRuntime), *java, p.catalog_sha256,
      [&](const std::string& step, double f) { progress(step, 0.02 + 0.48 * f); }, &stop);
  if (!inst) return fail(inst.error().wrap("install java " + *java));
  return *inst;
}

Result<Launch> GameInstaller::fetch_server(const GameRecord& rec, const catalog::Entry& e,
                                           const std::string& what, const devenv::DevUser& user,
                                           const std::atomic<bool>& stop,
                                           const StepProgress& progress) {
  if (auto r = server_.stop_for_update(); !r) return fail(r.error());
  if (auto r = remove_record(root_); !r) return fail(r.error());
  progress("download " + what, 0.5);
  auto cached = cache_.get(
      runtimes::join_url(catalog_.base_url(), e.artifact), e.sha256, e.size,
      [&](uint64_t done, uint64_t total) {
        progress("download " + what, 0.5 + (total ? 0.2 * double(done) / double(total) : 0.0));
      },
      &stop);
  if (!cached) return fail(cached.error().wrap("download " + what));
  switch (rec.kind) {
    case ServerKind::kJar:
      if (auto r = copy_into(*cached, server_dir_, "server.jar", user, stop); !r)
        return fail(r.error());
      return Launch{Launch::Kind::kJar, "server.jar", "", false};
    case ServerKind::kInstaller:
      break;
  }
  if (auto r = copy_into(*cached, server_dir_, kInstallerJar, user, stop); !r)
    return fail(r.error());
  progress("run " + what + " installer", 0.75);
  auto launch = run_installer(rec, user, stop);
  if (!launch) return fail(launch.error());
  ::unlink(fs::join(server_dir_, kInstallerJar).c_str());
  return *launch;
}

Result<GameRecord> GameInstaller::install(const payload::Payload& p, const std::atomic<bool>& stop,
                                          const StepProgress& progress) {
  if (!p.eula)
    return fail(
        codes::kEulaRequired,
        "the Minecraft EULA must be accepted (\"eula\": true) before the server is installed");
  const std::string what = p.game + " " + p.variant + " " + p.version;
  auto user = devenv_.ensure_user();
  if (!user) return fail(user.error());
  if (!user->is_current_user) runtimes_.set_run_as(user->uid, user->gid, user->name);

  progress("fetch catalog for " + what, 0.0);
  auto cat = catalog_.load(p.catalog_sha256);
  if (!cat) return fail(cat.error());
  auto found = find_server(cat->catalog, p);
  if (!found) return fail(found.error());
  auto [v, e] = *found;
  // The catalog parser admits only these two; this is where the text becomes the enum.
  auto kind = parse_server_kind(e->kind);
  if (!kind) return fail(codes::kInternal, what + ": unknown server kind " + e->kind);
  auto java = install_java(cat->catalog, p, *e, stop, progress);
  if (!java) return fail(java.error());
  GameRecord rec = record_for(p, *v, *e, *kind, java->version, *java,
                              runtimes_.marker(std::string(kJavaRuntime), java->version));

  if (auto r = fs::make_dirs(server_dir_, 0755); !r) return fail(r.error());
  if (auto r = set_owner(server_dir_, *user); !r) return fail(r.error());

  auto old = read_record(root_);
  bool installed =
      old && old->same_install(rec) &&
      regular_beneath(server_dir_, old->launch.kind == Launch::Kind::kJar ? old->launch.jar
                                                                          : old->launch.unix_args);
  if (installed) {
    rec.launch = old->launch;
    rec.installed_at = old->installed_at;
  } else {
    auto launch = fetch_server(rec, *e, what, *user, stop, progress);
    if (!launch) return fail(launch.error());
    rec.launch = *launch;
    rec.installed_at = log::now_rfc3339();
    log::info(kComponent, "game server installed",
              {{"game", p.game},
               {"variant", p.variant},
               {"version", p.version},
               {"kind", e->kind},
               {"java", java->version}});
  }
  // Always rewritten: the Java, ready pattern or stop policy may have changed.
  if (auto r = write_record(root_, rec); !r) return fail(r.error());
  progress("write " + p.game + " configuration", 0.95);
  if (auto r = write_configuration(p, rec, *user); !r) return fail(r.error());
  return rec;
}

Result<Launch> GameInstaller::run_installer(const GameRecord& rec, const devenv::DevUser& user,
                                            const std::atomic<bool>& stop) {
  process::SpawnOptions so;
  so.argv = {java_binary(rec), "-jar", kInstallerJar, "--installServer"};
  so.env = server_environment(rec, user, root_);
  so.cwd = server_dir_;
  if (!user.is_current_user) {
    so.uid = user.uid;
    so.gid = user.gid;
    so.user_name = user.name;
  }
  log::info(kComponent, "running the installer",
            {{"variant", rec.variant}, {"version", rec.version}});
  auto r = process::run(so, opts_.installer_timeout, 8 << 20, &stop);
  if (!r) return fail(r.error().wrap("run the installer"));
  if (r->cancelled) return fail(codes::kUnavailable, "cancelled: the agent is stopping");
  if (r->timed_out || r->exit_code != 0) {
    std::string how =
        r->timed_out
            ? "timed out after " + std::to_string(opts_.installer_timeout.count() / 1000) + " s"
        : r->signal ? "killed by signal " + std::to_string(r->signal)
                    : "exit code " + std::to_string(r->exit_code);
    log::warn(kComponent, "installer failed", {{"how", how}});
    return fail(codes::kUnavailable, rec.game + " " + rec.variant + " " + rec.version +
                                         " installer failed (" + how + "); last output" +
                                         output_tail(r->output, 20));
  }
  auto launch = find_installed_launch(server_dir_, kInstallerJar);
  if (!launch) return fail(launch.error().wrap("after the installer"));
  return launch;
}

Result<void> GameInstaller::write_configuration(const payload::Payload& p, const GameRecord& rec,
                                                const devenv::DevUser& user) {
  if (!rec.mods_dir.empty())
    if (auto r = make_dirs_beneath(server_dir_, rec.mods_dir, user); !r) return r;
  if (!p.eula)  // unreachable after install()'s check; kept next to the write it guards
    return fail(codes::kEulaRequired, "the Minecraft EULA was not accepted");
  std::string eula_path = fs::join(server_dir_, "eula.txt");
  auto eula = read_regular(eula_path, 64 << 10);
  if (!eula) return fail(eula.error());
  if (*eula != kEulaText)
    if (auto r = write_owned(eula_path, kEulaText, user); !r) return r;

  std::string props_path = fs::join(server_dir_, "server.properties");
  auto existing = read_regular(props_path, 1 << 20);
  if (!existing) return fail(existing.error());
  PropertyList set;
  for (auto it = p.properties.begin(); it != p.properties.end(); ++it)
    set.emplace_back(it.key(), property_text(*it));
  auto port = p.ports.find("game");
  set.emplace_back("server-port", std::to_string(port == p.ports.end() ? 25565 : port->second));
  set.emplace_back("level-name", p.world);
  std::string text = merge_properties(*existing, set);
  if (text != *existing)
    if (auto r = write_owned(props_path, text, user); !r) return r;
  return {};
}

}  // namespace zlh::agent::game
