// Two JobRunners ("replicas" A and B) on one store file, each with its own
// Store: B takes a job over when A dies and its lease expires, resuming at
// the step A had not finished; A's late write after B's claim changes
// nothing (fencing); A stops its job when it cannot renew; a delete made
// through B cancels the create A runs, and waits for A to let go of it.
// The store's clock is a FakeClock, so a lease expires when the test says.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/jobs/job_runner.hpp"
#include "api/stats/inert_driver_test.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api {
namespace {

using namespace std::chrono_literals;
using store::JobState;
using store::StepState;

const std::vector<std::string> kSteps = {"one", "two", "three"};

// Waits for `cond` up to 20 s (no timing is asserted: only that it happens).
template <typename F>
bool eventually(F cond) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A gate a job's code waits at until the test opens it.
class Gate {
 public:
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool is_open() {
    std::lock_guard lk(mu_);
    return open_;
  }
  void wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// What the replicas did, in order.
struct Events {
  std::mutex mu;
  std::vector<std::string> list;
  void add(std::string e) {
    std::lock_guard lk(mu);
    list.push_back(std::move(e));
  }
  int count(const std::string& e) {
    std::lock_guard lk(mu);
    return int(std::count(list.begin(), list.end(), e));
  }
  int index(const std::string& e) {
    std::lock_guard lk(mu);
    auto it = std::find(list.begin(), list.end(), e);
    return it == list.end() ? -1 : int(it - list.begin());
  }
};

class Driver final : public stats::testing::InertDriver {
 public:
  explicit Driver(Events& ev) : ev_(ev) {}
  Result<void> create(int, const drivers::ContainerSpec&) override {
    ev_.add("create");
    create_gate.wait();
    ev_.add("create end");
    return {};
  }
  Result<void> start(int) override {
    ev_.add("start");
    return {};
  }
  Result<void> stop(int, std::chrono::milliseconds) override {
    ev_.add("stop");
    return {};
  }
  Result<void> destroy(int, std::chrono::milliseconds) override {
    ev_.add("destroy");
    return {};
  }
  Gate create_gate;

 private:
  Events& ev_;
};

// One replica: its Store on the shared file, driver and runner.
struct Replica {
  Replica(const std::string& path, store::testing::FakeClock& clock, Events& ev, std::string name,
          std::chrono::milliseconds ttl)
      : driver(ev), keys(crypto::ed25519_generate()), agents(keys.sec) {
    auto s = store::Store::open(path, {.busy_timeout = 50ms, .clock = clock.fn()});
    if (!s) throw std::runtime_error(s.error().message);
    st = std::move(*s);
    JobRunnerConfig cfg;
    cfg.owner = std::move(name);
    cfg.lease_ttl = ttl;
    cfg.poll_interval = 10ms;
    runner = std::make_unique<JobRunner>(*st, driver, agents, cfg);
  }
  ~Replica() { runner.reset(); }
  std::unique_ptr<store::Store> st;
  Driver driver;
  crypto::Ed25519KeyPair keys;
  AgentClient agents;
  std::unique_ptr<JobRunner> runner;
};

class JobLeasesTest : public store::testing::StoreTest {
 protected:
  std::unique_ptr<Replica> replica(std::string name, std::chrono::milliseconds ttl = 300ms) {
    return std::make_unique<Replica>(db_path(), clock, events, std::move(name), ttl);
  }
  // A server whose create job is done, and a backup-kind job of it with kSteps.
  int64_t backup_job() {
    store::NewServer n;
    n.owner_id = make_user("ann");
    n.type = store::ServerType::kDev;
    n.name = "x";
    auto c = store->create_server(n, kCreateSteps);
    EXPECT_TRUE(c.has_value()) << c.error().to_string();
    server_id = c->server.id;
    EXPECT_TRUE(store->update_job_state(c->job.id, JobState::kRunning));
    EXPECT_TRUE(store->update_job_state(c->job.id, JobState::kDone));
    auto j = store->create_job(server_id, store::JobKind::kBackup, kSteps);
    EXPECT_TRUE(j.has_value()) << j.error().to_string();
    return j ? j->id : 0;
  }
  store::Job job(int64_t id) {
    auto j = store->get_job(id);
    EXPECT_TRUE(j.has_value());
    return j ? *j : store::Job{};
  }

