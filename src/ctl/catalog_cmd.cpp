#include "ctl/catalog_cmd.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "base/fs.hpp"

namespace zlh::ctl {
namespace {

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The catalog's key for a kind's list: "runtimes", "addons", "games".
std::string list_key(ItemKind k) { return std::string(to_string(k)) + "s"; }

std::string serialize(const OrderedJson& cat) { return cat.dump(2) + "\n"; }

const char* plural(size_t n, const char* one, const char* many) { return n == 1 ? one : many; }

// The JSON array holding an item's versions, or null when the slot is absent.
OrderedJson* find_versions(OrderedJson& cat, const EntrySlot& slot) {
  auto arr = cat.find(list_key(slot.kind));
  if (arr == cat.end() || !arr->is_array()) return nullptr;
  for (auto& item : *arr) {
    if (!item.is_object() || item.value("id", "") != slot.id) continue;
    if (slot.kind != ItemKind::kGame) {
      auto v = item.find("versions");
      return v != item.end() && v->is_array() ? &*v : nullptr;
    }
    auto vars = item.find("variants");
    if (vars == item.end() || !vars->is_array()) return nullptr;
    for (auto& var : *vars) {
      if (!var.is_object() || var.value("id", "") != slot.variant) continue;
      auto v = var.find("versions");
      return v != var.end() && v->is_array() ? &*v : nullptr;
    }
  }
  return nullptr;
}

Result<void> check_add_flags(const AddOptions& o) {
  auto invalid = [](const char* flag, const std::string& msg) {
    return fail(Error::invalid(flag, std::string(flag) + ": " + msg));
  };
  if (o.id.empty()) return invalid("--id", "is required");
  if (o.version.empty()) return invalid("--version", "is required");
  if (o.file.empty()) return invalid("--file", "is required");
  if (!catalog::valid_channel(o.channel))
    return invalid("--channel", "unknown channel \"" + o.channel + "\" (dev, beta, stable)");
  for (const auto& kv : o.env)
    if (kv.find('=') == std::string::npos || kv.front() == '=')
      return invalid("--env", "\"" + kv + "\" must be KEY=VALUE");
  if (o.expect && o.verify.empty()) return invalid("--expect", "needs --verify");
  if (!o.verify.empty() && split_words(o.verify).empty())
    return invalid("--verify", "must name a command");
  bool game = o.kind == ItemKind::kGame, addon = o.kind == ItemKind::kAddon;
  if (o.kind == ItemKind::kRuntime && split_words(o.verify).empty())
    return invalid("--verify", "is required for runtimes (e.g. \"bin/node --version\")");
  if (addon && split_words(o.launch).empty()) return invalid("--launch", "is required for addons");
  if (!addon && !o.launch.empty()) return invalid("--launch", "applies to addons only");
  if (!addon && o.port) return invalid("--port", "applies to addons only");
  if (!addon && !o.health.empty()) return invalid("--health", "applies to addons only");
  if (game) {
    if (o.variant.empty()) return invalid("--variant", "is required for games");
    if (o.java.empty()) return invalid("--java", "is required for games (e.g. 21)");
    if (!o.display.empty()) return invalid("--display", "applies to runtimes and addons only");
  } else {
    if (!o.variant.empty()) return invalid("--variant", "applies to games only");
    if (!o.java.empty()) return invalid("--java", "applies to games only");
    if (!o.ready.empty()) return invalid("--ready", "applies to games only");
    if (o.game_kind) return invalid("--game-kind", "applies to games only");
    if (o.mods_dir) return invalid("--mods-dir", "applies to games only");
    if (o.stop_command) return invalid("--stop-command", "applies to games only");
    if (!o.backup.empty()) return invalid("--backup", "applies to games only");
  }
  if (!o.backup.empty()) {
    auto j = nlohmann::json::parse(o.backup, nullptr, false);
    if (j.is_discarded()) return invalid("--backup", "is not JSON");
    if (auto b = catalog::parse_backup_spec(j, "--backup"); !b) return fail(b.error());
  }
  if (o.stop_command && o.stop_command->empty()) return invalid("--stop-command", "is empty");
  return {};
}

OrderedJson entry_from_flags(const AddOptions& o, const std::string& artifact) {
  OrderedJson e = OrderedJson::object();
  e["version"] = o.version;
  e["channel"] = o.channel;
  if (o.make_default) e["default"] = true;
  e["artifact"] = artifact;
  e["sha256"] = std::string(64, '0');  // filled in after the copy
  e["size"] = 0;
  if (o.strip) e["strip_components"] = *o.strip;
  if (!o.bin.empty()) e["bin"] = o.bin;
  if (!o.env.empty()) {
    OrderedJson env = OrderedJson::object();
    for (const auto& kv : o.env) {
      auto eq = kv.find('=');
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    e["env"] = std::move(env);
  }
  if (!o.verify.empty())
    e["verify"] = {{"cmd", split_words(o.verify)}, {"expect", o.expect.value_or(o.version)}};
  if (!o.launch.empty()) e["launch"] = split_words(o.launch);
  if (o.port) e["port"] = *o.port;
  if (!o.health.empty()) e["health"] = o.health;
  if (o.kind == ItemKind::kGame) {
    e["java"] = o.java;
    e["kind"] = o.game_kind.value_or("jar");
    if (!o.ready.empty()) e["ready"] = o.ready;
    e["stop"] = {{"type", "command"}, {"value", o.stop_command.value_or("stop")}};
    if (!o.backup.empty()) e["backup"] = OrderedJson::parse(o.backup);
  }
  return e;
}

std::string describe(const EntrySlot& s, const std::string& version) {
  std::string id = s.kind == ItemKind::kGame ? s.id + "/" + s.variant : s.id;
  return std::string(to_string(s.kind)) + " " + id + " " + version;
}

}  // namespace

// ---- building blocks --------------------------------------------------------

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

OrderedJson empty_catalog(std::chrono::system_clock::time_point now) {
  OrderedJson c = OrderedJson::object();
  c["schema"] = 1;
  c["created_at"] = rfc3339(now);
  c["runtimes"] = OrderedJson::array();
  c["addons"] = OrderedJson::array();
  c["games"] = OrderedJson::array();
  return c;
}

Result<OrderedJson> load_catalog_json(const std::string& store) {
  std::string path = fs::join(store, kCatalogFile);
  auto text = fs::read_file(path);
  if (!text) {
    if (text.error().is(codes::kNotFound))
      return fail(codes::kNotFound,
                  path + " does not exist (run zlhctl catalog init --store " + store + ")");
    return fail(text.error());
  }
  OrderedJson j = OrderedJson::parse(*text, nullptr, false);
  if (j.is_discarded()) return fail(Error::invalid("catalog", path + ": not valid JSON"));
  return j;
}

Result<catalog::Catalog> validate_ordered(const OrderedJson& cat) {
  return catalog::validate_catalog(nlohmann::json(cat));
}

Result<bool> save_catalog_json(const std::string& store, const OrderedJson& cat) {
  if (auto v = validate_ordered(cat); !v) return fail(v.error());
  std::string path = fs::join(store, kCatalogFile);
  std::string text = serialize(cat);
  if (auto old = fs::read_file(path); old && *old == text) return false;
  if (auto w = fs::write_file_atomic(path, text, 0644); !w) return fail(w.error());
  return true;
}

Result<void> put_entry(OrderedJson& cat, const EntrySlot& slot, OrderedJson entry, bool replace,
                       std::vector<std::string>& notes) {
  std::string key = list_key(slot.kind);
  if (!cat.contains(key)) cat[key] = OrderedJson::array();
  OrderedJson& items = cat[key];
  if (!items.is_array()) return fail(Error::invalid(key, key + ": must be an array"));

  OrderedJson* item = nullptr;
  for (auto& it : items)
    if (it.is_object() && it.value("id", "") == slot.id) item = &it;
  if (!item) {
    OrderedJson fresh = {{"id", slot.id}};
    if (slot.kind == ItemKind::kGame) {
      fresh["variants"] = OrderedJson::array();
    } else {
      if (!slot.display.empty()) fresh["display"] = slot.display;
      fresh["versions"] = OrderedJson::array();
    }
    items.push_back(std::move(fresh));
    item = &items.back();
  } else if (slot.kind != ItemKind::kGame && !slot.display.empty()) {
    (*item)["display"] = slot.display;
  }

  OrderedJson* holder = item;  // the object with "versions"
  if (slot.kind == ItemKind::kGame) {
    if (!item->contains("variants") || !(*item)["variants"].is_array())
      (*item)["variants"] = OrderedJson::array();
    OrderedJson* var = nullptr;
    for (auto& v : (*item)["variants"])
      if (v.is_object() && v.value("id", "") == slot.variant) var = &v;
    if (!var) {
      OrderedJson fresh = {{"id", slot.variant}};
      if (slot.mods_dir) fresh["mods_dir"] = *slot.mods_dir;
      fresh["versions"] = OrderedJson::array();
      (*item)["variants"].push_back(std::move(fresh));
      var = &(*item)["variants"].back();
    } else if (slot.mods_dir) {
      (*var)["mods_dir"] = *slot.mods_dir;
    }
    holder = var;
  }
  if (!holder->contains("versions") || !(*holder)["versions"].is_array())
    (*holder)["versions"] = OrderedJson::array();
  OrderedJson& versions = (*holder)["versions"];

  std::string version = entry.value("version", "");
  bool is_default = entry.value("default", false);
  OrderedJson* existing = nullptr;
  for (auto& v : versions)
    if (v.is_object() && v.value("version", "") == version) existing = &v;
  if (existing && !replace)
    return fail(codes::kConflict,
                describe(slot, version) + " is already in the catalog (use --force to replace it)");
  if (is_default) {
    for (auto& v : versions) {
      if (&v == existing || !v.is_object() || !v.value("default", false)) continue;
      v.erase("default");
      notes.push_back(describe(slot, v.value("version", "")) + " is no longer the default");
    }
  }
  if (existing)
    *existing = std::move(entry);
  else
    versions.push_back(std::move(entry));
  return {};
}

std::string resign_note(const std::string& store) {
  std::string how = "zlhctl catalog sign --store " + store + " --key KEYDIR/catalog.key";
  if (exists(fs::join(store, kSignatureFile)))
    return "catalog.json changed, catalog.json.sig is now stale (agents will refuse it): run " +
           how;
  return "catalog.json is not signed yet: run " + how;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<StoreLock> StoreLock::acquire(const std::string& store) {
  int fd = ::open(store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return fail(codes::kNotFound, store + ": no such directory");
    return fail(Error::from_errno("open " + store, errno));
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return fail(Error::from_errno("lock " + store, err));
  }
  return StoreLock(fd);
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

ArtifactWriter::~ArtifactWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Result<void> ArtifactWriter::open(const std::string& final_path) {
  final_path_ = final_path;
  std::string dir = fs::dir_of(final_path);
  if (auto r = fs::make_dirs(dir, 0755); !r) return r;
  tmp_path_ = dir + "/." + base_of(final_path) + ".tmp-" + crypto::random_hex(6);
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    int err = errno;
    tmp_path_.clear();
    return fail(Error::from_errno("create temporary file in " + dir, err));
  }
  // umask may have narrowed the mode; artifacts are served, so world-readable.
  if (::fchmod(fd_, 0644) != 0) return fail(Error::from_errno("chmod " + tmp_path_, errno));
  hash_ = std::make_unique<crypto::Sha256>();
  size_ = 0;
  return {};
}

Result<void> ArtifactWriter::write(std::string_view data) {
  if (fd_ < 0) return fail(codes::kInternal, "artifact writer is not open");
  hash_->update(data);
  size_ += data.size();
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Error::from_errno("write " + tmp_path_, errno));
    }
    data.remove_prefix(size_t(n));
  }
  return {};
}

