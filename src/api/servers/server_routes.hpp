// A user's servers (docs/design.md §10.1): create (a durable job), list,
// read, delete, their jobs, workload power (proxied to the agent) and
// container power (the driver, on the work lane). Ownership is decided by
// the store query itself: not yours = E_NOT_FOUND, exactly like missing.
#pragma once

#include "api/catalog/catalog_source.hpp"
#include "api/drivers/driver.hpp"
#include "api/jobs/agent_client.hpp"
#include "api/jobs/job_runner.hpp"
#include "api/stats/sampler.hpp"
#include "api/store/store.hpp"
#include "api/work_lane.hpp"
#include "http/http.hpp"

namespace zlh::api {

class IdeAccess;

// What the routes use; everything referred to must outlive the router.
struct ServerRouteDeps {
  store::Store& store;
  drivers::Driver& driver;
  JobRunner& jobs;
  const AgentClient& agents;
  CatalogSource& catalog;
  WorkLane& lane;
  IdeAccess* ide = nullptr;  // told when a vmid changes hands; null: no IDE origin
  store::QuotaDefaults quotas;
  // The live stats of the documents' "stats" (latest sample, read from
  // memory: never a driver call); null: always null.
  const stats::Sampler* sampler = nullptr;
};

void add_server_routes(http::Router& r, const ServerRouteDeps& deps);

}  // namespace zlh::api
