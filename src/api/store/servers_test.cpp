#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

const std::vector<std::string> kSteps = {"allocate", "create", "configure", "start", "done"};

NewServer game(int64_t owner, int ports = 1) {
  NewServer n;
  n.owner_id = owner;
  n.type = ServerType::kGame;
  n.name = "survival";
  n.hostname_prefix = "mc-paper-";
  n.payload = R"({"game":"minecraft","variant":"paper"})";
  n.port_count = ports;
  return n;
}

NewServer dev(int64_t owner, int ports = 0) {
  NewServer n;
  n.owner_id = owner;
  n.type = ServerType::kDev;
  n.name = "ide";
  n.hostname_prefix = "dev-";
  n.port_count = ports;
  return n;
}

TEST_P(StoreTest, CreateServerAllocatesAndQueuesItsJob) {
  int64_t ann = make_user("ann");
  auto c = store->create_server(game(ann, 2), kSteps);
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  const Server& s = c->server;
  EXPECT_GT(s.id, 0);
  EXPECT_EQ(s.owner_id, ann);
  EXPECT_EQ(s.type, ServerType::kGame);
  EXPECT_EQ(s.vmid, 5000);
  EXPECT_EQ(s.ports, (std::vector<int>{30000, 30001}));
  EXPECT_EQ(s.hostname, "mc-paper-5000");
  EXPECT_EQ(s.state, ServerState::kProvisioning);
  EXPECT_EQ(s.payload, R"({"game":"minecraft","variant":"paper"})");
  EXPECT_EQ(s.created_at, clock.now());
  EXPECT_FALSE(s.deleted_at.has_value());

  const Job& j = c->job;
  EXPECT_EQ(j.server_id, s.id);
  EXPECT_EQ(j.kind, JobKind::kCreate);
  EXPECT_EQ(j.state, JobState::kQueued);
  ASSERT_EQ(j.steps.size(), kSteps.size());
  EXPECT_EQ(j.steps[1].name, "create");
  EXPECT_EQ(j.steps[1].state, StepState::kPending);

  auto d = store->create_server(dev(ann), kSteps);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->server.vmid, 6000);
  EXPECT_EQ(d->server.hostname, "dev-6000");
  EXPECT_TRUE(d->server.ports.empty());

  auto again = store->get_server(s.id);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->vmid, 5000);
  EXPECT_EQ(again->ports, s.ports);
}

TEST_P(StoreTest, AVmidTakenOutsideZlhIsReservedAndTheServerMovesWithItsHostname) {
  int64_t ann = make_user("ann");
  auto a = store->create_server(game(ann), kSteps);
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(a->server.vmid, 5000);
  auto moved = store->move_to_free_vmid(a->server.id, 5000, "proxmox: CT 5000 someone-else");
  ASSERT_TRUE(moved.has_value()) << moved.error().to_string();
  EXPECT_EQ(moved->vmid, 5001);
  EXPECT_EQ(moved->hostname, "mc-paper-5001");
  EXPECT_EQ(moved->ports, a->server.ports) << "only the vmid moves";
  // Repeating it changes nothing.
  auto again = store->move_to_free_vmid(a->server.id, 5000, "again");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->vmid, 5001);
  // 5000 is never handed out again, even once nothing holds it in the store.
  auto b = store->create_server(game(ann), kSteps);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->server.vmid, 5002);
  ASSERT_TRUE(store->release_allocations(a->server.id));
  auto c = store->create_server(game(ann), kSteps);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->server.vmid, 5001);
  EXPECT_EQ(store->move_to_free_vmid(999999, 5000, "x").error().code, codes::kNotFound);
}

