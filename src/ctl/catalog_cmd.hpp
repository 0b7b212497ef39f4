// zlhctl catalog init|add|promote|validate|sign (docs/design.md §4.3): build and
// maintain an artifact store.
//
// A store is a directory an artifact server publishes as-is: catalog.json,
// catalog.json.sig and the artifacts under runtimes/, addons/, games/. Private
// keys never belong in it. Every function takes the store directory and
// returns errors as values; nothing here prints. main.cpp only parses flags
// and prints what comes back.
//
// Guarantees shared by every call that writes catalog.json:
//  - The new catalog passes catalog::validate_catalog before anything is
//    written, and is replaced atomically (fs::write_file_atomic): readers see
//    the old or the new file, never a mix. It is pretty-printed (2-space
//    indent, trailing newline) and keeps the key order it had.
//  - Writers of one store are serialized by flock() on the store directory
//    (StoreLock); a second writer waits for the first. Safe from any thread or
//    process.
//  - Editing catalog.json makes catalog.json.sig stale. The stale .sig is kept
//    (agents then refuse the catalog with E_BAD_SIGNATURE: loud, not silent)
//    and the result carries a note asking the operator to re-sign.
//
// Errors: E_INVALID (bad flags, or the catalog does not validate; the message
// names the place, e.g. "runtimes[0].versions[1].sha256: ..."), E_NOT_FOUND
// (no catalog.json, no such file or entry), E_CONFLICT (already exists; pass
// force), E_HASH_MISMATCH (an artifact does not match its entry),
// E_BAD_SIGNATURE (missing, stale or garbage signature), E_IO.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/crypto.hpp"
#include "base/enum_names.hpp"
#include "base/error.hpp"
#include "proto/catalog.hpp"

