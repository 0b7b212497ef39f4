#include "proto/catalog.hpp"

#include <regex>
#include <set>

#include "proto/ids.hpp"

namespace zlh::catalog {
namespace {
using nlohmann::json;

std::unexpected<Error> bad(const std::string& where, const std::string& msg) {
  return std::unexpected(Error::invalid(where, where + ": " + msg));
}

bool valid_env_key(std::string_view s) {
  if (s.empty() || s.size() > 64 || std::isdigit(uint8_t(s[0]))) return false;
  for (char c : s)
    if (!(std::isupper(uint8_t(c)) || std::isdigit(uint8_t(c)) || c == '_')) return false;
  return true;
}

Result<std::string> req_string(const json& o, const char* k, const std::string& where) {
  auto it = o.find(k);
  if (it == o.end()) return bad(where + "." + k, "is required");
  if (!it->is_string()) return bad(where + "." + k, "must be a string");
  return it->get<std::string>();
}

Result<std::vector<std::string>> string_array(const json& v, const std::string& where) {
  if (!v.is_array()) return bad(where, "must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) return bad(where + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

enum class Kind { kRuntime, kAddon, kGame };

// The element of xs whose `field` equals key, or nullptr.
template <class T>
const T* find_by(const std::vector<T>& xs, std::string T::*field, std::string_view key) {
  for (const auto& x : xs)
    if (x.*field == key) return &x;
  return nullptr;
}

// The fields every entry has: version, channel, default, artifact, sha256,
// size.
Result<void> parse_artifact(const json& v, const std::string& where, Entry& e) {
  auto version = req_string(v, "version", where);
  if (!version) return fail(version.error());
  if (!proto::valid_version(*version))
    return bad(where + ".version", "\"" + *version + "\" is not a valid version");
  e.version = *version;
  auto channel = req_string(v, "channel", where);
  if (!channel) return fail(channel.error());
  if (!valid_channel(*channel))
    return bad(where + ".channel", "unknown channel \"" + *channel + "\" (dev, beta, stable)");
  e.channel = *channel;
  if (auto it = v.find("default"); it != v.end()) {
    if (!it->is_boolean()) return bad(where + ".default", "must be true or false");
    e.is_default = it->get<bool>();
  }
  auto artifact = req_string(v, "artifact", where);
  if (!artifact) return fail(artifact.error());
  if (!safe_relative_path(*artifact))
    return bad(where + ".artifact",
               "must be a relative path without \"..\" (got \"" + *artifact + "\")");
  e.artifact = *artifact;
  auto sha = req_string(v, "sha256", where);
  if (!sha) return fail(sha.error());
  if (!proto::is_hex64(*sha)) return bad(where + ".sha256", "must be 64 lowercase hex digits");
  e.sha256 = *sha;
  auto size = v.find("size");
  if (size == v.end()) return bad(where + ".size", "is required");
  if (!size->is_number_integer() || size->get<int64_t>() < 0)
    return bad(where + ".size", "must be a non-negative integer");
  e.size = size->get<uint64_t>();
  return {};
}

// How the artifact is unpacked and put on PATH: strip_components, bin, env.
Result<void> parse_install(const json& v, const std::string& where, Entry& e) {
  if (auto it = v.find("strip_components"); it != v.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 16)
      return bad(where + ".strip_components", "must be an integer between 0 and 16");
    e.strip_components = it->get<int>();
  }
  if (auto it = v.find("bin"); it != v.end()) {
    auto bins = string_array(*it, where + ".bin");
    if (!bins) return fail(bins.error());
    for (size_t i = 0; i < bins->size(); ++i)
      if ((*bins)[i] != "." && !safe_relative_path((*bins)[i]))
        return bad(where + ".bin[" + std::to_string(i) + "]",
                   "must be a relative path inside the prefix");
    e.bin = *bins;
  }
  if (auto it = v.find("env"); it != v.end()) {
    if (!it->is_object()) return bad(where + ".env", "must be an object of strings");
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      if (!valid_env_key(kv.key())) return bad(where + ".env." + kv.key(), "invalid variable name");
      if (!kv->is_string()) return bad(where + ".env." + kv.key(), "must be a string");
      std::string val = kv->get<std::string>();
      if (val.find_first_of("\n\r\"'`$\\") != std::string::npos)
        return bad(where + ".env." + kv.key(),
                   "must not contain quotes, newlines, $ or backslashes");
      e.env[kv.key()] = val;
    }
  }
  return {};
}

// verify {cmd, expect}: required for runtimes.
Result<void> parse_verify(const json& v, const std::string& where, Kind kind, Entry& e) {
  auto it = v.find("verify");
  if (it == v.end()) {
    if (kind == Kind::kRuntime) return bad(where + ".verify", "is required for runtimes");
    return {};
  }
  if (!it->is_object()) return bad(where + ".verify", "must be an object {cmd, expect}");
  auto cmd = it->find("cmd");
  if (cmd == it->end()) return bad(where + ".verify.cmd", "is required");
  auto argv = string_array(*cmd, where + ".verify.cmd");
  if (!argv) return fail(argv.error());
  if (argv->empty()) return bad(where + ".verify.cmd", "must not be empty");
  if (!safe_relative_path((*argv)[0]))
    return bad(where + ".verify.cmd[0]", "must be a path relative to the prefix");
  auto expect = req_string(*it, "expect", where + ".verify");
  if (!expect) return fail(expect.error());
  e.verify = Verify{*argv, *expect};
  return {};
}

// How an addon runs: launch (required for addons), port, health.
Result<void> parse_service(const json& v, const std::string& where, Kind kind, Entry& e) {
  if (auto it = v.find("launch"); it != v.end()) {
    auto argv = string_array(*it, where + ".launch");
    if (!argv) return fail(argv.error());
    if (argv->empty()) return bad(where + ".launch", "must not be empty");
    e.launch = *argv;
  } else if (kind == Kind::kAddon) {
    return bad(where + ".launch", "is required for addons");
  }
  if (auto it = v.find("port"); it != v.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 65535)
      return bad(where + ".port", "must be between 1 and 65535");
    e.port = it->get<int>();
  }
  if (auto it = v.find("health"); it != v.end()) {
    if (!it->is_string() || !it->get<std::string>().starts_with("/"))
      return bad(where + ".health", "must be a path starting with /");
    e.health = it->get<std::string>();
  }
  return {};
}

Result<std::vector<std::string>> backup_commands(const json& b, const char* key,
                                                 const std::string& where, bool required) {
  const std::string w = where + "." + key;
  auto it = b.find(key);
  if (it == b.end()) {
    if (required) return bad(w, "is required");
    return std::vector<std::string>{};
  }
  auto cmds = string_array(*it, w);
  if (!cmds) return fail(cmds.error());
  if (cmds->size() > kMaxBackupCommands)
    return bad(w, "at most " + std::to_string(kMaxBackupCommands) + " commands");
  for (size_t i = 0; i < cmds->size(); ++i)
    if (auto r = check_console_line((*cmds)[i], w + "[" + std::to_string(i) + "]"); !r)
      return fail(r.error());
  return cmds;
}
}  // namespace