Result<ArtifactDigest> ArtifactWriter::commit() {
  if (fd_ < 0) return fail(codes::kInternal, "artifact writer is not open");
  if (::fsync(fd_) != 0) return fail(Error::from_errno("fsync " + tmp_path_, errno));
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return fail(Error::from_errno("close " + tmp_path_, errno));
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0)
    return fail(Error::from_errno("rename to " + final_path_, errno));
  tmp_path_.clear();
  if (auto r = fs::fsync_dir(fs::dir_of(final_path_)); !r) return fail(r.error());
  return ArtifactDigest{hash_->hex_digest(), size_};
}

Result<ArtifactDigest> copy_artifact(const std::string& src, const std::string& dst) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    if (errno == ENOENT) return fail(codes::kNotFound, src + ": no such file");
    return fail(Error::from_errno("open " + src, errno));
  }
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    return fail(Error::invalid("--file", src + ": not a regular file"));
  }
  ArtifactWriter out;
  if (auto r = out.open(dst); !r) {
    ::close(in);
    return fail(r.error());
  }
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(in);
      return fail(Error::from_errno("read " + src, err));
    }
    if (n == 0) break;
    if (auto r = out.write(std::string_view(buf.data(), size_t(n))); !r) {
      ::close(in);
      return fail(r.error());
    }
  }
  ::close(in);
  return out.commit();
}

