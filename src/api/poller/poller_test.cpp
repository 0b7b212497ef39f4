// The poller against a real store (temporary SQLite file), a fake agent
// status function that records its calls, and a fake clock.
#include "api/poller/poller.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/store/test_util.hpp"

namespace zlh::api {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using store::ServerState;

template <typename F>
bool eventually(F pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Answers per ip: a JSON body, or an error when the ip is in `down`.
class FakeAgents {
 public:
  AgentStatusFn fn() {
    return [this](const std::string& ip, int64_t vmid) -> Result<json> {
      int now = ++in_flight_;
      {
        std::lock_guard lk(mu_);
        max_in_flight_ = std::max(max_in_flight_, now);
        calls_.push_back({ip, vmid, std::chrono::steady_clock::now(), {}});
      }
      if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
      std::lock_guard lk(mu_);
      calls_.back().end = std::chrono::steady_clock::now();
      --in_flight_;
      if (down_.count(ip)) return fail(codes::kUpstream, "agent " + ip + ": connection refused");
      auto it = bodies_.find(ip);
      return it == bodies_.end() ? json{{"state", "running"}} : it->second;
    };
  }
  void set(const std::string& ip, json body) {
    std::lock_guard lk(mu_);
    bodies_[ip] = std::move(body);
  }
  void down(const std::string& ip, bool d) {
    std::lock_guard lk(mu_);
    if (d)
      down_.insert(ip);
    else
      down_.erase(ip);
  }
  std::set<std::string> ips_called() {
    std::lock_guard lk(mu_);
    std::set<std::string> out;
    for (const auto& c : calls_) out.insert(c.ip);
    return out;
  }
  struct Call {
    std::string ip;
    int64_t vmid;
    std::chrono::steady_clock::time_point start, end;
  };
  std::vector<Call> calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }
  int max_in_flight() {
    std::lock_guard lk(mu_);
    return max_in_flight_;
  }
  void clear() {
    std::lock_guard lk(mu_);
    calls_.clear();
  }
  std::chrono::milliseconds delay_{0};

 private:
  std::mutex mu_;
  std::map<std::string, json> bodies_;
  std::set<std::string> down_;
  std::vector<Call> calls_;
  std::atomic<int> in_flight_{0};
  int max_in_flight_ = 0;
};

class PollerTest : public store::testing::SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    owner_ = make_user("owner");
  }
  // A server in `state` with `ip` (empty: none), its create job finished.
  store::Server server(ServerState state, const std::string& ip) {
    std::vector<std::string> steps = {"s"};
    store::NewServer ns;
    ns.owner_id = owner_;
    ns.hostname_prefix = "dev-";
    auto c = store->create_server(ns, steps);
    EXPECT_TRUE(c) << c.error().to_string();
    EXPECT_TRUE(store->update_job_state(c->job.id, store::JobState::kRunning));
    EXPECT_TRUE(store->update_job_state(c->job.id, store::JobState::kDone));
    store::ServerUpdate u{.state = state};
    if (!ip.empty()) u.ip = ip;
    EXPECT_TRUE(store->update_server(c->server.id, u));
    return *store->get_server(c->server.id);
  }
  store::Server get(int64_t id) { return *store->get_server(id); }
  PollerConfig cfg(int workers = 8) {
    PollerConfig c;
    c.interval = 10ms;
    c.workers = workers;
    c.clock = clock.fn();
    return c;
  }

  int64_t owner_ = 0;
  FakeAgents agents;
};

