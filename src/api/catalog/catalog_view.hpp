// What the API shows users of the signed catalog (docs/design.md §10.3
// GET /api/catalog/dev and /api/catalog/game). Pure functions.
//
// `min_channel` ("stable" unless the request asks ?channel=beta|dev) keeps
// entries at that channel or better (dev < beta < stable). Versions are
// sorted newest first by version order (catalog::compare_versions: "1.21"
// above "1.9"), never as strings. Items without a visible version are left
// out. `catalog_sha256` is the sha256 of the exact catalog.json bytes, so a
// create request can pin what the user saw.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "proto/catalog.hpp"

namespace zlh::api {

// {catalog_sha256, channel, runtimes:[{id,display,versions:[{version,default,channel}]}],
//  addons:[{id,display,versions:[…]}]}
nlohmann::json dev_catalog_view(const catalog::Catalog& c, std::string_view min_channel,
                                const std::string& catalog_sha256);
// {catalog_sha256, channel,
// games:[{id,variants:[{id,mods:bool,versions:[{version,default,channel,java}]}]}]}
nlohmann::json game_catalog_view(const catalog::Catalog& c, std::string_view min_channel,
                                 const std::string& catalog_sha256);

}  // namespace zlh::api
