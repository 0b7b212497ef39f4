#include "ctl/keys.hpp"

#include <sys/stat.h>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "proto/jws.hpp"

namespace zlh::ctl {

Result<void> keygen(const std::string& dir, bool force) {
  if (auto r = fs::make_dirs(dir, 0700); !r) return r;
  if (!force) {
    for (const char* f : {"api.key", "api.pub", "catalog.key", "catalog.pub"}) {
      struct stat st {};
      std::string path = fs::join(dir, f);
      if (::lstat(path.c_str(), &st) == 0)
        return fail(codes::kConflict, path + " exists; refusing to overwrite keys (use --force)");
    }
  }
  for (const char* name : {"api", "catalog"}) {
    auto kp = crypto::ed25519_generate();
    if (auto r = fs::write_file_atomic(fs::join(dir, std::string(name) + ".key"),
                                       crypto::format_secret_key(kp.sec), 0600);
        !r)
      return r;
    if (auto r = fs::write_file_atomic(fs::join(dir, std::string(name) + ".pub"),
                                       crypto::format_public_key(kp.pub), 0644);
        !r)
      return r;
  }
  return {};
}

Result<std::string> make_token(const std::string& key_path, int64_t vmid, int64_t ttl, int64_t now,
                               const std::string& method, const std::string& target) {
  auto key = crypto::load_secret_key(key_path);
  if (!key) return fail(key.error());
  return jws::mint_agent_token(*key, vmid, ttl, now, method, target);
}

}  // namespace zlh::ctl