TEST_F(PollerTest, WritesTheAgentStatusOfReadyAndErrorServersOnly) {
  auto ready = server(ServerState::kReady, "127.0.0.2");
  auto errored = server(ServerState::kError, "127.0.0.3");
  auto provisioning = server(ServerState::kProvisioning, "127.0.0.4");
  auto no_ip = server(ServerState::kReady, "");
  auto deleting = server(ServerState::kDeleting, "127.0.0.5");
  auto released = server(ServerState::kError, "127.0.0.6");
  ASSERT_TRUE(store->release_allocations(released.id));  // no vmid any more
  agents.set("127.0.0.2", {{"state", "running"},
                           {"crash_count", 3},
                           {"install_step", "done"},
                           {"progress", 1.0},
                           {"error", nullptr}});
  agents.set("127.0.0.3", {{"state", "crashed"}, {"crash_count", 7}, {"progress", 4.2}});

  Poller p(*store, agents.fn(), cfg());
  auto c = p.run_cycle();
  EXPECT_EQ(c.targets, 2);
  EXPECT_EQ(c.answered, 2);
  EXPECT_EQ(c.failed, 0);
  EXPECT_EQ(agents.ips_called(), (std::set<std::string>{"127.0.0.2", "127.0.0.3"}));
  for (const auto& call : agents.calls())
    EXPECT_EQ(call.vmid,
              call.ip == "127.0.0.2" ? *ready.vmid : *errored.vmid);  // each with its own vmid

  auto r = get(ready.id);
  EXPECT_EQ(r.agent_state, "running");
  ASSERT_TRUE(r.agent_last_seen);
  EXPECT_EQ(*r.agent_last_seen, clock.now());
  EXPECT_EQ(r.crash_count, 3);
  EXPECT_EQ(r.install_step, "done");
  EXPECT_EQ(r.progress, 1.0);
  EXPECT_EQ(r.state, ServerState::kReady);  // the control-plane state is the job runner's
  auto e = get(errored.id);
  EXPECT_EQ(e.agent_state, "crashed");
  EXPECT_EQ(e.crash_count, 7);
  EXPECT_EQ(e.progress, 1.0);  // clamped
  EXPECT_EQ(e.state, ServerState::kError);
  for (auto id : {provisioning.id, no_ip.id, deleting.id, released.id}) {
    EXPECT_EQ(get(id).agent_state, "") << id;
    EXPECT_FALSE(get(id).agent_last_seen) << id;
  }

  // The next cycle stamps the new time.
  clock.advance(5000ms);
  p.run_cycle();
  EXPECT_EQ(*get(ready.id).agent_last_seen, clock.now());
  EXPECT_EQ(p.cycles(), 2u);
}

TEST_F(PollerTest, ErrorIsMirroredForReadyServersAndKeptForErrorServers) {
  auto ready = server(ServerState::kReady, "127.0.0.2");
  auto errored = server(ServerState::kError, "127.0.0.3");
  ASSERT_TRUE(
      store->update_server(errored.id, {.error = std::string("compensation failed: disk")}));
  agents.set("127.0.0.2", {{"state", "error"}, {"error", "install failed: E_HASH_MISMATCH"}});
  agents.set("127.0.0.3", {{"state", "error"}, {"error", "agent says something else"}});
  Poller p(*store, agents.fn(), cfg());
  p.run_cycle();
  EXPECT_EQ(get(ready.id).error, "install failed: E_HASH_MISMATCH");
  EXPECT_EQ(get(errored.id).error, "compensation failed: disk");
  // null clears; an absent field leaves the value alone.
  agents.set("127.0.0.2", {{"state", "running"}});
  p.run_cycle();
  EXPECT_EQ(get(ready.id).error, "install failed: E_HASH_MISMATCH");
  agents.set("127.0.0.2", {{"state", "running"}, {"error", nullptr}});
  p.run_cycle();
  EXPECT_EQ(get(ready.id).error, "");
}

// L7: a local-driver agent's root is a host path; it never reaches the user.
TEST_F(PollerTest, HostPathsInTheAgentsErrorAreRedacted) {
  auto ready = server(ServerState::kReady, "127.0.0.2");
  agents.set(
      "127.0.0.2",
      {{"state", "error"},
       {"error", "verify command could not run: exec /var/lib/zlh/containers/6001/opt/x: denied"}});
  auto c = cfg();
  c.host_paths = {"/var/lib/zlh"};
  Poller p(*store, agents.fn(), c);
  p.run_cycle();
  EXPECT_EQ(get(ready.id).error, "verify command could not run: exec <host path>: denied");
}

