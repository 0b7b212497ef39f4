// The store's records of zlh-api replicas (0014_replicas.sql,
// docs/operations.md "Replicas"). Plain values like types.hpp's.
// Thread-safety: plain values, no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "api/store/types.hpp"

namespace zlh::api::store {

// What a starting replica registers.
struct NewReplica {
  std::string id;      // unique per process: <hostname>-<pid>-<8 hex>
  std::string driver;  // --driver: proxmox, lxc, local
  std::string host;    // the machine's hostname
  int64_t pid = 0;     // of the process (a crashed one on the same host is told by it)
  std::chrono::milliseconds ttl{15000};  // expires_at = now + ttl
  // The driver manages containers on this host only (lxc, local): the
  // installation is tied to the recorded host and runs one replica.
  bool single_host = false;
  // single_host: the installation has moved to `host` (the operator says
  // so): the recorded host becomes `host` when no other replica is live.
  bool adopt_host = false;
};

struct Replica {
  std::string id;
  std::string driver;
  std::string host;
  int64_t pid = 0;
  Time started_at{};
  Time heartbeat_at{};
  Time expires_at{};  // live while now < expires_at
};

// The installation's record, written by its first start.
struct Deployment {
  std::string driver;
  std::string host;
  Time recorded_at{};
};

// One live-stats sample as published for the other replicas.
struct SampleRow {
  int64_t server_id = 0;
  int64_t t_ms = 0;
  std::string json;  // stats_json.hpp's sample object
};

}  // namespace zlh::api::store
