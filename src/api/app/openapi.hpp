// GET /api/openapi.json: every route of the table, generated from the
// router itself so it cannot drift. Register it after the API routes and
// before the portal's catch-all.
#pragma once

#include "http/http.hpp"

namespace zlh::api {

void add_openapi_route(http::Router& r);

}  // namespace zlh::api
