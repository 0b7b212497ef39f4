// The live-stats fan-out (docs/stats.md, issue 24): viewers of a server's
// samples, fed by the ONE sampler of zlh-api (sampler.hpp). A viewer never
// causes a driver call: it gets what the sampler's cycle produced.
//
// subscribe() sends the viewer the server's ring (one text message, the
// shape of GET /api/servers/{id}/stats), then every later sample of that
// server as one text message each, in order, none twice, none skipped
// except by the drop policy:
//
// Drop policy (fan-out never blocks the producer): delivering is queueing
// on the viewer's WsConn, which never blocks. Before queueing a sample the
// fan-out looks at the connection's queued bytes; over `ring message size
// + max_behind_bytes` (16 KiB: about a minute of 2 s samples) the sample is
// dropped for that viewer and counted (dropped()). The viewer stays
// connected and resumes with the next sample once its queue drains (the
// gap shows in "t"); a peer that is gone is closed by the WebSocket's own
// idle timeout (ping/pong), not here. One slow viewer costs the others
// nothing: no lock is held while queueing, and each message is serialised
// once per server per cycle, not per viewer.
//
// Threads and ownership: publish() from the sampler's cycle (any thread);
// subscribe() and the Subscription's destruction from any thread (the
// connection's strand). The fan-out borrows the sampler, which must outlive
// it; a Subscription may outlive the fan-out (it then does nothing).
// Connections are held weakly: a closed one is skipped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/stats/sampler.hpp"
#include "http/http.hpp"

namespace zlh::api::stats {

struct FanoutOptions {
  size_t max_behind_bytes = 16 << 10;  // queued beyond the ring message: drop
};

class Fanout {
 public:
  // Unsubscribes when destroyed (idempotent with the connection closing).
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };

  explicit Fanout(const Sampler& sampler, FanoutOptions opts = {});
  ~Fanout();
  Fanout(const Fanout&) = delete;
  Fanout& operator=(const Fanout&) = delete;

  // The sampler's listener: call with each cycle's new samples (also the
  // samples another replica published: replica_stats.hpp).
  void publish(const Fresh& fresh);
  // Where subscribe() reads a server's ring (default: the sampler's
  // history). Set before the first subscribe().
  void set_history(std::function<std::vector<Sample>(int64_t)> fn);
  // The servers with at least one viewer, ascending.
  std::vector<int64_t> viewed() const;
  // See above. The ring is queued before this returns.
  std::unique_ptr<Subscription> subscribe(int64_t server_id, std::shared_ptr<http::WsConn> conn);

  size_t viewers() const;
  uint64_t sent() const;     // samples queued to viewers (not rings)
  uint64_t dropped() const;  // samples dropped for slow viewers

  struct State;  // shared with subscriptions (weakly)

 private:
  std::shared_ptr<State> st_;
};

}  // namespace zlh::api::stats
