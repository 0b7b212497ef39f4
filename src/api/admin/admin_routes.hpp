// The administrators' routes: per-user quotas, invite codes, the audit log
// and /metrics on the API listener. Every one answers 404 to a caller who is
// not an admin, like any route that is not theirs.
#pragma once

#include "api/store/store.hpp"
#include "base/metrics.hpp"
#include "http/http.hpp"

namespace zlh::api {

// What the routes use; the references must outlive the router.
struct AdminRouteDeps {
  store::Store& store;
  metrics::Registry& metrics;
  store::QuotaDefaults quotas;
};

void add_admin_routes(http::Router& r, const AdminRouteDeps& deps);

}  // namespace zlh::api
