// The body of POST /api/servers (docs/design.md §4): parsed and checked before
// anything is created.
//
// parse_create_request() is pure: the driver's limits and the pinned catalog
// come in as values, so the same rules run in the handler, the unit tests
// and the fuzz harness (fuzz/create_fuzz.cpp). It refuses unknown fields,
// wrong JSON types, fields of the other server type, sizes outside the
// driver's limits, runtimes/games/versions the catalog does not offer, and
// anything the agent would refuse later: the payload it builds is checked
// with the agent's own rules (proto/payload.hpp), so a server is never
// created only to fail at the provision step. Each refusal is E_INVALID
// naming the field, or E_EULA_REQUIRED.
//
// The result has no owner and no quotas: the handler fills those in from
// the session and the store.
//
// agent_payload() is the payload.json the job runner sends the agent for a
// stored payload (the stored one also keeps cpu_cores and disk_gb, which
// only the driver uses).
//
// Thread-safety: pure functions.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/drivers/driver.hpp"
#include "api/store/types.hpp"
#include "base/error.hpp"
#include "proto/catalog.hpp"

namespace zlh::api::servers {

inline constexpr size_t kMaxNameBytes = 64;

Result<store::NewServer> parse_create_request(std::string_view body, const drivers::Limits& limits,
                                              const catalog::Catalog& catalog,
                                              std::string_view catalog_sha256);

// `game_port`: the port the game listens on inside its container (games only).
nlohmann::json agent_payload(const nlohmann::json& stored, int64_t vmid, store::ServerType type,
                             std::optional<int> game_port);

}  // namespace zlh::api::servers