TEST_P(StoreTest, AnotherOwnersServerIsNotFoundExactlyLikeAMissingOne) {
  int64_t ann = make_user("ann");
  int64_t bob = make_user("bob");
  auto a = store->create_server(dev(ann), kSteps);
  auto b = store->create_server(dev(bob), kSteps);
  ASSERT_TRUE(a && b);

  EXPECT_TRUE(store->get_server_for_owner(a->server.id, ann).has_value());
  auto not_yours = store->get_server_for_owner(a->server.id, bob);
  auto missing = store->get_server_for_owner(a->server.id + 1000, bob);
  ASSERT_FALSE(not_yours.has_value());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(not_yours.error().code, codes::kNotFound);
  EXPECT_EQ(not_yours.error().code, missing.error().code);
  EXPECT_EQ(not_yours.error().message, missing.error().message);

  EXPECT_TRUE(store->get_server_by_vmid_for_owner(*a->server.vmid, ann).has_value());
  EXPECT_EQ(store->get_server_by_vmid_for_owner(*a->server.vmid, bob).error().code,
            codes::kNotFound);

  auto anns = store->list_servers_for_owner(ann);
  ASSERT_TRUE(anns.has_value());
  ASSERT_EQ(anns->size(), 1u);
  EXPECT_EQ(anns->front().id, a->server.id);
  EXPECT_EQ(store->list_servers()->size(), 2u);

  EXPECT_EQ(store->get_job_for_owner(a->job.id, bob).error().code, codes::kNotFound);
  EXPECT_TRUE(store->get_job_for_owner(a->job.id, ann).has_value());
}

TEST_P(StoreTest, CreateServerRefusesBadInputAndLeavesNothing) {
  int64_t ann = make_user("ann");
  NewServer bad = dev(ann);
  bad.payload = "[1,2]";
  EXPECT_EQ(store->create_server(bad, kSteps).error().field, "payload");
  bad = dev(ann, kMaxPortsPerServer + 1);
  EXPECT_EQ(store->create_server(bad, kSteps).error().field, "port_count");
  EXPECT_EQ(store->create_server(dev(ann), {}).error().field, "steps");
  auto nobody = store->create_server(dev(ann + 50), kSteps);
  ASSERT_FALSE(nobody.has_value());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);

  EXPECT_TRUE(store->list_servers()->empty());
  EXPECT_EQ(store->create_server(dev(ann), kSteps)->server.vmid, 6000) << "nothing was consumed";
}

// Runs `per_store` creates on each of `stores` at once, every create on its
// own thread; returns the servers made and the errors met.
struct Outcome {
  std::vector<Server> servers;
  std::vector<Error> errors;
};
Outcome create_concurrently(const std::vector<Store*>& stores, int per_store,
                            const NewServer& proto) {
  Outcome out;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (Store* st : stores)
    for (int i = 0; i < per_store; ++i)
      threads.emplace_back([&, st] {
        auto r = st->create_server(proto, kSteps);
        std::lock_guard lock(mu);
        if (r)
          out.servers.push_back(r->server);
        else
          out.errors.push_back(r.error());
      });
  for (auto& t : threads) t.join();
  return out;
}

void expect_distinct(const std::vector<Server>& servers, size_t n, size_t ports_each) {
  std::set<int> vmids, ports;
  for (const Server& s : servers) {
    ASSERT_TRUE(s.vmid.has_value());
    vmids.insert(*s.vmid);
    EXPECT_EQ(s.ports.size(), ports_each);
    ports.insert(s.ports.begin(), s.ports.end());
  }
  EXPECT_EQ(servers.size(), n);
  EXPECT_EQ(vmids.size(), n) << "a vmid was handed out twice";
  EXPECT_EQ(ports.size(), n * ports_each) << "a port was handed out twice";
}

TEST_P(StoreTest, FiftyConcurrentCreatesGetDistinctVmidsAndPortsThenThePoolIsExhausted) {
  Options o;
  o.game_vmids = {5000, 5049};
  o.ports = {30000, 30099};
  reopen(o);
  int64_t ann = make_user("ann");

  Outcome out = create_concurrently({store.get()}, 50, game(ann, 2));
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().to_string();
  expect_distinct(out.servers, 50, 2);
  std::set<int> vmids;
  for (const Server& s : out.servers) vmids.insert(*s.vmid);
  EXPECT_EQ(*vmids.begin(), 5000);
  EXPECT_EQ(*vmids.rbegin(), 5049);

  auto full = store->create_server(game(ann, 2), kSteps);
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, codes::kUnavailable);
  EXPECT_NE(full.error().message.find("vmid pool exhausted"), std::string::npos)
      << full.error().message;
  EXPECT_EQ(store->list_servers()->size(), 50u);
}

