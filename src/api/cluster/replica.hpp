// This zlh-api process as one replica of the installation (issue 25,
// docs/operations.md "Replicas"): registered in the store's `replicas`
// table, heartbeaten by a thread of its own, and the source of which
// servers this replica polls and samples.
//
// Registration (start): Store::register_replica, which refuses (E_CONFLICT,
// the message says what to do) a driver other than the installation's and,
// for lxc/local (single-host drivers), another host or a second live
// replica. On those drivers a replica left live by a crashed process on
// this very host (its pid no longer runs) is removed first, so a restart
// after kill -9 is not refused for a ttl.
//
// Heartbeat: every ttl/3 the thread extends the row, removes expired rows
// and re-reads the live replicas; it also wakes when another replica's row
// is due to expire, so a dead replica leaves live() at most about one
// ttl after its last beat. A beat refused because the row expired or was
// removed (the database was unreachable for a ttl) registers again, with
// the same checks.
//
// Ownership: owns(server) by rendezvous hashing over live(): each server
// goes to the live id with the highest hash(id, server). Every replica
// with the same live() decides the same, and a replica leaving moves only
// its own servers. While this replica's own row may have expired (no
// successful beat within the last ttl) it owns nothing, so a replica cut
// off from the database stops polling before the others take over.
//
// Threads: every method may be called from any thread. Callbacks of
// on_membership_change run on the heartbeat thread (or in beat()'s
// caller), after live() changed, holding no lock; they must not block.
// The Replica borrows the store, which must outlive it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/store/store.hpp"
#include "base/error.hpp"

namespace zlh::api::cluster {

struct ReplicaOptions {
  std::string id;      // make_replica_id()
  std::string driver;  // --driver
  std::string host;    // this machine's hostname
  std::chrono::milliseconds ttl{15000};
  // --adopt-host: an lxc/local installation moved to this host.
  bool adopt_host = false;
  // The wall clock compared with the rows' expiry; tests pass a fake
  // (the store's clock must be the same one).
  std::function<store::Time()> clock;
  // false: no thread; the caller calls beat() (tests).
  bool heartbeat_thread = true;
};

// <hostname>-<pid>-<8 hex>: unique per process start.
std::string make_replica_id();
// This machine's hostname ("localhost" when it cannot be read).
std::string host_name();
// Whether `driver` manages containers on its own host only (lxc, local).
bool single_host_driver(std::string_view driver);
// The id of `live` (non-empty) that owns `server_id` by rendezvous hashing.
const std::string& rendezvous_owner(const std::vector<std::string>& live, int64_t server_id);

class Replica {
 public:
  // Registers (see above) and starts the heartbeat thread. Errors:
  // E_CONFLICT (refused: the message is for the operator), E_INVALID,
  // the store's errors.
  static Result<std::unique_ptr<Replica>> start(store::Store& store, ReplicaOptions options);
  ~Replica();  // stop()
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const std::string& id() const { return opts_.id; }
  // The last heartbeat succeeded within ttl/2 (false after stop()).
  bool healthy() const;
  // The live replica ids, sorted, as of the last beat (empty after stop()).
  std::vector<std::string> live() const;
  // Whether this replica is the one to poll and sample `server_id`.
  bool owns(int64_t server_id) const;
  // Called after each change of live(); see "Threads".
  void on_membership_change(std::function<void()> fn);
  // Stops the thread and deregisters (the others take over this replica's
  // servers at their next beat). Repeatable.
  void stop();
  // One heartbeat and refresh now (the thread's step; tests call it).
  void beat();

 private:
  Replica(store::Store& store, ReplicaOptions options);
  void loop();
  // When the thread should beat next (steady clock).
  std::chrono::steady_clock::time_point next_beat() const;
  void refresh_live();
  Result<store::Replica> reregister();
  store::NewReplica registration() const;

  store::Store& store_;
  ReplicaOptions opts_;
  std::mutex beat_mu_;  // one beat at a time
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                                 // under mu_
  std::vector<std::string> live_;                         // under mu_
  store::Time own_expiry_{};                              // under mu_
  store::Time soonest_other_expiry_{store::Time::max()};  // under mu_
  std::chrono::steady_clock::time_point last_ok_{};       // under mu_
  std::chrono::steady_clock::time_point last_beat_{};     // under mu_
  std::vector<std::function<void()>> callbacks_;          // under mu_
  std::thread thread_;
};

}  // namespace zlh::api::cluster
