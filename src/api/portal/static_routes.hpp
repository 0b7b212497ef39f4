// zlh-api's static trees: the artifact store and the built portal, public,
// every path through the one resolver (base/safe_path.hpp) and sent from
// the file without holding it in memory.
#pragma once

#include <string>

#include "http/http.hpp"

namespace zlh::api {

// GET /artifacts/{path...}: the artifact store directory `dir` as a static
// tree (docs/design.md §4.1). Also the whole router of the lxc driver's
// container listener (docs/drivers.md).
void add_artifact_routes(http::Router& r, const std::string& dir);

// GET /{path...}: the built portal in `dir` (docs/design.md §11). Register it
// last, so every API route matches first.
void add_portal_routes(http::Router& r, const std::string& dir);

}  // namespace zlh::api