TEST_P(StoreTest, TwoStoresOnOneDatabaseNeverShareAnAllocation) {
  Options o;
  o.dev_vmids = {6000, 6049};
  o.ports = {40000, 40199};
  reopen(o);
  int64_t ann = make_user("ann");
  Options o2 = o;
  o2.clock = clock.fn();
  auto second = Store::open(url(), o2);
  ASSERT_TRUE(second.has_value()) << second.error().to_string();

  Outcome out = create_concurrently({store.get(), second->get()}, 25, dev(ann, 3));
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().to_string();
  expect_distinct(out.servers, 50, 3);
}

TEST_P(StoreTest, PortExhaustionRollsBackTheWholeCreate) {
  Options o;
  o.ports = {30000, 30004};
  reopen(o);
  int64_t ann = make_user("ann");
  ASSERT_TRUE(store->create_server(game(ann, 3), kSteps));
  auto r = store->create_server(game(ann, 3), kSteps);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, codes::kUnavailable);
  EXPECT_NE(r.error().message.find("port pool exhausted"), std::string::npos);

  EXPECT_EQ(store->list_servers()->size(), 1u);
  EXPECT_EQ(store->list_unfinished_jobs()->size(), 1u);
  auto fits = store->create_server(game(ann, 2), kSteps);
  ASSERT_TRUE(fits.has_value()) << fits.error().to_string();
  EXPECT_EQ(fits->server.vmid, 5001) << "the failed create took no vmid";
  EXPECT_EQ(fits->server.ports, (std::vector<int>{30003, 30004}));
}

TEST_P(StoreTest, ReleasedVmidsAndPortsAreReusedLowestFirst) {
  int64_t ann = make_user("ann");
  std::vector<Server> s;
  for (int i = 0; i < 3; ++i) s.push_back(store->create_server(game(ann, 2), kSteps)->server);
  ASSERT_EQ(s[1].vmid, 5001);
  ASSERT_EQ(s[1].ports, (std::vector<int>{30002, 30003}));

  ASSERT_TRUE(store->release_allocations(s[1].id));
  ASSERT_TRUE(store->release_allocations(s[1].id)) << "repeatable";
  auto released = store->get_server(s[1].id);
  ASSERT_TRUE(released.has_value());
  EXPECT_FALSE(released->vmid.has_value());
  EXPECT_TRUE(released->ports.empty());
  EXPECT_EQ(released->state, ServerState::kProvisioning) << "release does not change state";
  EXPECT_EQ(store->get_server_by_vmid_for_owner(5001, ann).error().code, codes::kNotFound);

  auto next = store->create_server(game(ann, 3), kSteps);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->server.vmid, 5001);
  EXPECT_EQ(next->server.ports, (std::vector<int>{30002, 30003, 30006}));
  auto after = store->create_server(game(ann, 0), kSteps);
  EXPECT_EQ(after->server.vmid, 5003) << "held vmids are never handed out";

  EXPECT_EQ(store->release_allocations(99999).error().code, codes::kNotFound);
}

