// A server's schedules (docs/schedules.md, docs/design.md §12a):
//   GET    /api/servers/{id}/schedules            {"schedules":[schedule…]}
//   POST   /api/servers/{id}/schedules            → 201 schedule
//   PATCH  /api/servers/{id}/schedules/{s}        partial → 200 schedule
//   DELETE /api/servers/{id}/schedules/{s}        → 204
//   POST   /api/servers/{id}/schedules/{s}/run    → 202 {"run": run}
// Bodies are checked completely before anything is stored
// (schedule_spec.hpp). Ownership: the server is read with
// get_server_for_owner first, so not yours = 404, exactly like missing.
// Every change is in the audit log and wakes the scheduler.
#pragma once

#include "api/jobs/agent_client.hpp"
#include "api/schedules/scheduler.hpp"
#include "api/store/store.hpp"
#include "http/http.hpp"

namespace zlh::api {

// What the routes and the scheduler's tasks use; everything referred to
// must outlive the router.
struct ScheduleDeps {
  store::Store& store;
  // Runs the tasks (its TaskFn, schedules::agent_tasks, holds the backup
  // call: backup tasks run there, never in a route).
  schedules::Scheduler& scheduler;
  // The time new schedules' next runs are computed from.
  std::function<store::Time()> now = [] { return store::Clock::now(); };
};

void add_schedule_routes(http::Router& r, ScheduleDeps deps);

}  // namespace zlh::api
