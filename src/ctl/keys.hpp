// zlhctl keygen: the key files of docs/design.md §4.3.
// Writes DIR/api.key, DIR/api.pub, DIR/catalog.key, DIR/catalog.pub (base64
// text; *.key mode 0600, *.pub 0644; DIR created 0700). Refuses to overwrite
// an existing key (E_CONFLICT) unless `force`, so a stray re-run never
// invalidates every token and signature in the field. Each file is written
// atomically.
#pragma once

#include <string>

#include "base/error.hpp"

namespace zlh::ctl {

Result<void> keygen(const std::string& dir, bool force);

// zlhctl token: a signed agent token (docs/design.md §3.3) for `vmid`, valid `ttl` s,
// for one request: `method` on `target` (path and query), once.
Result<std::string> make_token(const std::string& key_path, int64_t vmid, int64_t ttl, int64_t now,
                               const std::string& method, const std::string& target);

}  // namespace zlh::ctl
