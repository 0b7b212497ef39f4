// Installed runtimes under <root>/opt/zlh/runtimes (docs/design.md §4.2, §3.2).
//
// Layout:  runtimes/<id>/<version>/            a complete, verified install
//          runtimes/<id>/<version>/.zlh-runtime.json   its catalog entry (bin, env, sha256)
//          runtimes/<id>/current  -> <version>  the active version (symlink)
//          runtimes/<id>/previous -> <version>  what rollback returns to
//          runtimes/.staging/                   work in progress, discarded at start
//
// install(): catalog (signed) → cache (streamed, hashed) → extract into
// staging → verify command → atomic rename into place → atomic switch of
// `current` (the old current becomes `previous`). A version dir exists only
// complete: a kill -9 at any point leaves either nothing or the whole
// version. Installs are serialized per runtime id; a request for a version
// that is already installed answers from the marker file without touching
// the network (the "guard": milliseconds), so concurrent requests for one
// version share the first one's download.
//
// use()/rollback()/remove() switch or drop versions; remove() refuses the
// active version unless `force`. Every change of `current` calls on_change
// (the dev environment regenerates the profile).
//
// Errors: E_NOT_FOUND (not in the catalog / not installed), E_HASH_MISMATCH,
// E_BAD_SIGNATURE, E_BAD_ARCHIVE, E_VERIFY_FAILED, E_CONFLICT, E_UNAVAILABLE
// (no artifact server), E_IO.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/devenv/profile.hpp"
#include "agent/runtimes/cache.hpp"
#include "agent/runtimes/catalog_client.hpp"
#include "base/enum_names.hpp"

namespace zlh::agent::runtimes {

struct Installed {
  std::string runtime;
  std::string version;
  std::string path;      // absolute path of the version directory
  bool changed = false;  // false when the guard answered (already installed and active)
  nlohmann::json to_json() const {
    return {{"runtime", runtime}, {"version", version}, {"path", path}};
  }
};

// step text ("download runtime node 20.18.0") and 0..1 progress within the install.
using Progress = std::function<void(const std::string& step, double fraction)>;

// What a RuntimeManager installs: catalog runtimes or catalog addons.
enum class PackageKind { kRuntime, kAddon };
// "runtime", "addon": the word in step texts and errors ("runtime node 20").
inline constexpr EnumNames<PackageKind, 2> kPackageKindNames{{"runtime", "addon"}};
static_assert(kPackageKindNames.covers(PackageKind::kAddon));
inline std::string_view to_string(PackageKind k) { return kPackageKindNames.name(k); }

class RuntimeManager {
 public:
  // kRuntime installs catalog runtimes into opt/zlh/runtimes; kAddon
  // installs catalog addons into opt/zlh/services (same pipeline,
  // `verify` optional, the marker also keeps launch/port/health).
  RuntimeManager(std::string root, CatalogClient& catalog, ArtifactCache& cache,
                 PackageKind kind = PackageKind::kRuntime);

  // Removes staging left by a crash and cache temporaries. Call once at start.
  void discard_leftovers();
  // Who runs verify commands (the dev user when there is one). Default: the agent's user.
  void set_run_as(std::optional<uid_t> uid, std::optional<gid_t> gid, std::string user_name);
  void set_on_change(std::function<void()> f) { on_change_ = std::move(f); }

  Result<Installed> install(const std::string& id, const std::string& version,
                            const std::string& pinned_catalog_sha, const Progress& progress,
                            const std::atomic<bool>* cancel = nullptr);
  Result<Installed> use(const std::string& id, const std::string& version);
  Result<Installed> rollback(const std::string& id);
  Result<void> remove(const std::string& id, const std::string& version, bool force);

  // The guard's answer without taking the runtime's lock (read-only: the
  // marker and the `current` symlink): set when `version` is installed and
  // already current. Lets a request answer at once while another install of
  // the same runtime holds the lock.
  std::optional<Installed> if_current(const std::string& id, const std::string& version) const;

  nlohmann::json list() const;
  std::vector<devenv::ActiveRuntime> active() const;  // sorted by id
  std::string dir() const { return dir_; }

 private:
  std::mutex& lock_for(const std::string& id);
  Result<void> switch_current(const std::string& id, const std::string& version);
  bool installed(const std::string& id, const std::string& version) const;
  // Unpacks `archive` into `staging` and runs the entry's verify command
  // there; errors name `what` ("runtime node 20.18.0").
  Result<void> stage(const std::string& archive, const catalog::Entry& entry,
                     const std::string& staging, const std::string& what, const Progress& report,
                     const std::atomic<bool>* cancel) const;
  // The verify command, as the run-as user: E_VERIFY_FAILED when it cannot
  // run, times out or does not print what the catalog expects.
  Result<void> verify(const catalog::Entry& entry, const std::string& staging,
                      const std::string& what) const;

  // The catalog entry recorded for an installed version (the marker), or null.
 public:
  nlohmann::json marker(const std::string& id, const std::string& version) const;

 private:
  std::string root_, dir_;
  PackageKind kind_;
  CatalogClient& catalog_;
  ArtifactCache& cache_;
  std::optional<uid_t> uid_;
  std::optional<gid_t> gid_;
  std::string user_name_;
  std::function<void()> on_change_;
  std::mutex locks_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> locks_;
};

// Reads a symlink's target; empty when it is not a symlink.
std::string read_link(const std::string& path);
// Atomically points dir/name at target (temp symlink + rename).
Result<void> replace_symlink(const std::string& dir, const std::string& name,
                             const std::string& target);

}  // namespace zlh::agent::runtimes
