// The verified artifact cache: <root>/opt/zlh/cache/<sha256>.
//
// get() returns the path of a cache file whose content has the given sha256
// and size. A miss downloads the artifact streaming into a temporary file in
// the cache directory while hashing it (one pass, constant memory), then
// compares size and sha256: a mismatch is E_HASH_MISMATCH and the temporary
// file is removed, so a failed or interrupted download never leaves a cache
// entry. Only verified files are renamed to their sha256 name, which is why a
// hit is trusted without re-hashing (its size is still checked).
// Thread-safety: get() may run concurrently; two downloads of the same sha256
// both verify and the second rename is harmless (the runtime manager
// serializes installs per runtime, so this does not happen in practice).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "agent/runtimes/fetcher.hpp"
#include "base/error.hpp"

namespace zlh::agent::runtimes {

class ArtifactCache {
 public:
  ArtifactCache(std::string dir, Fetcher& fetcher) : dir_(std::move(dir)), fetcher_(fetcher) {}

  // For artifacts the catalog does not list (mods: only a sha256 is given):
  // any size up to kMaxUnknownSize; the sha256 still has to match.
  static constexpr uint64_t kUnknownSize = ~uint64_t(0);
  static constexpr uint64_t kMaxUnknownSize = uint64_t(1) << 30;
  // progress(bytes_done, bytes_total) during a download.
  Result<std::string> get(const std::string& url, const std::string& sha256, uint64_t size,
                          const std::function<void(uint64_t, uint64_t)>& progress,
                          const std::atomic<bool>* cancel = nullptr);
  // Removes temporaries left by a crash. Call at start, before any get().
  void discard_temporaries();
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  Fetcher& fetcher_;
};

}  // namespace zlh::agent::runtimes
