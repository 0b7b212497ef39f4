#include "api/poller/poller.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <system_error>
#include <vector>

#include "api/jobs/job_runner.hpp"  // redact_host_paths
#include "base/log.hpp"

namespace zlh::api {

using store::ServerState;

AgentStatusFn agent_status_via(const AgentClient& agents, std::chrono::milliseconds timeout) {
  return [&agents, timeout](const std::string& ip, int64_t vmid) {
    return agents.status(ip, vmid, timeout);
  };
}

// zlh_poller_cycle_seconds. The registry has counters and gauges only, so the
// histogram renders itself through a collector; shared with that collector so
// a render racing the Poller's destruction never reads freed memory.
struct Poller::Histogram {
  static constexpr std::array<double, 13> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60};
  std::mutex mu;
  std::array<uint64_t, kBounds.size()> counts{};  // per bucket, not cumulative
  uint64_t count = 0;
  double sum = 0;

  void observe(double s) {
    std::lock_guard lk(mu);
    for (size_t i = 0; i < kBounds.size(); ++i)
      if (s <= kBounds[i]) {
        ++counts[i];
        break;
      }
    ++count;
    sum += s;
  }
  void render(std::string& out) {
    std::lock_guard lk(mu);
    out += "# HELP zlh_poller_cycle_seconds Duration of one status poller cycle.\n";
    out += "# TYPE zlh_poller_cycle_seconds histogram\n";
    char line[128];
    uint64_t cum = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
      cum += counts[i];
      std::snprintf(line, sizeof line, "zlh_poller_cycle_seconds_bucket{le=\"%g\"} %llu\n",
                    kBounds[i], static_cast<unsigned long long>(cum));
      out += line;
    }
    std::snprintf(line, sizeof line, "zlh_poller_cycle_seconds_bucket{le=\"+Inf\"} %llu\n",
                  static_cast<unsigned long long>(count));
    out += line;
    std::snprintf(line, sizeof line, "zlh_poller_cycle_seconds_sum %.17g\n", sum);
    out += line;
    std::snprintf(line, sizeof line, "zlh_poller_cycle_seconds_count %llu\n",
                  static_cast<unsigned long long>(count));
    out += line;
  }
};

Poller::Poller(store::Store& store, AgentStatusFn status, PollerConfig cfg,
               metrics::Registry* registry)
    : store_(store),
      status_(std::move(status)),
      cfg_(std::move(cfg)),
      registry_(registry),
      hist_(std::make_shared<Histogram>()) {
  cfg_.interval = std::max(cfg_.interval, std::chrono::milliseconds(1));
  cfg_.workers = std::max(cfg_.workers, 1);
  cfg_.unreachable_after = std::max(cfg_.unreachable_after, 1);
  if (!(cfg_.spread >= 0)) cfg_.spread = 0;  // NaN too
  cfg_.spread = std::min(cfg_.spread, 1.0);
  if (!cfg_.clock) cfg_.clock = [] { return store::Clock::now(); };
  if (registry_) {
    registry_->describe("zlh_poller_cycles_total", "counter", "Status poller cycles completed.");
    registry_->describe(
        "zlh_poller_failures_total", "counter",
        "Agent status calls that gave no usable answer (unreachable, non-200, bad body).");
    registry_->describe("zlh_poller_targets", "gauge", "Agents asked in the last poller cycle.");
    registry_->describe("zlh_poller_polls_total", "counter",
                        "Agent status calls made by this replica's poller.");
    registry_->describe("zlh_poller_servers_owned", "gauge",
                        "Servers (not deleted) this replica polls, last cycle.");
    registry_->describe("zlh_poller_unreachable", "gauge",
                        "Agents failing at least unreachable_after polls in a row (last cycle).");
    registry_->describe("zlh_servers", "gauge",
                        "Servers (not deleted) by control-plane state, last poller cycle.");
    // Present from the start, so a scrape before the first cycle sees zeros.
    registry_->add("zlh_poller_cycles_total", "", 0);
    registry_->add("zlh_poller_failures_total", "", 0);
    registry_->add("zlh_poller_polls_total", "", 0);
    registry_->add_collector([h = hist_](std::string& out) { h->render(out); });
  }
}

Poller::~Poller() { stop(); }

void Poller::start() {
  std::lock_guard lk(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { loop(); });
}

