#include "api/cluster/replica.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "base/crypto.hpp"
#include "base/log.hpp"

namespace zlh::api::cluster {
namespace {

constexpr const char* kLog = "cluster";

// splitmix64's finaliser: a cheap, well-spread 64-bit mix.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a: stable across processes and builds (std::hash is not).
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// A replica on this host whose process is gone (kill -9, a crash).
bool dead_here(const store::Replica& r, const std::string& host) {
  if (r.host != host || r.pid <= 0 || r.pid == ::getpid() || r.pid > INT_MAX) return false;
  return ::kill(pid_t(r.pid), 0) == -1 && errno == ESRCH;
}

std::vector<std::string> ids_of(const std::vector<store::Replica>& rs) {
  std::vector<std::string> ids;
  for (const auto& r : rs) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string make_replica_id() {
  return host_name() + "-" + std::to_string(::getpid()) + "-" + crypto::random_hex(4);
}

bool single_host_driver(std::string_view driver) { return driver == "lxc" || driver == "local"; }

const std::string& rendezvous_owner(const std::vector<std::string>& live, int64_t server_id) {
  const uint64_t s = mix(uint64_t(server_id));
  const std::string* best = &live.front();
  uint64_t best_score = 0;
  bool first = true;
  for (const auto& id : live) {
    const uint64_t score = mix(fnv1a(id) ^ s);
    if (first || score > best_score || (score == best_score && id < *best)) {
      best = &id;
      best_score = score;
      first = false;
    }
  }
  return *best;
}

Replica::Replica(store::Store& store, ReplicaOptions options)
    : store_(store), opts_(std::move(options)) {
  if (!opts_.clock) opts_.clock = [] { return store::Clock::now(); };
}

Replica::~Replica() { stop(); }

store::NewReplica Replica::registration() const {
  store::NewReplica r;
  r.id = opts_.id;
  r.driver = opts_.driver;
  r.host = opts_.host;
  r.pid = ::getpid();
  r.ttl = opts_.ttl;
  r.single_host = single_host_driver(opts_.driver);
  r.adopt_host = opts_.adopt_host;
  return r;
}

Result<std::unique_ptr<Replica>> Replica::start(store::Store& store, ReplicaOptions options) {
  if (options.ttl.count() < 3) return fail(codes::kInvalid, "replica ttl below 3 ms");
  std::unique_ptr<Replica> r(new Replica(store, std::move(options)));
  if (single_host_driver(r->opts_.driver))
    if (auto live = store.list_live_replicas(r->opts_.clock()))
      for (const auto& o : *live)
        if (dead_here(o, r->opts_.host)) {
          log::warn(kLog, "removing the replica of a process that is gone",
                    {{"replica", o.id}, {"pid", o.pid}});
          (void)store.deregister_replica(o.id);
        }
  auto reg = store.register_replica(r->registration());
  if (!reg) return fail(reg.error());
  {
    std::lock_guard lk(r->mu_);
    r->own_expiry_ = reg->expires_at;
    r->last_ok_ = r->last_beat_ = std::chrono::steady_clock::now();
  }
  r->refresh_live();
  log::info(kLog, "replica registered",
            {{"replica", r->opts_.id},
             {"driver", r->opts_.driver},
             {"host", r->opts_.host},
             {"ttl_ms", r->opts_.ttl.count()},
             {"live", r->live().size()}});
  if (r->opts_.heartbeat_thread) r->thread_ = std::thread([p = r.get()] { p->loop(); });
  return r;
}

void Replica::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard beat(beat_mu_);
  if (auto d = store_.deregister_replica(opts_.id); !d)
    log::warn(kLog, "cannot deregister", {{"replica", opts_.id}, {"error", d.error().message}});
  std::lock_guard lk(mu_);
  live_.clear();
  log::info(kLog, "replica stopped", {{"replica", opts_.id}});
}

bool Replica::healthy() const {
  std::lock_guard lk(mu_);
  return !stopping_ && std::chrono::steady_clock::now() - last_ok_ < opts_.ttl / 2;
}

std::vector<std::string> Replica::live() const {
  std::lock_guard lk(mu_);
  return live_;
}

bool Replica::owns(int64_t server_id) const {
  std::lock_guard lk(mu_);
  if (stopping_ || live_.empty() || opts_.clock() >= own_expiry_) return false;
  return rendezvous_owner(live_, server_id) == opts_.id;
}

void Replica::on_membership_change(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  callbacks_.push_back(std::move(fn));
}

std::chrono::steady_clock::time_point Replica::next_beat() const {
  auto at = last_beat_ + opts_.ttl / 3;
  if (soonest_other_expiry_ != store::Time::max()) {
    // Just after another replica's row expires: it leaves live() then.
    auto left = soonest_other_expiry_ - opts_.clock() + std::chrono::milliseconds(20);
    at = std::min(at, std::chrono::steady_clock::now() +
                          std::max<std::chrono::steady_clock::duration>(
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(left),
                              std::chrono::milliseconds(1)));
  }
  return at;
}

void Replica::loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    if (cv_.wait_until(lk, next_beat(), [&] { return stopping_; })) break;
    lk.unlock();
    beat();
    lk.lock();
  }
}

Result<store::Replica> Replica::reregister() {
  log::warn(kLog, "replica expired; registering again", {{"replica", opts_.id}});
  return store_.register_replica(registration());
}

void Replica::beat() {
  std::lock_guard beat(beat_mu_);
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    last_beat_ = std::chrono::steady_clock::now();
  }
  auto hb = store_.heartbeat_replica(opts_.id, opts_.ttl);
  if (!hb && hb.error().is(codes::kNotFound)) hb = reregister();
  if (hb) {
    std::lock_guard lk(mu_);
    own_expiry_ = hb->expires_at;
    last_ok_ = std::chrono::steady_clock::now();
  } else {
    log::warn(kLog, "heartbeat failed", {{"replica", opts_.id}, {"error", hb.error().message}});
  }
  (void)store_.purge_expired_replicas(opts_.clock());
  refresh_live();
}

void Replica::refresh_live() {
  auto rows = store_.list_live_replicas(opts_.clock());
  if (!rows) return;  // keep the last known membership
  auto ids = ids_of(*rows);
  store::Time soonest = store::Time::max();
  for (const auto& r : *rows)
    if (r.id != opts_.id) soonest = std::min(soonest, r.expires_at);
  std::vector<std::function<void()>> notify;
  {
    std::lock_guard lk(mu_);
    soonest_other_expiry_ = soonest;
    if (ids == live_) return;
    live_ = std::move(ids);
    notify = callbacks_;
  }
  log::info(kLog, "replicas changed", {{"replica", opts_.id}, {"live", live().size()}});
  for (auto& f : notify) f();
}

}  // namespace zlh::api::cluster