Result<ArtifactDigest> digest_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return fail(codes::kNotFound, path + ": no such file");
    return fail(Error::from_errno("stat " + path, errno));
  }
  if (!S_ISREG(st.st_mode)) return fail(codes::kInvalid, path + ": not a regular file");
  auto hex = crypto::sha256_file_hex(path);
  if (!hex) return fail(hex.error());
  return ArtifactDigest{*hex, uint64_t(st.st_size)};
}

// ---- commands ---------------------------------------------------------------

Result<void> catalog_init(const std::string& store, bool force,
                          std::chrono::system_clock::time_point now) {
  if (auto r = fs::make_dirs(store, 0755); !r) return r;
  auto lock = StoreLock::acquire(store);
  if (!lock) return fail(lock.error());
  std::string path = fs::join(store, kCatalogFile);
  if (!force && exists(path))
    return fail(codes::kConflict, path + " exists; refusing to overwrite it (use --force)");
  auto saved = save_catalog_json(store, empty_catalog(now));
  if (!saved) return fail(saved.error());
  return {};
}

Result<AddResult> catalog_add(const std::string& store, const AddOptions& opt) {
  if (auto r = check_add_flags(opt); !r) return fail(r.error());
  auto lock = StoreLock::acquire(store);
  if (!lock) return fail(lock.error());
  auto cat = load_catalog_json(store);
  if (!cat) return fail(cat.error());

  EntrySlot slot{opt.kind, opt.id, opt.variant, opt.display, opt.mods_dir};
  std::string artifact = list_key(opt.kind) + "/" + opt.id + "/" +
                         (opt.kind == ItemKind::kGame ? opt.variant + "/" : "") + opt.version +
                         "/" + base_of(opt.file);
  AddResult res;
  if (auto r = put_entry(*cat, slot, entry_from_flags(opt, artifact), opt.force, res.notes); !r)
    return fail(r.error());
  // Validating before the copy keeps ids, versions and the file name (which
  // become directory names) from ever reaching the filesystem unchecked.
  if (auto v = validate_ordered(*cat); !v) return fail(v.error().wrap("catalog after add"));

  std::string dst = fs::join(store, artifact);
  bool existed = exists(dst);
  auto digest = copy_artifact(opt.file, dst);
  if (!digest) return fail(digest.error());
  OrderedJson* versions = find_versions(*cat, slot);
  for (auto& e : *versions) {
    if (e.value("version", "") != opt.version) continue;
    e["sha256"] = digest->sha256;
    e["size"] = digest->size;
  }
  auto saved = save_catalog_json(store, *cat);
  if (!saved) {
    if (!existed) ::unlink(dst.c_str());
    return fail(saved.error());
  }
  res.artifact = artifact;
  res.sha256 = digest->sha256;
  res.size = digest->size;
  res.notes.push_back(resign_note(store));
  return res;
}

