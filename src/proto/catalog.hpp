// The signed artifact catalog (docs/design.md §4.1): model, validation, signature.
//
// parse_catalog() validates everything the design lists and reports the first
// problem with its place, e.g.
//   runtimes[0].versions[1].sha256: must be 64 lowercase hex digits
// as E_INVALID with Error::field set to that place. The catalog's raw JSON is
// kept (Catalog::raw) so tools can edit it without losing fields.
//
// verify_catalog_signature(): catalog.json.sig is the base64 Ed25519 signature
// of the exact bytes of catalog.json; anything else is E_BAD_SIGNATURE.
//
// Thread-safety: pure functions; a Catalog is a plain value.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/crypto.hpp"
#include "base/error.hpp"

namespace zlh::catalog {

inline constexpr const char* kChannels[] = {"dev", "beta", "stable"};
bool valid_channel(std::string_view c);
// Channel rank: dev 0 < beta 1 < stable 2; -1 when unknown.
int channel_rank(std::string_view c);

// Compares dotted versions as versions: numeric parts numerically
// ("1.9" < "1.21"), others lexically; a pre-release suffix ("-rc1") sorts
// before the release. Returns <0, 0, >0.
int compare_versions(std::string_view a, std::string_view b);

struct Verify {
  std::vector<std::string> cmd;  // cmd[0] relative to the install prefix
  std::string expect;            // substring the output must contain
};

// A game entry's optional "backup" block (docs/backups.md): the console
// commands that make the world files consistent for an archive. `pause` is
// sent in order, then the console is watched for a line matching `saved`
// (ECMAScript regex, only lines printed after the last pause command was
// sent) for at most timeout_s; after the archive `resume` is sent, always.
// Commands: non-empty, no control characters, at most kMaxBackupCommand
// bytes, at most kMaxBackupCommands of each.
inline constexpr size_t kMaxBackupCommand = 256;
inline constexpr size_t kMaxBackupCommands = 8;
struct BackupSpec {
  std::vector<std::string> pause;
  std::string saved;
  std::vector<std::string> resume;
  int timeout_s = 120;  // 1..600
};

// E_INVALID naming the place ("<where>.pause[1]") when `v` is not a valid
// backup block. Shared by the catalog and the agent's game record.
Result<BackupSpec> parse_backup_spec(const nlohmann::json& v, const std::string& where);
nlohmann::json to_json(const BackupSpec& b);
// E_INVALID (field `where`) unless `cmd` is a console line a backup block
// (or a console command route) may send: non-empty, <= kMaxBackupCommand
// bytes, no control characters.
Result<void> check_console_line(std::string_view cmd, const std::string& where);

struct Entry {  // one version of a runtime, addon or game variant
  std::string version;
  std::string channel;
  bool is_default = false;
  std::string artifact;  // relative path on the artifact server
  std::string sha256;
  uint64_t size = 0;
  int strip_components = 0;
  std::vector<std::string> bin;            // runtimes: dirs (relative to prefix) added to PATH
  std::map<std::string, std::string> env;  // runtimes: "{prefix}" is replaced
  std::optional<Verify> verify;            // required for runtimes
  std::vector<std::string> launch;         // addons (required)
  int port = 0;                            // addons
  std::string health;                      // addons
  std::string java;                        // games: Java runtime version
  std::string kind;                        // games: "jar" | "installer"
  std::string ready;                       // games: regex for "running"
  nlohmann::json stop;                     // games: {"type","value"}
  std::optional<BackupSpec> backup;        // games: how to pause saving (none: not paused)
};

struct Item {  // a runtime or an addon
  std::string id;
  std::string display;
  std::vector<Entry> versions;
  const Entry* find(std::string_view version) const;
  // The entry marked default in `channel` or better, else the highest version there.
  const Entry* default_entry(std::string_view min_channel = "stable") const;
};

struct Variant {
  std::string id;
  std::string mods_dir;
  std::vector<Entry> versions;
  const Entry* find(std::string_view version) const;
};

struct Game {
  std::string id;
  std::vector<Variant> variants;
  const Variant* find(std::string_view variant) const;
};

struct Catalog {
  int schema = 1;
  std::string created_at;
  std::vector<Item> runtimes;
  std::vector<Item> addons;
  std::vector<Game> games;
  nlohmann::json raw;

  const Item* runtime(std::string_view id) const;
  const Item* addon(std::string_view id) const;
  const Game* game(std::string_view id) const;
};

Result<Catalog> parse_catalog(std::string_view text);
Result<Catalog> validate_catalog(const nlohmann::json& j);

// E_BAD_SIGNATURE unless `sig_text` (base64, surrounding whitespace ignored)
// is a valid signature of exactly `catalog_bytes` under `key`.
Result<void> verify_catalog_signature(std::string_view catalog_bytes, std::string_view sig_text,
                                      const crypto::Ed25519PublicKey& key);
// base64 signature text (with a trailing newline) for catalog.json.sig.
std::string sign_catalog(std::string_view catalog_bytes, const crypto::Ed25519SecretKey& key);

// True when `p` is a safe relative artifact path: not empty, not absolute, no
// "." or ".." segment, no empty segment, no backslash or NUL.
bool safe_relative_path(std::string_view p);

}  // namespace zlh::catalog