TEST_F(PollerTest, AFailureKeepsLastSeenAndAStreakMarksTheAgentUnreachable) {
  auto s = server(ServerState::kReady, "127.0.0.2");
  auto other = server(ServerState::kReady, "127.0.0.3");
  metrics::Registry reg;
  Poller p(*store, agents.fn(), cfg(), &reg);
  p.run_cycle();
  auto seen = *get(s.id).agent_last_seen;
  EXPECT_EQ(get(s.id).agent_state, "running");

  agents.down("127.0.0.2", true);
  for (int i = 1; i <= 2; ++i) {
    clock.advance(5000ms);
    auto c = p.run_cycle();
    EXPECT_EQ(c.failed, 1);
    EXPECT_EQ(c.marked_unreachable, 0);
    EXPECT_EQ(*get(s.id).agent_last_seen, seen) << "cycle " << i;
    EXPECT_EQ(get(s.id).agent_state, "running") << "cycle " << i;  // not yet: 2 < unreachable_after
  }
  clock.advance(5000ms);
  auto c3 = p.run_cycle();
  EXPECT_EQ(c3.marked_unreachable, 1);
  EXPECT_EQ(get(s.id).agent_state, kAgentUnreachable);
  EXPECT_EQ(*get(s.id).agent_last_seen, seen);
  EXPECT_EQ(*get(other.id).agent_last_seen, clock.now());  // the other agent is unaffected
  EXPECT_NE(reg.render().find("zlh_poller_failures_total 3\n"), std::string::npos) << reg.render();
  EXPECT_NE(reg.render().find("zlh_poller_unreachable 1\n"), std::string::npos);

  // Back: the agent's own state and a fresh last_seen.
  agents.down("127.0.0.2", false);
  clock.advance(5000ms);
  auto c4 = p.run_cycle();
  EXPECT_EQ(c4.failed, 0);
  EXPECT_EQ(get(s.id).agent_state, "running");
  EXPECT_EQ(*get(s.id).agent_last_seen, clock.now());
  EXPECT_NE(reg.render().find("zlh_poller_unreachable 0\n"), std::string::npos);
}

TEST_F(PollerTest, BadAnswersAreFailures) {
  auto s = server(ServerState::kReady, "127.0.0.2");
  agents.set("127.0.0.2", {{"no_state", true}});
  Poller p(*store, agents.fn(), cfg());
  auto c = p.run_cycle();
  EXPECT_EQ(c.failed, 1);
  EXPECT_FALSE(get(s.id).agent_last_seen);
  agents.set("127.0.0.2", {{"state", 42}});
  EXPECT_EQ(p.run_cycle().failed, 1);
}

TEST_F(PollerTest, ConcurrencyIsBoundedByWorkers) {
  for (int i = 0; i < 24; ++i) server(ServerState::kReady, "127.0.1." + std::to_string(i + 1));
  agents.delay_ = 20ms;
  Poller p(*store, agents.fn(), cfg(4));
  auto c = p.run_cycle();
  EXPECT_EQ(c.targets, 24);
  EXPECT_EQ(c.answered, 24);
  EXPECT_EQ(agents.calls().size(), 24u);  // each agent once
  EXPECT_EQ(agents.ips_called().size(), 24u);
  EXPECT_LE(agents.max_in_flight(), 4);
  EXPECT_GE(agents.max_in_flight(), 2);  // it does run them concurrently
  // 24 calls of 20 ms with 4 workers cannot take less than 6 × 20 ms.
  EXPECT_GE(c.took, 120ms);
}

TEST_F(PollerTest, TheLoopNeverOverlapsItselfAndKeepsTheInterval) {
  // A cycle (one 30 ms call) longer than the interval (10 ms): the next
  // cycle waits for the previous one to finish.
  server(ServerState::kReady, "127.0.0.2");
  agents.delay_ = 30ms;
  {
    Poller p(*store, agents.fn(), cfg());
    p.start();
    p.start();  // repeat: still one loop
    ASSERT_TRUE(eventually([&] { return p.cycles() >= 5; }, 10s));
    p.stop();
  }
  auto calls = agents.calls();
  ASSERT_GE(calls.size(), 5u);
  for (size_t i = 1; i < calls.size(); ++i)
    EXPECT_GE(calls[i].start, calls[i - 1].end) << "call " << i;

  // A quick cycle waits for the interval, start to start.
  agents.clear();
  agents.delay_ = 0ms;
  PollerConfig slow = cfg();
  slow.interval = 100ms;
  Poller p(*store, agents.fn(), slow);
  const auto before = std::chrono::steady_clock::now();
  p.start();
  ASSERT_TRUE(eventually([&] { return p.cycles() >= 4; }, 10s));
  p.stop();
  calls = agents.calls();
  ASSERT_GE(calls.size(), 4u);
  // Cycle k starts no earlier than cycle 0 + k × 100 ms, and cycle 0 after
  // `before`. A call may start a little after its cycle (the scheduler), so
  // the gap between two calls is only checked to be far from back to back.
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GE(calls[i].start - before, std::chrono::milliseconds(100 * i - 1)) << "call " << i;
    EXPECT_GE(calls[i].start - calls[i - 1].start, 50ms) << "call " << i;
  }
}

