// Mods and plugins of a game server (docs/design.md §9).
//
// Enabled mods are the `.jar` files in <server>/<mods_dir> (the catalog
// variant's directory: "mods", "plugins"); disabled ones live in
// <server>/<mods_dir>-disabled. A mod's id is its file name without ".jar";
// ids are only looked up among existing files, never used to build a path
// outside those two directories (check_file_name refuses '/', '..', NUL).
// Vanilla (a variant without mods_dir) has no mods: E_INVALID (400).
// Before the game is installed: E_CONFLICT.
//
// install_artifact() downloads `artifact` (a path on the artifact server)
// through the verified cache (sha256 must match, else E_HASH_MISMATCH) and
// puts it in the mods directory atomically; uploads use the streamed upload
// sink into upload_dir(). Every change answers `restart_required`: true when
// the server is running (it loads mods at start), and GET /mods keeps saying
// so until that server process is gone.
//
// Thread-safety: all methods may be called from any thread; changes are
// serialized by one mutex. sha256 values are cached by (path, size, mtime).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/files/file_store.hpp"
#include "agent/runtimes/cache.hpp"
#include "agent/supervisor/supervisor.hpp"
#include "base/error.hpp"

namespace zlh::agent::mods {

class ModManager {
 public:
  ModManager(std::string root, runtimes::ArtifactCache& cache, std::string artifacts_base,
             supervisor::Supervisor& supervisor,
             std::function<std::optional<files::Owner>()> owner);

  // {mods_dir, restart_required, mods:[{id,file,enabled,size,sha256}]} sorted by id
  // (GET /mods sends the array, the other two as X-ZLH-* headers).
  Result<nlohmann::json> list();
  Result<nlohmann::json> install_artifact(const std::string& artifact, const std::string& sha256,
                                          const std::atomic<bool>* cancel);
  Result<nlohmann::json> set_enabled(const std::string& id, bool enabled);
  Result<nlohmann::json> remove(const std::string& id);

  struct UploadTarget {
    files::FileStore store;  // the server directory
    std::string dir;         // mods_dir
  };
  // Where uploaded jars go (checks game + mods_dir like the other calls).
  Result<UploadTarget> upload_target();
  // Records that the mods changed; returns restart_required.
  bool note_change();

 private:
  Result<std::string> mods_dir() const;  // E_CONFLICT / E_INVALID as above
  Result<files::FileStore> store() const;
  // The mods dir, the jar file name for mod `id` and the store they live in;
  // errors of mods_dir, the id check and store, in that order. With mu_ held.
  struct ModFile {
    std::string dir;
    std::string file;
    files::FileStore store;
  };
  Result<ModFile> locate(const std::string& id) const;
  std::string sha256_of(int dir_fd, const std::string& dir, const std::string& file, uint64_t size,
                        int64_t mtime_ns);
  bool workload_running(pid_t* pid) const;

  std::string root_, server_dir_;
  runtimes::ArtifactCache& cache_;
  std::string artifacts_base_;
  supervisor::Supervisor& supervisor_;
  std::function<std::optional<files::Owner>()> owner_;
  std::mutex mu_;
  std::map<std::string, std::tuple<uint64_t, int64_t, std::string>> sha_cache_;
  std::atomic<pid_t> changed_under_pid_{
      0};  // the server process that has not seen the latest change
};

}  // namespace zlh::agent::mods