namespace zlh::ctl {

using OrderedJson = nlohmann::ordered_json;

inline constexpr const char* kCatalogFile = "catalog.json";
inline constexpr const char* kSignatureFile = "catalog.json.sig";

// ---- commands ---------------------------------------------------------------

// catalog init: creates `store` (mkdir -p) and an empty catalog.json whose
// created_at is `now`. E_CONFLICT when catalog.json exists, unless `force`
// (then only catalog.json is replaced; artifacts stay).
Result<void> catalog_init(const std::string& store, bool force,
                          std::chrono::system_clock::time_point now);

// Which list of the catalog an item is in; the names are --kind's values,
// and the catalog's keys are the names with an "s" ("runtimes", ...).
enum class ItemKind { kRuntime, kAddon, kGame };
inline constexpr EnumNames<ItemKind, 3> kItemKindNames{{"runtime", "addon", "game"}};
static_assert(kItemKindNames.covers(ItemKind::kGame));
constexpr std::string_view to_string(ItemKind k) { return kItemKindNames.name(k); }

struct AddOptions {
  ItemKind kind = ItemKind::kRuntime;
  std::string id;
  std::string version;
  std::string file;  // artifact to copy into the store
  std::string channel = "dev";
  std::optional<int> strip;           // strip_components
  std::vector<std::string> bin;       // PATH dirs relative to the prefix
  std::vector<std::string> env;       // "KEY=VALUE"
  std::string verify;                 // "bin/node --version", split on whitespace
  std::optional<std::string> expect;  // default: the version
  std::string display;                // runtimes, addons: item display name
  bool make_default = false;          // clears "default" from sibling versions
  bool force = false;                 // replace an existing id+version
  // addons
  std::string launch;  // split on whitespace (placeholders such as {bind} stay)
  std::optional<int> port;
  std::string health;
  // games: entry lands in games[id].variants[variant]
  std::string variant;
  std::string java;
  std::string ready;
  std::optional<std::string> game_kind;     // "jar" (default) | "installer"
  std::optional<std::string> mods_dir;      // variant property
  std::optional<std::string> stop_command;  // default "stop"
  std::string backup;                       // the entry's "backup" block as JSON text ("" = none)
};

struct AddResult {
  std::string artifact;  // relative to the store
  std::string sha256;
  uint64_t size = 0;
  std::vector<std::string> notes;  // warnings and reminders for the operator
};

// catalog add: copies opt.file to runtimes|addons/<id>/<version>/<file name>
// (games: games/<id>/<variant>/<version>/<file name>, so variants of one
// version do not collide) atomically while hashing it, then records the
// entry. The catalog is validated with the new entry before the copy starts,
// so a refused add writes nothing. E_CONFLICT when id+version (and variant)
// is already listed, unless opt.force (then the entry and file are replaced
// in place).
Result<AddResult> catalog_add(const std::string& store, const AddOptions& opt);

struct PromoteResult {
  std::string what;  // "runtime node 20.18.0"
  std::string from;
  std::string to;
  std::vector<std::string> notes;
};

// catalog promote: sets the channel of one version. `id` names a runtime, an
// addon, a game ("minecraft", when one variant has that version) or a game
// variant ("minecraft/paper"). Any direction is allowed; a demotion adds a
// warning note; the same channel is a no-op (catalog untouched). E_NOT_FOUND
// when nothing matches, E_CONFLICT when several do, E_INVALID for an unknown
// channel.
Result<PromoteResult> catalog_promote(const std::string& store, const std::string& id,
                                      const std::string& version, const std::string& channel);

struct ValidateReport {
  std::string summary;    // "3 runtimes, 1 addon, 0 games, 7 versions"
  std::string signature;  // "ok" or "not checked"
  std::string catalog_sha256;
};

// catalog validate: catalog.json validates, every artifact exists in the store
// with the recorded size and sha256, and, when `public_key_path` is not empty,
// catalog.json.sig is a good signature under that key. Returns the first
// problem as the error (its message names the place); success means valid.
// Read-only; takes no lock.
Result<ValidateReport> catalog_validate(const std::string& store,
                                        const std::string& public_key_path);

struct SignResult {
  std::string catalog_sha256;
};

// catalog sign: writes catalog.json.sig (base64 + newline) atomically with the
// secret key at `secret_key_path`. Refuses (E_INVALID) to sign a catalog that
// does not validate.
Result<SignResult> catalog_sign(const std::string& store, const std::string& secret_key_path);

// ---- building blocks (also used by demo-store) -----------------------------

// RFC 3339 UTC with seconds, e.g. "2026-11-24T00:00:00Z".
std::string rfc3339(std::chrono::system_clock::time_point t);

// {"schema":1,"created_at":...,"runtimes":[],"addons":[],"games":[]}
OrderedJson empty_catalog(std::chrono::system_clock::time_point now);

// Reads <store>/catalog.json keeping its key order. E_NOT_FOUND when missing,
// E_INVALID when not JSON. It is not validated here.
Result<OrderedJson> load_catalog_json(const std::string& store);

// Validates `cat` and writes it to <store>/catalog.json atomically. Returns
// whether the bytes changed (unchanged content is not rewritten).
Result<bool> save_catalog_json(const std::string& store, const OrderedJson& cat);

// Validates ordered JSON with catalog::validate_catalog.
Result<catalog::Catalog> validate_ordered(const OrderedJson& cat);

// Where a version entry lives in the catalog.
struct EntrySlot {
  ItemKind kind = ItemKind::kRuntime;
  std::string id;                       // item or game id
  std::string variant;                  // games only
  std::string display;                  // when set, the item's display name is set to it
  std::optional<std::string> mods_dir;  // games: when set, the variant's mods_dir
};

// Inserts `entry` (which must hold "version") at `slot`, creating the item or
// game/variant as needed. An existing version is E_CONFLICT unless `replace`
// (then it is replaced in place). When entry["default"] is true the other
// versions of that item lose their "default" (a note says so). Pure JSON
// edit; validation is the caller's job.
Result<void> put_entry(OrderedJson& cat, const EntrySlot& slot, OrderedJson entry, bool replace,
                       std::vector<std::string>& notes);

// The reminder after catalog.json changed: stale or missing catalog.json.sig.
std::string resign_note(const std::string& store);

// Splits on runs of spaces/tabs; no quoting.
std::vector<std::string> split_words(std::string_view s);

// Exclusive flock() on the store directory, released on destruction. Blocks
// until the lock is free. Move-only.
class StoreLock {
 public:
  static Result<StoreLock> acquire(const std::string& store);
  StoreLock(StoreLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  StoreLock& operator=(StoreLock&&) = delete;
  StoreLock(const StoreLock&) = delete;
  ~StoreLock();

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_;
};

struct ArtifactDigest {
  std::string sha256;
  uint64_t size = 0;
};

// Writes one artifact atomically while hashing it: bytes go to a hidden
// temporary file beside `final_path`; commit() fsyncs, renames it over
// `final_path` and fsyncs the directory. Destroying an uncommitted writer
// removes the temporary file, so a failed or interrupted build leaves the old
// artifact (or none) in place. Not copyable or movable; one thread.
class ArtifactWriter {
 public:
  ArtifactWriter() = default;
  ArtifactWriter(const ArtifactWriter&) = delete;
  ArtifactWriter& operator=(const ArtifactWriter&) = delete;
  ~ArtifactWriter();

  // Creates the parent directories and the temporary file.
  Result<void> open(const std::string& final_path);
  Result<void> write(std::string_view data);
  Result<ArtifactDigest> commit();

 private:
  std::string final_path_;
  std::string tmp_path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::unique_ptr<crypto::Sha256> hash_;
};

// Copies `src` (a regular file) to `dst` through an ArtifactWriter.
Result<ArtifactDigest> copy_artifact(const std::string& src, const std::string& dst);

// Streams a file through SHA-256 and counts its bytes.
Result<ArtifactDigest> digest_file(const std::string& path);

}  // namespace zlh::ctl
