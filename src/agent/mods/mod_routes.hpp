// The agent's /mods routes (docs/design.md §9): thin handlers over ModManager.
// POST /mods/install takes either JSON {artifact, sha256} (downloaded from
// the artifact server on a task thread) or a multipart upload of .jar files
// (streamed to disk like /files/upload).
#pragma once

#include <cstdint>

#include "agent/mods/mods.hpp"
#include "agent/tasks.hpp"
#include "http/http.hpp"

namespace zlh::agent::mods {

// `mods` and `tasks` must outlive the router.
void add_mod_routes(http::Router& r, ModManager& mods, TaskRunner& tasks,
                    uint64_t max_upload_bytes);

}  // namespace zlh::agent::mods
