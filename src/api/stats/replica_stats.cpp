#include "api/stats/replica_stats.hpp"

#include <algorithm>

#include "api/stats/stats_json.hpp"
#include "base/log.hpp"

namespace zlh::api::stats {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ReplicaStats::ReplicaStats(ReplicaStatsDeps deps) : d_(std::move(deps)) {}

ReplicaStats::~ReplicaStats() { stop(); }

int64_t ReplicaStats::window_ms() const {
  return int64_t(d_.sampler.options().ring_size) * d_.sampler.options().interval.count();
}

void ReplicaStats::warn(const Error& e) const {
  std::lock_guard lk(warn_mu_);
  if (e.message == last_warning_) return;
  last_warning_ = e.message;
  log::warn("stats", "cannot share samples with the other replicas", {{"error", e.message}});
}

void ReplicaStats::on_cycle(const Fresh& fresh) {
  d_.fanout.publish(fresh);
  if (d_.alone()) {
    was_alone_ = true;
    return;
  }
  publish_rows(fresh);
}

void ReplicaStats::publish_rows(const Fresh& fresh) {
  std::vector<store::SampleRow> rows;
  if (was_alone_) {
    // The others have nothing of this replica's rings yet: all of them.
    for (int64_t id : d_.sampler.servers())
      for (const auto& s : d_.sampler.history(id))
        rows.push_back({id, s.t_ms, sample_json(s).dump()});
  } else {
    for (const auto& [id, s] : fresh) rows.push_back({id, s.t_ms, sample_json(s).dump()});
  }
  if (rows.empty()) return;
  if (auto w = d_.store.append_server_samples(rows, now_ms() - window_ms()); !w) {
    warn(w.error());
    return;
  }
  was_alone_ = false;
}

std::vector<Sample> ReplicaStats::history(int64_t server_id) const {
  if (d_.alone() || d_.owns(server_id)) return d_.sampler.history(server_id);
  auto rows = d_.store.list_server_samples(server_id, now_ms() - window_ms());
  if (!rows) {
    warn(rows.error());
    return {};
  }
  std::vector<Sample> out;
  for (const auto& r : *rows)
    if (auto s = sample_from_json(nlohmann::json::parse(r.json, nullptr, false))) out.push_back(*s);
  return out;
}

void ReplicaStats::follow_once() {
  if (d_.alone()) {
    followed_.clear();
    return;
  }
  std::map<int64_t, int64_t> next;
  Fresh fresh;
  for (int64_t id : d_.fanout.viewed()) {
    if (d_.owns(id)) continue;
    auto it = followed_.find(id);
    // A new viewer got the ring already; the fan-out drops what it had.
    int64_t after = it != followed_.end() ? it->second : now_ms() - window_ms();
    auto rows = d_.store.list_server_samples(id, after);
    if (!rows) {
      warn(rows.error());
      next[id] = after;
      continue;
    }
    for (const auto& r : *rows)
      if (auto s = sample_from_json(nlohmann::json::parse(r.json, nullptr, false))) {
        fresh.emplace_back(id, *s);
        after = std::max(after, r.t_ms);
      }
    next[id] = after;
  }
  followed_ = std::move(next);
  if (!fresh.empty()) d_.fanout.publish(fresh);
}

void ReplicaStats::start() {
  std::lock_guard lk(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      follow_once();
      lk.lock();
      cv_.wait_for(lk, d_.sampler.options().interval, [&] { return stopping_; });
    }
  });
}

void ReplicaStats::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace zlh::api::stats