Result<PromoteResult> catalog_promote(const std::string& store, const std::string& id,
                                      const std::string& version, const std::string& channel) {
  if (!catalog::valid_channel(channel))
    return fail(
        Error::invalid("channel", "unknown channel \"" + channel + "\" (dev, beta, stable)"));
  auto lock = StoreLock::acquire(store);
  if (!lock) return fail(lock.error());
  auto cat = load_catalog_json(store);
  if (!cat) return fail(cat.error());
  if (auto v = validate_ordered(*cat); !v) return fail(v.error());

  // "game/variant" names one variant; a bare id may be a runtime, an addon or
  // a game (then any variant with that version).
  std::string want_id = id, want_variant;
  if (auto slash = id.find('/'); slash != std::string::npos) {
    want_id = id.substr(0, slash);
    want_variant = id.substr(slash + 1);
  }
  struct Match {
    OrderedJson* entry;
    std::string what;
  };
  std::vector<Match> matches;
  auto scan = [&](OrderedJson& versions, const std::string& what) {
    for (auto& e : versions)
      if (e.value("version", "") == version) matches.push_back({&e, what + " " + version});
  };
  // The catalog validated, so every present list is well formed; absent
  // lists must stay absent (operator[] would insert null).
  auto slots = [&](const char* key) -> OrderedJson* {
    auto it = cat->find(key);
    return it == cat->end() ? nullptr : &*it;
  };
  if (want_variant.empty()) {
    for (const char* kind : {"runtime", "addon"}) {
      OrderedJson* items = slots(kind == std::string("runtime") ? "runtimes" : "addons");
      if (!items) continue;
      for (auto& item : *items)
        if (item.value("id", "") == want_id)
          scan(item["versions"], std::string(kind) + " " + want_id);
    }
  }
  if (OrderedJson* games = slots("games")) {
    for (auto& game : *games) {
      if (game.value("id", "") != want_id) continue;
      for (auto& var : game["variants"]) {
        std::string vid = var.value("id", "");
        if (!want_variant.empty() && vid != want_variant) continue;
        scan(var["versions"], "game " + want_id + "/" + vid);
      }
    }
  }
  if (matches.empty()) return fail(codes::kNotFound, id + " " + version + " is not in the catalog");
  if (matches.size() > 1) {
    std::string list;
    for (const auto& m : matches) list += (list.empty() ? "" : ", ") + m.what;
    return fail(codes::kConflict, id + " " + version + " is ambiguous: " + list +
                                      " (name a game variant as game/variant)");
  }

  PromoteResult res;
  OrderedJson& entry = *matches[0].entry;
  res.what = matches[0].what;
  res.from = entry["channel"];
  res.to = channel;
  if (res.from == res.to) {
    res.notes.push_back(res.what + " is already in " + channel + "; nothing changed");
    return res;
  }
  if (catalog::channel_rank(res.to) < catalog::channel_rank(res.from))
    res.notes.push_back("demoting " + res.what + " from " + res.from + " to " + res.to +
                        ": users of " + res.from + " no longer see it");
  entry["channel"] = channel;
  auto saved = save_catalog_json(store, *cat);
  if (!saved) return fail(saved.error());
  res.notes.push_back(resign_note(store));
  return res;
}

