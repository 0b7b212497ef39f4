// Store::on_change across stores on one database (the store suite, both
// engines): on PostgreSQL every store (replica) hears every store's
// committed changes, its own included, through LISTEN/NOTIFY; on SQLite a
// store hears only its own writes (one process: docs/store-engines.md
// "Cache invalidation").
#include <gtest/gtest.h>

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;
using SteadyClock = std::chrono::steady_clock;

// The keys a store's on_change heard, waited for with deadlines.
class Heard {
 public:
  void attach(Store& s) {
    s.on_change([this](std::string_view k) {
      std::lock_guard lk(mu_);
      keys_.emplace_back(k);
      cv_.notify_all();
    });
  }
  bool wait_for(const std::string& key, std::chrono::milliseconds d) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, d, [&] { return std::ranges::count(keys_, key) > 0; });
  }
  bool has(const std::string& key) {
    std::lock_guard lk(mu_);
    return std::ranges::count(keys_, key) > 0;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> keys_;
};

class ChangesAcrossStores : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Options o;
    o.clock = clock.fn();
    auto b = Store::open(url(), std::move(o));
    ASSERT_TRUE(b) << b.error().to_string();
    other = std::move(*b);
    here.attach(*store);
    there.attach(*other);
    if (on_postgres()) listening();
  }
  // Both listeners LISTEN (they connect in the background): a probe
  // logout, repeated until both stores heard it.
  void listening() {
    auto probe = store->create_session(make_user("probe"), clock.now() + 1h);
    ASSERT_TRUE(probe);
    const auto end = SteadyClock::now() + 10s;
    const std::string key = "session:" + probe->id;
    while (SteadyClock::now() < end) {
      ASSERT_TRUE(store->revoke_session(probe->id));
      if (here.wait_for(key, 200ms) && there.wait_for(key, 200ms)) return;
    }
    FAIL() << "the listeners did not hear a probe within 10 s";
  }
  std::unique_ptr<Store> other;
  Heard here, there;
};

TEST_P(ChangesAcrossStores, LogoutOnOneStoreReachesTheOther) {
  const int64_t ann = make_user("ann");
  auto s = store->create_session(ann, clock.now() + 1h);
  ASSERT_TRUE(s);
  const std::string key = "session:" + s->id;
  const auto t0 = SteadyClock::now();
  ASSERT_TRUE(store->revoke_session(s->id));
  ASSERT_TRUE(here.wait_for(key, 5s));  // its own write, both engines
  if (!on_postgres()) {
    EXPECT_FALSE(there.has(key));  // SQLite: in-process only
    return;
  }
  ASSERT_TRUE(there.wait_for(key, 5s));
  std::cout
      << "[ latency ] revoke_session to the other store's callback: "
      << std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count()
      << " us\n";
  EXPECT_FALSE(other->get_session(s->id, clock.now()));  // what the callback re-reads
}

TEST_P(ChangesAcrossStores, ARemovedMemberReachesTheOther) {
  if (!on_postgres()) GTEST_SKIP() << "one process on SQLite";
  const int64_t ann = make_user("ann"), bob = make_user("bob");
  NewServer n;
  n.owner_id = ann;
  n.type = ServerType::kDev;
  n.name = "d";
  n.hostname_prefix = "dev-";
  const std::vector<std::string> steps = {"allocate"};
  auto c = store->create_server(n, steps);
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(there.wait_for("vmid:" + std::to_string(*c->server.vmid), 5s));
  ASSERT_TRUE(other->add_member(c->server.id, bob, PermSet::all(), ann));
  ASSERT_TRUE(other->remove_member(c->server.id, bob));
  EXPECT_TRUE(here.wait_for("server:" + std::to_string(c->server.id), 5s));
}

INSTANTIATE_TEST_SUITE_P(Engines, ChangesAcrossStores, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