Result<void> check_console_line(std::string_view cmd, const std::string& where) {
  if (cmd.empty()) return bad(where, "must not be empty");
  if (cmd.size() > kMaxBackupCommand)
    return bad(where, "must be at most " + std::to_string(kMaxBackupCommand) + " bytes");
  for (unsigned char c : cmd)
    if (c < 0x20 || c == 0x7f) return bad(where, "must not contain control characters");
  return {};
}

Result<BackupSpec> parse_backup_spec(const json& v, const std::string& where) {
  if (!v.is_object()) return bad(where, "must be an object");
  for (const auto& [k, _] : v.items())
    if (k != "pause" && k != "saved" && k != "resume" && k != "timeout_s")
      return bad(where + "." + k, "is not a known field");
  BackupSpec b;
  auto pause = backup_commands(v, "pause", where, true);
  if (!pause) return fail(pause.error());
  if (pause->empty()) return bad(where + ".pause", "must name at least one command");
  b.pause = std::move(*pause);
  auto saved = req_string(v, "saved", where);
  if (!saved) return fail(saved.error());
  if (saved->empty()) return bad(where + ".saved", "must not be empty");
  try {
    std::regex re(*saved);
  } catch (const std::regex_error&) {
    return bad(where + ".saved", "is not a valid regular expression");
  }
  b.saved = std::move(*saved);
  auto resume = backup_commands(v, "resume", where, false);
  if (!resume) return fail(resume.error());
  b.resume = std::move(*resume);
  if (auto it = v.find("timeout_s"); it != v.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 600)
      return bad(where + ".timeout_s", "must be an integer from 1 to 600");
    b.timeout_s = it->get<int>();
  }
  return b;
}