namespace {

// Checks that each version's artifact is in the store with the listed size
// and sha256; counts the versions seen.
Result<void> check_artifacts(const std::string& store, const std::vector<catalog::Entry>& versions,
                             const std::string& where, size_t& count) {
  for (size_t k = 0; k < versions.size(); ++k) {
    const auto& e = versions[k];
    std::string place = where + ".versions[" + std::to_string(k) + "]";
    ++count;
    auto d = digest_file(fs::join(store, e.artifact));
    if (!d) {
      if (d.error().is(codes::kNotFound))
        return fail(Error{codes::kNotFound,
                          place + ".artifact: " + e.artifact + " is not in the store",
                          place + ".artifact",
                          {}});
      return fail(d.error().wrap(place + ".artifact"));
    }
    if (d->size != e.size)
      return fail(Error{codes::kHashMismatch,
                        place + ".size: catalog says " + std::to_string(e.size) + ", " +
                            e.artifact + " has " + std::to_string(d->size) + " bytes",
                        place + ".size",
                        {}});
    if (d->sha256 != e.sha256)
      return fail(Error{codes::kHashMismatch,
                        place + ".sha256: " + e.artifact + " hashes to " + d->sha256,
                        place + ".sha256",
                        {}});
  }
  return {};
}

// check_artifacts for every runtime, addon and game variant; returns the
// number of versions.
Result<size_t> check_all_artifacts(const std::string& store, const catalog::Catalog& cat) {
  size_t count = 0;
  for (size_t i = 0; i < cat.runtimes.size(); ++i)
    if (auto r = check_artifacts(store, cat.runtimes[i].versions,
                                 "runtimes[" + std::to_string(i) + "]", count);
        !r)
      return fail(r.error());
  for (size_t i = 0; i < cat.addons.size(); ++i)
    if (auto r = check_artifacts(store, cat.addons[i].versions, "addons[" + std::to_string(i) + "]",
                                 count);
        !r)
      return fail(r.error());
  for (size_t i = 0; i < cat.games.size(); ++i)
    for (size_t k = 0; k < cat.games[i].variants.size(); ++k)
      if (auto r = check_artifacts(
              store, cat.games[i].variants[k].versions,
              "games[" + std::to_string(i) + "].variants[" + std::to_string(k) + "]", count);
          !r)
        return fail(r.error());
  return count;
}

// Checks the store's catalog.json.sig over `text` with the public key.
Result<void> check_signature(const std::string& store, const std::string& text,
                             const std::string& public_key_path) {
  auto key = crypto::load_public_key(public_key_path);
  if (!key) return fail(key.error().wrap("load " + public_key_path));
  std::string sig_path = fs::join(store, kSignatureFile);
  auto sig = fs::read_file(sig_path, 4096);
  if (!sig) {
    if (sig.error().is(codes::kNotFound))
      return fail(codes::kBadSignature,
                  "signature: missing (" + sig_path + " does not exist; run zlhctl catalog sign)");
    return fail(sig.error());
  }
  if (auto v = catalog::verify_catalog_signature(text, *sig, *key); !v) {
    bool decodes = crypto::base64_decode(*sig).has_value();
    return fail(codes::kBadSignature, decodes ? "signature: stale or from another key (" +
                                                    v.error().message +
                                                    "; re-sign with zlhctl catalog sign)"
                                              : "signature: bad (" + v.error().message + ")");
  }
  return {};
}

}  // namespace