TEST_P(StoreTest, DeletedServerIsATombstoneWhoseJobsStayVisible) {
  int64_t ann = make_user("ann");
  auto c = store->create_server(dev(ann, 1), kSteps);
  ASSERT_TRUE(c.has_value());
  const int64_t id = c->server.id;
  ASSERT_TRUE(store->update_job_state(c->job.id, JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(c->job.id, JobState::kDone));
  auto del = store->create_job(id, JobKind::kDelete, std::vector<std::string>{"stop", "destroy"});
  ASSERT_TRUE(del.has_value()) << del.error().to_string();
  ASSERT_TRUE(store->update_server(id, {.state = ServerState::kDeleting}));

  clock.advance(1s);
  ASSERT_TRUE(store->delete_server(id));
  ASSERT_TRUE(store->delete_server(id)) << "repeatable";

  EXPECT_EQ(store->get_server_for_owner(id, ann).error().code, codes::kNotFound);
  EXPECT_TRUE(store->list_servers_for_owner(ann)->empty());
  EXPECT_TRUE(store->list_servers()->empty());
  auto tomb = store->get_server(id);
  ASSERT_TRUE(tomb.has_value());
  EXPECT_EQ(tomb->state, ServerState::kDeleted);
  EXPECT_EQ(tomb->deleted_at, clock.now());
  EXPECT_FALSE(tomb->vmid.has_value());
  EXPECT_TRUE(tomb->ports.empty());

  auto job = store->get_job_for_owner(del->id, ann);
  ASSERT_TRUE(job.has_value()) << "the delete job outlives its server";
  EXPECT_EQ(job->kind, JobKind::kDelete);

  EXPECT_EQ(store->update_server(id, {.ip = "10.0.0.1"}).error().code, codes::kNotFound);
  EXPECT_EQ(store->create_job(id, JobKind::kDelete, std::vector<std::string>{"x"}).error().code,
            codes::kNotFound);
  EXPECT_EQ(store->create_server(dev(ann, 1), kSteps)->server.vmid, 6000);
  EXPECT_EQ(store->delete_server(99999).error().code, codes::kNotFound);
}

TEST_P(StoreTest, UpdateServerAppliesOnlyTheGivenFields) {
  int64_t ann = make_user("ann");
  auto c = store->create_server(game(ann), kSteps);
  ASSERT_TRUE(c.has_value());
  const int64_t id = c->server.id;
  clock.advance(2s);
  const Time seen = clock.now();
  ASSERT_TRUE(store->update_server(id, {.ip = "10.1.2.3",
                                        .node = "pve1",
                                        .agent_state = "installing",
                                        .agent_last_seen = seen,
                                        .install_step = "download runtime java 21",
                                        .progress = 0.25}));
  clock.advance(1s);
  ASSERT_TRUE(store->update_server(id, {.state = ServerState::kReady,
                                        .agent_state = "running",
                                        .crash_count = 2,
                                        .progress = 1.0,
                                        .error = "",
                                        .last_exit = R"({"signal":9,"reason":"out of memory"})"}));
  EXPECT_EQ(store->update_server(id, {.last_exit = "not json"}).error().field, "last_exit");
  auto s = store->get_server_for_owner(id, ann);
  EXPECT_EQ(s->last_exit, R"({"signal":9,"reason":"out of memory"})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, ServerState::kReady);
  EXPECT_EQ(s->ip, "10.1.2.3");
  EXPECT_EQ(s->node, "pve1");
  EXPECT_EQ(s->agent_state, "running");
  EXPECT_EQ(s->agent_last_seen, seen);
  EXPECT_EQ(s->crash_count, 2);
  EXPECT_EQ(s->install_step, "download runtime java 21");
  EXPECT_DOUBLE_EQ(s->progress, 1.0);
  EXPECT_EQ(s->hostname, "mc-paper-5000");
  EXPECT_EQ(s->payload, c->server.payload);
  EXPECT_EQ(s->created_at, c->server.created_at);
  EXPECT_EQ(s->updated_at, clock.now());

  EXPECT_EQ(store->update_server(id, {.state = ServerState::kDeleted}).error().field, "state");
  EXPECT_EQ(store->update_server(id, {.payload = "nope"}).error().field, "payload");
  EXPECT_EQ(store->update_server(id, {.progress = 1.5}).error().field, "progress");
  EXPECT_EQ(store->update_server(id, {.crash_count = -1}).error().field, "crash_count");
  EXPECT_EQ(store->update_server(id + 100, {.ip = "x"}).error().code, codes::kNotFound);
  ASSERT_TRUE(store->update_server(id, {}));  // only updated_at
}

TEST_P(StoreTest, ListForOwnerWithAThousandServers) {
  Options o;
  o.dev_vmids = {10000, 12999};
  reopen(o);
  int64_t ann = make_user("ann");
  int64_t bob = make_user("bob");
  NewServer proto = dev(ann, 1);
  proto.payload = R"({"container_type":"dev","runtime":"node","version":"20.18.0",)"
                  R"("enable_code_server":true,"memory_mb":2048})";
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(store->create_server(proto, kSteps));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store->create_server(dev(bob, 1), kSteps));

  // Wall time and this thread's CPU time: on a loaded machine the wall time
  // of a single run includes waiting for a CPU.
  auto cpu_now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  };
  std::vector<double> wall, cpu;
  size_t n = 0;
  for (int i = 0; i < 21; ++i) {
    const double c0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    auto list = store->list_servers_for_owner(ann);
    auto t1 = std::chrono::steady_clock::now();
    cpu.push_back(cpu_now() - c0);
    ASSERT_TRUE(list.has_value());
    n = list->size();
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  EXPECT_EQ(n, 1000u);
  const double first_wall = wall.front(), first_cpu = cpu.front();
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf(
      "[ timing ] %s: list_servers_for_owner, 1000 of 1200 servers, 21 runs:"
      " wall first %.3f median %.3f max %.3f ms; cpu first %.3f median %.3f ms\n",
      engine().name.c_str(), first_wall, wall[wall.size() / 2], wall.back(), first_cpu,
      cpu[cpu.size() / 2]);
}

}  // namespace
}  // namespace zlh::api::store