TEST_F(PollerTest, CallsAreSpreadOverTheInterval) {
  for (int i = 0; i < 10; ++i) server(ServerState::kReady, "127.0.2." + std::to_string(i + 1));
  PollerConfig c = cfg();
  c.interval = 200ms;
  c.spread = 0.5;  // 10 calls over 100 ms: one every 10 ms
  Poller p(*store, agents.fn(), c);
  // Call i may start no earlier than the cycle's start + i × 10 ms; the cycle
  // starts after `before`. (Measured from the first call instead, a first
  // call delayed by the scheduler made the others look early.)
  const auto before = std::chrono::steady_clock::now();
  auto cycle = p.run_cycle();
  EXPECT_EQ(cycle.answered, 10);
  EXPECT_GE(cycle.took, 90ms);
  auto calls = agents.calls();
  ASSERT_EQ(calls.size(), 10u);
  std::sort(calls.begin(), calls.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  for (size_t i = 1; i < calls.size(); ++i)
    EXPECT_GE(calls[i].start - before, std::chrono::milliseconds(10 * i - 1)) << "call " << i;

  // spread 0: no waiting between calls.
  agents.clear();
  c.spread = 0;
  c.interval = std::chrono::hours(1);
  Poller q(*store, agents.fn(), c);
  EXPECT_LT(q.run_cycle().took, 1s);
}

TEST_F(PollerTest, StopEndsASpreadCycleAtOnce) {
  for (int i = 0; i < 3; ++i) server(ServerState::kReady, "127.0.3." + std::to_string(i + 1));
  PollerConfig c = cfg();
  c.interval = std::chrono::hours(1);  // the second call would wait 20 minutes
  Poller p(*store, agents.fn(), c);
  p.start();
  ASSERT_TRUE(eventually([&] { return agents.calls().size() >= 1; }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  p.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(agents.calls().size(), 1u);
}

TEST_F(PollerTest, StopIsPromptAndRepeatable) {
  server(ServerState::kReady, "127.0.0.2");
  PollerConfig c = cfg();
  c.interval = std::chrono::hours(1);
  Poller p(*store, agents.fn(), c);
  p.stop();   // before start: fine
  p.start();  // after stop: does nothing
  EXPECT_EQ(p.cycles(), 0u);
  Poller q(*store, agents.fn(), c);
  q.start();
  ASSERT_TRUE(eventually([&] { return q.cycles() >= 1; }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  q.stop();  // does not wait for the hour
  q.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(q.cycles(), 1u);
}

TEST_F(PollerTest, MetricsAreRendered) {
  server(ServerState::kReady, "127.0.0.2");
  server(ServerState::kProvisioning, "");  // its job stays queued
  std::vector<std::string> steps = {"s"};
  store::NewServer ns;
  ns.owner_id = owner_;
  auto queued = store->create_server(ns, steps);
  ASSERT_TRUE(queued);
  metrics::Registry reg;
  Poller p(*store, agents.fn(), cfg(), &reg);
  std::string before = reg.render();
  EXPECT_NE(before.find("zlh_poller_cycles_total 0\n"), std::string::npos) << before;
  EXPECT_NE(before.find("zlh_poller_cycle_seconds_count 0\n"), std::string::npos) << before;
  p.run_cycle();
  p.run_cycle();
  std::string m = reg.render();
  EXPECT_NE(m.find("# TYPE zlh_poller_cycles_total counter\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_poller_cycles_total 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_poller_failures_total 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE zlh_poller_cycle_seconds histogram\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_poller_cycle_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_poller_cycle_seconds_count 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_poller_targets 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_servers{state=\"ready\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("zlh_servers{state=\"provisioning\"} 2\n"), std::string::npos) << m;
  // Jobs by state are main's collector (scrape time); the poller must not add
  // a second zlh_jobs family.
  EXPECT_EQ(m.find("zlh_jobs"), std::string::npos) << m;
  // Every family once.
  std::map<std::string, int> types;
  for (size_t at = m.find("# TYPE "); at != std::string::npos; at = m.find("# TYPE ", at + 1))
    ++types[m.substr(at + 7, m.find(' ', at + 7) - at - 7)];
  for (const auto& [name, n] : types) EXPECT_EQ(n, 1) << name;
}

}  // namespace
}  // namespace zlh::api