void Poller::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Poller::loop() {
  log::info("poller", "poller started",
            {{"interval_ms", cfg_.interval.count()},
             {"workers", cfg_.workers},
             {"unreachable_after", cfg_.unreachable_after}});
  while (!stopping_) {
    auto start = std::chrono::steady_clock::now();
    run_cycle();
    std::unique_lock lk(mu_);
    // Start to start; when the cycle overran, the wait is empty and the next
    // cycle follows at once (never two at a time: this thread runs them).
    cv_.wait_until(lk, start + cfg_.interval, [&] { return stopping_.load() || kicked_; });
    kicked_ = false;
  }
  log::info("poller", "poller stopped", {{"cycles", cycles_.load()}});
}

void Poller::membership_changed() {
  {
    std::lock_guard lk(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

// What one cycle's workers share: the next target to take and the counts.
struct Poller::Tally {
  std::atomic<size_t> next{0};
  std::atomic<int> answered{0}, failed{0}, marked{0};
};

std::vector<Poller::Target> Poller::poll_targets(const std::vector<store::Server>& servers,
                                                 int& owned) const {
  std::vector<Target> targets;
  owned = 0;
  for (const auto& s : servers) {
    if (cfg_.owns && !cfg_.owns(s.id)) continue;
    ++owned;
    if ((s.state == ServerState::kReady || s.state == ServerState::kError) && s.vmid &&
        !s.ip.empty())
      targets.push_back({s.id, *s.vmid, s.ip, s.state});
  }
  return targets;
}

PollCycle Poller::run_cycle() {
  std::lock_guard cycle(cycle_mu_);
  PollCycle c;
  auto t0 = std::chrono::steady_clock::now();
  auto servers = store_.list_servers();
  if (!servers) {
    c.listed = false;
    log::warn("poller", "cannot list servers", {{"error", servers.error().message}});
  }
  const std::vector<Target> targets =
      servers ? poll_targets(*servers, c.owned) : std::vector<Target>{};
  c.targets = int(targets.size());
  forget_streaks(targets);
  Tally tally;
  poll_all(targets, t0, tally);
  c.answered = tally.answered;
  c.failed = tally.failed;
  c.marked_unreachable = tally.marked;
  c.took = std::chrono::steady_clock::now() - t0;
  ++cycles_;
  publish(c, servers ? *servers : std::vector<store::Server>{});
  if (c.failed > 0 || c.took > cfg_.interval)
    log::debug("poller", "cycle done",
               {{"targets", c.targets},
                {"answered", c.answered},
                {"failed", c.failed},
                {"duration_ms", std::chrono::duration<double, std::milli>(c.took).count()}});
  return c;
}

void Poller::forget_streaks(const std::vector<Target>& targets) {
  // Streaks of servers that are no longer targets (deleted, re-provisioned)
  // are forgotten, so the map stays as small as the fleet.
  std::set<int64_t> ids;
  for (const auto& t : targets) ids.insert(t.id);
  std::lock_guard lk(streak_mu_);
  std::erase_if(streaks_, [&](const auto& kv) { return !ids.count(kv.first); });
}

void Poller::poll_all(const std::vector<Target>& targets, std::chrono::steady_clock::time_point t0,
                      Tally& tally) {
  // Call i starts at t0 + i × gap at the earliest (PollerConfig::spread).
  const auto gap = targets.empty() ? std::chrono::nanoseconds(0)
                                   : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::duration<double, std::milli>(
                                             double(cfg_.interval.count()) * cfg_.spread)) /
                                         int64_t(targets.size());
  auto work = [&] { work_through(targets, t0, gap, tally); };
  size_t n = std::min(targets.size(), size_t(cfg_.workers));
  if (n == 1) {
    work();
  } else if (n > 1) {
    std::vector<std::thread> pool;
    pool.reserve(n);
    try {
      for (size_t i = 0; i < n; ++i) pool.emplace_back(work);
    } catch (const std::system_error& e) {
      // No thread to be had: the workers that exist (or this thread alone)
      // share the cycle; it is only slower.
      log::warn("poller", "cannot start a worker thread", {{"error", e.what()}});
      work();
    }
    for (auto& t : pool) t.join();
  }
}

void Poller::work_through(const std::vector<Target>& targets,
                          std::chrono::steady_clock::time_point t0, std::chrono::nanoseconds gap,
                          Tally& tally) {
  for (;;) {
    if (stopping_) return;
    size_t i = tally.next.fetch_add(1);
    if (i >= targets.size()) return;
    if (auto at = t0 + gap * int64_t(i); at > std::chrono::steady_clock::now()) {
      std::unique_lock lk(mu_);
      if (cv_.wait_until(lk, at, [&] { return stopping_.load(); })) return;
    }
    Outcome o = Outcome::kFailed;
    try {
      o = poll_one(targets[i]);
    } catch (const std::exception& e) {
      // The worker's boundary: one bad answer must not end the process.
      log::error("poller", "poll failed", {{"server_id", targets[i].id}, {"error", e.what()}});
    }
    switch (o) {
      case Outcome::kAnswered:
        ++tally.answered;
        break;
      case Outcome::kMarkedUnreachable:
        ++tally.marked;
        [[fallthrough]];
      case Outcome::kFailed:
        ++tally.failed;
        break;
    }
  }
}

Poller::Outcome Poller::poll_one(const Target& t) {
  auto st = status_(t.ip, t.vmid);
  if (st && !(st->contains("state") && (*st)["state"].is_string()))
    st = fail(codes::kUpstream, "agent /status has no state");
  if (!st) {
    int streak = 0;
    {
      std::lock_guard lk(streak_mu_);
      streak = ++streaks_[t.id];
    }
    if (streak == 1 || streak == cfg_.unreachable_after)
      log::warn("poller", "agent did not answer",
                {{"server_id", t.id},
                 {"vmid", t.vmid},
                 {"failures", streak},
                 {"error", st.error().message}});
    if (streak != cfg_.unreachable_after) return Outcome::kFailed;
    auto w = store_.update_server(t.id, {.agent_state = std::string(kAgentUnreachable)});
    if (!w && !w.error().is(codes::kNotFound))
      log::warn("poller", "cannot store the agent state",
                {{"server_id", t.id}, {"error", w.error().message}});
    return Outcome::kMarkedUnreachable;
  }
  auto seen = cfg_.clock();
  {
    std::lock_guard lk(streak_mu_);
    streaks_.erase(t.id);
  }
  const auto& j = *st;
  store::ServerUpdate u{.agent_state = j["state"].get<std::string>(), .agent_last_seen = seen};
  if (auto it = j.find("crash_count");
      it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 0)
    u.crash_count = int(std::min<int64_t>(it->get<int64_t>(), INT32_MAX));
  // How the workload last ended ({code}|{signal}[, reason]): the portal
  // shows "out of memory" from it.
  if (auto it = j.find("last_exit"); it != j.end()) {
    if (it->is_object())
      u.last_exit = it->dump();
    else if (it->is_null())
      u.last_exit = std::string();
  }
  if (auto it = j.find("install_step"); it != j.end() && it->is_string())
    u.install_step = it->get<std::string>();
  if (auto it = j.find("progress"); it != j.end() && it->is_number())
    u.progress = std::clamp(it->get<double>(), 0.0, 1.0);
  if (t.state == ServerState::kReady) {
    if (auto it = j.find("error"); it != j.end()) {
      if (it->is_string())
        u.error = redact_host_paths(it->get<std::string>(), cfg_.host_paths);
      else if (it->is_null())
        u.error = std::string();
    }
  }
  auto w = store_.update_server(t.id, u);
  if (!w && !w.error().is(codes::kNotFound))
    log::warn("poller", "cannot store the agent state",
              {{"server_id", t.id}, {"error", w.error().message}});
  return Outcome::kAnswered;
}

void Poller::publish(const PollCycle& c, const std::vector<store::Server>& servers) {
  hist_->observe(c.took.count());
  if (!registry_) return;
  registry_->add("zlh_poller_cycles_total", "", 1);
  registry_->add("zlh_poller_failures_total", "", c.failed);
  registry_->add("zlh_poller_polls_total", "", c.answered + c.failed);
  registry_->set("zlh_poller_targets", "", c.targets);
  if (c.listed) registry_->set("zlh_poller_servers_owned", "", c.owned);
  int unreachable = 0;
  {
    std::lock_guard lk(streak_mu_);
    for (const auto& [id, n] : streaks_)
      if (n >= cfg_.unreachable_after) ++unreachable;
  }
  registry_->set("zlh_poller_unreachable", "", unreachable);
  if (c.listed) {
    std::map<ServerState, int> by_state;
    for (const auto& s : servers) ++by_state[s.state];
    for (auto s : {ServerState::kProvisioning, ServerState::kReady, ServerState::kError,
                   ServerState::kDeleting})
      registry_->set("zlh_servers", "state=\"" + std::string(to_string(s)) + "\"", by_state[s]);
  }
}

}  // namespace zlh::api