namespace zlh::api::store {
namespace {

// M4: quotas are checked inside the create transaction, so concurrent
// creates cannot both pass, and nothing is created beyond a quota.
TEST_P(StoreTest, QuotasRefuseInsideTheCreateAndNameTheQuota) {
  int64_t ann = make_user("ann");
  auto with = [&](int64_t mem, int64_t disk) {
    NewServer n = dev(ann);
    n.payload =
        R"({"memory_mb":)" + std::to_string(mem) + R"(,"disk_gb":)" + std::to_string(disk) + "}";
    n.memory_mb = mem;
    n.disk_gb = disk;
    n.quota_servers = 3;
    n.quota_memory_mb = 2048;
    n.quota_disk_gb = 20;
    return n;
  };
  ASSERT_TRUE(store->create_server(with(1024, 8), kSteps));
  auto mem = store->create_server(with(1536, 1), kSteps);
  ASSERT_FALSE(mem);
  EXPECT_EQ(mem.error().code, codes::kQuota);
  EXPECT_NE(mem.error().message.find("memory_mb"), std::string::npos) << mem.error().message;
  auto disk = store->create_server(with(256, 13), kSteps);
  ASSERT_FALSE(disk);
  EXPECT_NE(disk.error().message.find("disk_gb"), std::string::npos);
  ASSERT_TRUE(store->create_server(with(512, 4), kSteps));
  ASSERT_TRUE(store->create_server(with(256, 4), kSteps));
  auto count = store->create_server(with(1, 1), kSteps);
  ASSERT_FALSE(count);
  EXPECT_NE(count.error().message.find("quota servers"), std::string::npos);
  EXPECT_EQ(store->list_servers_for_owner(ann)->size(), 3u) << "nothing created beyond the quota";

  // Concurrent creates for one free place: exactly one wins.
  int64_t bob = make_user("bob");
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      NewServer n = dev(bob);
      n.quota_servers = 1;
      if (store->create_server(n, kSteps)) ok++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 1);
}

TEST_P(StoreTest, QuotaOverridesRoundTrip) {
  int64_t ann = make_user("ann");
  auto none = store->get_quotas(ann);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->servers);
  ASSERT_TRUE(store->set_quotas(ann, {5, std::nullopt, 0, 2, std::nullopt}));
  auto q = store->get_quotas(ann);
  EXPECT_EQ(q->servers, 5);
  EXPECT_FALSE(q->memory_mb);
  EXPECT_EQ(q->disk_gb, 0);
  EXPECT_EQ(q->consoles, 2);
  EXPECT_EQ(store->set_quotas(ann, {-1, {}, {}, {}, {}}).error().code, codes::kInvalid);
  EXPECT_EQ(store->get_quotas(999).error().code, codes::kNotFound);
}

}  // namespace
}  // namespace zlh::api::store
