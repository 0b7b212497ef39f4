#include "api/activity/activity_routes.hpp"

#include <charconv>

#include "api/authz/authz.hpp"
#include "api/request_ids.hpp"
#include "api/with_deps.hpp"

namespace zlh::api::activity {

using http::Request;
using http::Response;

namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 200;

// ?limit=: absent → the default; anything but 1..200 → E_INVALID.
Result<int> limit_param(const Request& req) {
  auto l = req.query_param("limit");
  if (!l) return kDefaultLimit;
  int n = 0;
  auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
  if (l->empty() || ec != std::errc() || end != l->data() + l->size() || n < 1 || n > kMaxLimit)
    return fail(Error::invalid("limit", "limit must be 1..200"));
  return n;
}

Result<std::optional<int64_t>> before_param(const Request& req) {
  auto b = req.query_param("before");
  if (!b) return std::optional<int64_t>{};
  auto id = parse_id(*b);
  if (!id) return fail(Error::invalid("before", "before must be an entry id"));
  return std::optional<int64_t>{*id};
}

Response list_activity(const ActivityDeps& d, Request& req) {
  auto a = authz::authorize(d.store, req);  // any member
  if (!a) return Response::error(a.error());
  const store::Server* s = &a->server;
  auto limit = limit_param(req);
  if (!limit) return Response::error(limit.error());
  auto before = before_param(req);
  if (!before) return Response::error(before.error());
  auto entries = d.store.list_activity(s->id, *before, *limit);
  if (!entries) return Response::error(entries.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : *entries) out.push_back(activity_json(e));
  nlohmann::json next = nullptr;
  if (static_cast<int>(entries->size()) == *limit) next = entries->back().id;
  return Response::json(200, {{"activity", std::move(out)}, {"next_before", std::move(next)}});
}

}  // namespace

nlohmann::json activity_json(const store::ActivityEntry& e) {
  nlohmann::json actor = nullptr;
  if (e.user_id) actor = {{"id", *e.user_id}, {"username", e.username}};
  auto detail = nlohmann::json::parse(e.detail, nullptr, false);
  if (!detail.is_object()) detail = nlohmann::json::object();
  return {{"id", e.id},
          {"at", std::chrono::duration_cast<std::chrono::seconds>(e.at.time_since_epoch()).count()},
          {"action", e.action},
          {"actor", std::move(actor)},
          {"remote_addr", e.remote_addr},
          {"detail", std::move(detail)}};
}

void add_activity_routes(http::Router& r, const ActivityDeps& deps) {
  const WithDeps with(deps);
  http::RouteOptions opts;
  opts.blocking = true;  // the store
  r.add_sync("GET", "/api/servers/{id}/activity", with(list_activity), opts);
}

}  // namespace zlh::api::activity
