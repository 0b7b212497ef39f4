#include "api/stats/sampler.hpp"

#include <algorithm>
#include <set>

#include "base/log.hpp"

namespace zlh::api::stats {

Sampler::Sampler(drivers::Driver& driver, TargetsFn targets, SamplerOptions opts)
    : driver_(driver), targets_(std::move(targets)), opts_(opts) {
  if (opts_.interval.count() <= 0) opts_.interval = std::chrono::milliseconds(2000);
  if (opts_.ring_size == 0) opts_.ring_size = 1;
}

Sampler::~Sampler() { stop(); }

void Sampler::start() {
  std::lock_guard lk(run_mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { loop(); });
}

void Sampler::stop() {
  {
    std::lock_guard lk(run_mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Sampler::loop() {
  log::info("stats", "sampler started", {{"interval_ms", opts_.interval.count()}});
  std::unique_lock lk(run_mu_);
  while (!stopping_) {
    auto start = std::chrono::steady_clock::now();
    lk.unlock();
    run_cycle();
    lk.lock();
    cv_.wait_until(lk, start + opts_.interval, [&] { return stopping_; });
  }
  log::info("stats", "sampler stopped", {{"driver_calls", driver_calls_.load()}});
}

void Sampler::run_cycle() {
  Fresh fresh;
  {
    std::lock_guard cycle(cycle_mu_);
    if (!sample_all(fresh)) return;
  }
  if (on_cycle_) on_cycle_(fresh);  // no lock held: it sends to viewers
}

bool Sampler::sample_all(Fresh& fresh) {
  std::vector<Target> targets = targets_ ? targets_() : std::vector<Target>{};
  std::map<int, drivers::RawCounters> got;
  if (!targets.empty()) {
    std::set<int> unique;
    for (const auto& t : targets) unique.insert(t.vmid);
    ++driver_calls_;
    auto r = driver_.sample(std::vector<int>(unique.begin(), unique.end()));
    if (!r) {
      if (r.error().message != last_error_)
        log::warn("stats", "cannot sample", {{"error", r.error().message}});
      last_error_ = r.error().message;
      std::lock_guard lk(mu_);  // drop the servers that are gone, keep the rest
      std::set<int64_t> keep;
      for (const auto& t : targets) keep.insert(t.server_id);
      std::erase_if(entries_, [&](const auto& e) { return !keep.count(e.first); });
      return false;
    }
    last_error_.clear();
    got = std::move(*r);
  }
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  // Strictly increasing per sampler, whatever the wall clock does: viewers
  // order and de-duplicate samples by t.
  now_ms = std::max(now_ms, last_t_ms_ + 1);
  last_t_ms_ = now_ms;
  fresh = store(targets, got, now_ms);
  return true;
}

Fresh Sampler::store(const std::vector<Target>& targets,
                     const std::map<int, drivers::RawCounters>& got, int64_t now_ms) {
  const int64_t window_ms = int64_t(opts_.ring_size) * opts_.interval.count();
  std::lock_guard lk(mu_);
  std::map<int64_t, Entry> next;
  Fresh fresh;
  for (const auto& t : targets) {
    Entry e;
    if (auto old = entries_.find(t.server_id); old != entries_.end() && old->second.vmid == t.vmid)
      e = std::move(old->second);
    e.vmid = t.vmid;
    if (auto it = got.find(t.vmid); it != got.end()) {
      e.ring.push_back(compute_sample(e.last, it->second, now_ms));
      e.last = it->second;
      fresh.emplace_back(t.server_id, e.ring.back());
    } else {
      e.last.reset();  // not running: no rates across the gap
    }
    while (e.ring.size() > opts_.ring_size) e.ring.pop_front();
    while (!e.ring.empty() && e.ring.front().t_ms <= now_ms - window_ms) e.ring.pop_front();
    next[t.server_id] = std::move(e);
  }
  entries_ = std::move(next);
  std::sort(fresh.begin(), fresh.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return fresh;
}

std::vector<Sample> Sampler::history(int64_t server_id) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(server_id);
  if (it == entries_.end()) return {};
  return {it->second.ring.begin(), it->second.ring.end()};
}

std::optional<Sample> Sampler::latest(int64_t server_id) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(server_id);
  if (it == entries_.end() || it->second.ring.empty()) return std::nullopt;
  return it->second.ring.back();
}

std::vector<std::optional<Sample>> Sampler::latest(const std::vector<int64_t>& server_ids) const {
  std::vector<std::optional<Sample>> out(server_ids.size());
  std::lock_guard lk(mu_);
  if (entries_.empty()) return out;
  for (size_t i = 0; i < server_ids.size(); ++i)
    if (auto it = entries_.find(server_ids[i]); it != entries_.end() && !it->second.ring.empty())
      out[i] = it->second.ring.back();
  return out;
}

std::vector<int64_t> Sampler::servers() const {
  std::lock_guard lk(mu_);
  std::vector<int64_t> out;
  for (const auto& [id, e] : entries_) out.push_back(id);
  return out;
}

}  // namespace zlh::api::stats
