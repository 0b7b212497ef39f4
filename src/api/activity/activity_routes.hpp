// A server's activity log over HTTP (docs/activity.md):
//   GET /api/servers/{id}/activity?before=<id>&limit=<1..200, default 50>
//   → 200 {"activity":[{id, at (unix s), action, actor {id, username} | null,
//          remote_addr, detail {...}}], "next_before": id | null}
// Newest first; next_before is the `before` of the next page (null when this
// page is the last; a page that ends exactly at the oldest entry may be
// followed by one empty page). Only the actions store::is_activity_action
// allows. Any member of the server may read it; not yours = 404, exactly
// like missing. E_INVALID (field before/limit) for a bad query.
#pragma once

#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api::activity {

struct ActivityDeps {
  store::Store& store;
};

void add_activity_routes(http::Router& r, const ActivityDeps& deps);

// One entry as the route shows it (pure; tested alone).
nlohmann::json activity_json(const store::ActivityEntry& e);

}  // namespace zlh::api::activity