json to_json(const BackupSpec& b) {
  return {{"pause", b.pause}, {"saved", b.saved}, {"resume", b.resume}, {"timeout_s", b.timeout_s}};
}

namespace {
// A game entry's own fields: java, kind, ready, stop, backup.
Result<void> parse_game(const json& v, const std::string& where, Entry& e) {
  auto java = req_string(v, "java", where);
  if (!java) return fail(java.error());
  if (!proto::valid_version(*java))
    return bad(where + ".java", "must be a Java runtime version such as \"21\"");
  e.java = *java;
  auto k = req_string(v, "kind", where);
  if (!k) return fail(k.error());
  if (*k != "jar" && *k != "installer")
    return bad(where + ".kind", "must be \"jar\" or \"installer\"");
  e.kind = *k;
  if (auto it = v.find("ready"); it != v.end()) {
    if (!it->is_string()) return bad(where + ".ready", "must be a string");
    try {
      std::regex re(it->get<std::string>());
    } catch (const std::regex_error&) {
      return bad(where + ".ready", "is not a valid regular expression");
    }
    e.ready = it->get<std::string>();
  }
  if (auto it = v.find("stop"); it != v.end()) {
    if (!it->is_object() || !it->contains("type") || !(*it)["type"].is_string() ||
        !it->contains("value") || !(*it)["value"].is_string())
      return bad(where + ".stop", "must be {\"type\": \"command\"|\"signal\", \"value\": string}");
    std::string t = (*it)["type"];
    if (t != "command" && t != "signal")
      return bad(where + ".stop.type", "must be \"command\" or \"signal\"");
    e.stop = *it;
  }
  if (auto it = v.find("backup"); it != v.end()) {
    auto b = parse_backup_spec(*it, where + ".backup");
    if (!b) return fail(b.error());
    e.backup = std::move(*b);
  }
  return {};
}

Result<Entry> parse_entry(const json& v, const std::string& where, Kind kind) {
  if (!v.is_object()) return bad(where, "must be an object");
  Entry e;
  if (auto r = parse_artifact(v, where, e); !r) return fail(r.error());
  if (auto r = parse_install(v, where, e); !r) return fail(r.error());
  if (auto r = parse_verify(v, where, kind, e); !r) return fail(r.error());
  if (auto r = parse_service(v, where, kind, e); !r) return fail(r.error());
  if (kind == Kind::kGame)
    if (auto r = parse_game(v, where, e); !r) return fail(r.error());
  return e;
}

Result<std::vector<Entry>> parse_versions(const json& item, const std::string& where, Kind kind) {
  auto it = item.find("versions");
  if (it == item.end()) return bad(where + ".versions", "is required");
  if (!it->is_array() || it->empty()) return bad(where + ".versions", "must be a non-empty array");
  std::vector<Entry> out;
  std::set<std::string> seen;
  int defaults = 0;
  for (size_t i = 0; i < it->size(); ++i) {
    std::string w = where + ".versions[" + std::to_string(i) + "]";
    auto e = parse_entry((*it)[i], w, kind);
    if (!e) return fail(e.error());
    if (!seen.insert(e->version).second)
      return bad(w + ".version", "duplicate version \"" + e->version + "\"");
    if (e->is_default && ++defaults > 1)
      return bad(w + ".default", "more than one default version");
    out.push_back(std::move(*e));
  }
  return out;
}

// The id of the list element o at `where`: o must be an object, its id
// valid and not in `seen` (it is added).
Result<std::string> element_id(const json& o, const std::string& where,
                               std::set<std::string>& seen) {
  if (!o.is_object()) return bad(where, "must be an object");
  auto id = req_string(o, "id", where);
  if (!id) return fail(id.error());
  if (!proto::valid_id(*id))
    return bad(where + ".id", "\"" + *id + "\" must match [a-z0-9][a-z0-9_-]{0,31}");
  if (!seen.insert(*id).second) return bad(where + ".id", "duplicate id \"" + *id + "\"");
  return *id;
}

// The optional string field `key` of o into out; `msg` (at where.key) when
// it is not a string or `valid` (if given) refuses it.
Result<void> opt_string(const json& o, const char* key, const std::string& where,
                        bool (*valid)(std::string_view), const char* msg, std::string& out) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (!it->is_string() || (valid && !valid(it->get<std::string>())))
    return bad(where + "." + key, msg);
  out = it->get<std::string>();
  return {};
}