Result<ValidateReport> catalog_validate(const std::string& store,
                                        const std::string& public_key_path) {
  std::string path = fs::join(store, kCatalogFile);
  auto text = fs::read_file(path);
  if (!text) return fail(text.error());
  auto cat = catalog::parse_catalog(*text);
  if (!cat) return fail(cat.error());
  auto count = check_all_artifacts(store, *cat);
  if (!count) return fail(count.error());

  ValidateReport rep;
  rep.catalog_sha256 = crypto::sha256_hex(*text);
  size_t nr = cat->runtimes.size(), na = cat->addons.size(), ng = cat->games.size();
  rep.summary = std::to_string(nr) + plural(nr, " runtime, ", " runtimes, ") + std::to_string(na) +
                plural(na, " addon, ", " addons, ") + std::to_string(ng) +
                plural(ng, " game, ", " games, ") + std::to_string(*count) +
                plural(*count, " version", " versions");
  rep.signature = "not checked";
  if (public_key_path.empty()) return rep;
  if (auto r = check_signature(store, *text, public_key_path); !r) return fail(r.error());
  rep.signature = "ok";
  return rep;
}

Result<SignResult> catalog_sign(const std::string& store, const std::string& secret_key_path) {
  auto key = crypto::load_secret_key(secret_key_path);
  if (!key) return fail(key.error().wrap("load " + secret_key_path));
  auto lock = StoreLock::acquire(store);
  if (!lock) return fail(lock.error());
  auto text = fs::read_file(fs::join(store, kCatalogFile));
  if (!text) return fail(text.error());
  if (auto c = catalog::parse_catalog(*text); !c)
    return fail(c.error().wrap("refusing to sign an invalid catalog"));
  std::string sig = catalog::sign_catalog(*text, *key);
  if (auto v = catalog::verify_catalog_signature(*text, sig, key->public_key()); !v)
    return fail(v.error().wrap("signature does not verify with the key's own public half"));
  if (auto w = fs::write_file_atomic(fs::join(store, kSignatureFile), sig, 0644); !w)
    return fail(w.error());
  return SignResult{crypto::sha256_hex(*text)};
}

}  // namespace zlh::ctl