  Events events;
  int64_t server_id = 0;
};

TEST_F(JobLeasesTest, AnotherReplicaTakesOverADeadOnesJobAtItsStep) {
  const int64_t id = backup_job();
  auto a = replica("replica-a");
  auto b = replica("replica-b");
  std::atomic<bool> a_in_two{false};
  a->runner->add_kind(store::JobKind::kBackup, [&](JobContext& ctx) -> Result<void> {
    if (auto r = ctx.step(0,
                          [&]() -> Result<void> {
                            events.add("a:one");
                            return {};
                          });
        !r)
      return r;
    return ctx.step(1, [&]() -> Result<void> {
      a_in_two = true;
      while (ctx.sleep(10ms)) {
      }
      return fail(codes::kUnavailable, "stopped");
    });
  });
  b->runner->add_kind(store::JobKind::kBackup, [&](JobContext& ctx) -> Result<void> {
    for (int i = 0; i < 3; ++i)
      if (auto r = ctx.step(i,
                            [&, i]() -> Result<void> {
                              events.add("b:" + kSteps[size_t(i)]);
                              return {};
                            });
          !r)
        return r;
    return {};
  });

  a->runner->resume_all();
  ASSERT_TRUE(eventually([&] { return a_in_two.load(); }));
  a->runner->abandon();  // kill -9: the lease stays in the row
  b->runner->resume_all();
  EXPECT_EQ(*store->check_lease({id, "replica-a", 1, {}}), JobState::kRunning);
  EXPECT_EQ(job(id).steps[1].state, StepState::kRunning);

  clock.advance(300ms);  // A's lease expires: B claims and resumes at step 1
  ASSERT_TRUE(eventually([&] { return job(id).state == JobState::kDone; }));
  EXPECT_EQ(events.count("a:one"), 1);
  EXPECT_EQ(events.count("b:one"), 0) << "a done step is not run again";
  EXPECT_EQ(events.count("b:two"), 1);
  EXPECT_EQ(events.count("b:three"), 1);
  ASSERT_TRUE(eventually([&] { return b->runner->active() == 0; }));
  EXPECT_FALSE(store->claim_job("replica-c", 1s)->has_value());
}

TEST_F(JobLeasesTest, ALateWriteAfterAnotherClaimChangesNothing) {
  const int64_t id = backup_job();
  auto a = replica("replica-a", 1h);  // renews every 20 min: not during the test
  Gate stuck;
  std::atomic<bool> a_in_two{false};
  a->runner->add_kind(store::JobKind::kBackup, [&](JobContext& ctx) -> Result<void> {
    if (auto r = ctx.step(0, [] { return Result<void>{}; }); !r) return r;
    if (auto r = ctx.step(1,
                          [&] {
                            a_in_two = true;
                            stuck.wait();  // a driver call that outlives the lease
                            return Result<void>{};
                          });
        !r)
      return r;
    events.add("a:three");
    return ctx.step(2, [] { return Result<void>{}; });
  });
  a->runner->resume_all();
  ASSERT_TRUE(eventually([&] { return a_in_two.load(); }));
  clock.advance(2h);
  auto b = store->claim_job("replica-b", 1h);
  ASSERT_TRUE(b && b->has_value());
  EXPECT_EQ((*b)->job_id, id);
  stuck.open();
  ASSERT_TRUE(eventually([&] { return a->runner->active() == 0; }));
  EXPECT_EQ(events.count("a:three"), 0) << "A stops once its write is refused";
  store::Job j = job(id);
  EXPECT_EQ(j.state, JobState::kRunning) << "A neither finished nor failed it";
  EXPECT_EQ(j.steps[1].state, StepState::kRunning) << "A's 'done' was refused";
  EXPECT_EQ(j.steps[2].state, StepState::kPending);
  EXPECT_TRUE(store->check_lease(**b)) << "A did not release B's lease";
}

TEST_F(JobLeasesTest, AReplicaThatCannotRenewStopsItsJob) {
  const int64_t id = backup_job();
  auto a = replica("replica-a", 600ms);
  std::atomic<bool> a_in_one{false};
  a->runner->add_kind(store::JobKind::kBackup, [&](JobContext& ctx) -> Result<void> {
    return ctx.step(0, [&]() -> Result<void> {
      a_in_one = true;
      while (ctx.sleep(10ms)) {
      }
      return fail(codes::kUnavailable, "stopped");
    });
  });
  a->runner->resume_all();
  ASSERT_TRUE(eventually([&] { return a_in_one.load(); }));
  // The database locked by another process: A's renewals fail.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  const bool stopped = eventually([&] { return a->runner->active() == 0; });
  sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  EXPECT_TRUE(stopped) << "the job stops without the database";
  EXPECT_EQ(job(id).state, JobState::kRunning) << "left for the next holder";
}

TEST_F(JobLeasesTest, ADeleteThroughAnotherReplicaCancelsTheCreateAndWaitsForIt) {
  store::NewServer n;
  n.owner_id = make_user("ann");
  n.type = store::ServerType::kDev;
  n.name = "x";
  auto c = store->create_server(n, kCreateSteps);
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  auto a = replica("replica-a");
  auto b = replica("replica-b");
  a->runner->submit(c->job.id);  // claims it by id
  ASSERT_TRUE(eventually([&] { return events.count("create") == 1; }));

  auto del = b->st->create_delete_job(c->server.id, kDeleteSteps);  // DELETE on B
  ASSERT_TRUE(del.has_value()) << del.error().to_string();
  ASSERT_EQ(del->cancelled_job, c->job.id);
  b->runner->cancel(c->job.id);  // not running on B: nothing
  b->runner->submit(del->job.id);
  ASSERT_TRUE(eventually([&] { return b->runner->active() == 1; }));
  std::this_thread::sleep_for(100ms);  // room for a wrong move by B
  EXPECT_EQ(events.count("stop") + events.count("destroy"), 0) << "B waits for A's create";

  a->driver.create_gate.open();
  ASSERT_TRUE(eventually([&] { return job(del->job.id).state == JobState::kDone; }));
  EXPECT_EQ(events.count("start"), 0) << "A stopped at its next step";
  EXPECT_LT(events.index("create end"), events.index("destroy"));
  EXPECT_EQ(job(c->job.id).state, JobState::kCancelled);
  EXPECT_TRUE(eventually([&] { return a->runner->active() == 0; }));
  EXPECT_EQ(store->get_server(c->server.id)->state, store::ServerState::kDeleted);
}

}  // namespace
}  // namespace zlh::api