Result<std::vector<Item>> parse_items(const json& root, const char* key, Kind kind) {
  std::vector<Item> out;
  auto it = root.find(key);
  if (it == root.end()) return out;
  if (!it->is_array()) return bad(key, "must be an array");
  std::set<std::string> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    const json& o = (*it)[i];
    auto id = element_id(o, where, ids);
    if (!id) return fail(id.error());
    Item item;
    item.id = *id;
    if (auto r = opt_string(o, "display", where, nullptr, "must be a string", item.display); !r)
      return fail(r.error());
    auto versions = parse_versions(o, where, kind);
    if (!versions) return fail(versions.error());
    item.versions = std::move(*versions);
    out.push_back(std::move(item));
  }
  return out;
}

// One game's variants: each with a unique id, an optional mods_dir and
// its versions.
Result<std::vector<Variant>> parse_variants(const json& o, const std::string& where) {
  auto vs = o.find("variants");
  if (vs == o.end() || !vs->is_array() || vs->empty())
    return bad(where + ".variants", "must be a non-empty array");
  std::vector<Variant> out;
  std::set<std::string> vids;
  for (size_t k = 0; k < vs->size(); ++k) {
    std::string vw = where + ".variants[" + std::to_string(k) + "]";
    const json& vo = (*vs)[k];
    auto vid = element_id(vo, vw, vids);
    if (!vid) return fail(vid.error());
    Variant v;
    v.id = *vid;
    if (auto r = opt_string(vo, "mods_dir", vw, safe_relative_path,
                            "must be a relative path without \"..\"", v.mods_dir);
        !r)
      return fail(r.error());
    auto versions = parse_versions(vo, vw, Kind::kGame);
    if (!versions) return fail(versions.error());
    v.versions = std::move(*versions);
    out.push_back(std::move(v));
  }
  return out;
}

// The catalog's games (optional): each with a unique id and its variants.
Result<std::vector<Game>> parse_games(const json& root) {
  std::vector<Game> out;
  auto it = root.find("games");
  if (it == root.end()) return out;
  if (!it->is_array()) return bad("games", "must be an array");
  std::set<std::string> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    std::string where = "games[" + std::to_string(i) + "]";
    auto id = element_id((*it)[i], where, ids);
    if (!id) return fail(id.error());
    Game g;
    g.id = *id;
    auto variants = parse_variants((*it)[i], where);
    if (!variants) return fail(variants.error());
    g.variants = std::move(*variants);
    out.push_back(std::move(g));
  }
  return out;
}
}  // namespace

bool valid_channel(std::string_view c) { return channel_rank(c) >= 0; }

