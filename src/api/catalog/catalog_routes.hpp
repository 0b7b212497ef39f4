// GET /api/catalog/dev and /api/catalog/game: what can be created, from the
// signed catalog, by channel (docs/design.md §4.3).
#pragma once

#include "api/catalog/catalog_source.hpp"
#include "http/http.hpp"

namespace zlh::api {

// `source` must outlive the router.
void add_catalog_routes(http::Router& r, CatalogSource& source);

}  // namespace zlh::api