int channel_rank(std::string_view c) {
  for (int i = 0; i < 3; ++i)
    if (c == kChannels[i]) return i;
  return -1;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto split_pre = [](std::string_view v) {
    auto dash = v.find('-');
    return std::pair{v.substr(0, dash),
                     dash == std::string_view::npos ? std::string_view{} : v.substr(dash + 1)};
  };
  auto [ma, pa] = split_pre(a);
  auto [mb, pb] = split_pre(b);
  auto next = [](std::string_view& s) {
    auto dot = s.find_first_of(".+_");
    std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    return part;
  };
  auto cmp_part = [](std::string_view x, std::string_view y) {
    bool nx = !x.empty() && std::all_of(x.begin(), x.end(), ::isdigit);
    bool ny = !y.empty() && std::all_of(y.begin(), y.end(), ::isdigit);
    if (nx && ny) {
      while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
      while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    }
    if (nx != ny) return nx ? 1 : -1;  // numbers sort after words ("1.rc" < "1.0")
    int c = x.compare(y);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  };
  while (!ma.empty() || !mb.empty()) {
    auto x = next(ma), y = next(mb);
    if (x.empty() && y.empty()) continue;
    if (x.empty()) return -1;
    if (y.empty()) return 1;
    if (int c = cmp_part(x, y)) return c;
  }
  if (pa.empty() != pb.empty()) return pa.empty() ? 1 : -1;  // release > pre-release
  while (!pa.empty() || !pb.empty()) {
    auto x = next(pa), y = next(pb);
    if (x.empty()) return y.empty() ? 0 : -1;
    if (y.empty()) return 1;
    if (int c = cmp_part(x, y)) return c;
  }
  return 0;
}

bool safe_relative_path(std::string_view p) {
  if (p.empty() || p.size() > 1024 || p.front() == '/') return false;
  if (p.find('\\') != std::string_view::npos || p.find('\0') != std::string_view::npos)
    return false;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view seg = p.substr(i, j - i);
    if (seg.empty() || seg == "." || seg == "..") return false;
    i = j + 1;
  }
  return true;
}

const Entry* Item::find(std::string_view version) const {
  return find_by(versions, &Entry::version, version);
}

const Entry* Item::default_entry(std::string_view min_channel) const {
  int min = channel_rank(min_channel);
  const Entry* best = nullptr;
  for (const auto& e : versions) {
    if (channel_rank(e.channel) < min) continue;
    if (e.is_default) return &e;
    if (!best || compare_versions(e.version, best->version) > 0) best = &e;
  }
  return best;
}

const Entry* Variant::find(std::string_view version) const {
  return find_by(versions, &Entry::version, version);
}

const Variant* Game::find(std::string_view variant) const {
  return find_by(variants, &Variant::id, variant);
}

const Item* Catalog::runtime(std::string_view id) const { return find_by(runtimes, &Item::id, id); }
const Item* Catalog::addon(std::string_view id) const { return find_by(addons, &Item::id, id); }
const Game* Catalog::game(std::string_view id) const { return find_by(games, &Game::id, id); }

Result<Catalog> validate_catalog(const json& j) {
  if (!j.is_object()) return bad("catalog", "must be a JSON object");
  Catalog c;
  auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_number_integer() || schema->get<int64_t>() != 1)
    return bad("schema", "must be 1");
  if (auto it = j.find("created_at"); it != j.end()) {
    if (!it->is_string()) return bad("created_at", "must be a string");
    c.created_at = it->get<std::string>();
  }
  auto rts = parse_items(j, "runtimes", Kind::kRuntime);
  if (!rts) return fail(rts.error());
  c.runtimes = std::move(*rts);
  auto addons = parse_items(j, "addons", Kind::kAddon);
  if (!addons) return fail(addons.error());
  c.addons = std::move(*addons);
  auto games = parse_games(j);
  if (!games) return fail(games.error());
  c.games = std::move(*games);
  c.raw = j;
  return c;
}

Result<Catalog> parse_catalog(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return bad("catalog", "not valid JSON");
  return validate_catalog(j);
}

Result<void> verify_catalog_signature(std::string_view catalog_bytes, std::string_view sig_text,
                                      const crypto::Ed25519PublicKey& key) {
  auto sig = crypto::base64_decode(sig_text);
  if (!sig || sig->size() != 64)
    return fail(codes::kBadSignature, "catalog.json.sig is not a base64 Ed25519 signature");
  if (!crypto::ed25519_verify(key, catalog_bytes, *sig))
    return fail(codes::kBadSignature, "catalog.json does not match its signature");
  return {};
}

std::string sign_catalog(std::string_view catalog_bytes, const crypto::Ed25519SecretKey& key) {
  return crypto::base64_encode(crypto::ed25519_sign(key, catalog_bytes)) + "\n";
}

}  // namespace zlh::catalog
