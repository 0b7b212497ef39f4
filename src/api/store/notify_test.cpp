// Store::on_change on SQLite: keys fire after the commit, in this process,
// never for a write that rolled back (docs/store-engines.md "Cache
// invalidation"). The PostgreSQL side is in pg_listener_test.cpp.
#include <gtest/gtest.h>

#include <mutex>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::SqliteStoreTest;

const std::vector<std::string> kSteps = {"allocate", "done"};

class NotifyStore : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    store->on_change([this](std::string_view k) {
      std::lock_guard lk(mu);
      keys.emplace_back(k);
    });
    ann = make_user("ann");
    bob = make_user("bob");
  }
  std::vector<std::string> take() {
    std::lock_guard lk(mu);
    return std::exchange(keys, {});
  }
  CreatedServer make_server(int64_t owner, ServerType type = ServerType::kGame) {
    NewServer n;
    n.owner_id = owner;
    n.type = type;
    n.name = "s";
    n.hostname_prefix = "mc-";
    n.payload = R"({"memory_mb":1024,"disk_gb":5})";
    auto c = store->create_server(n, kSteps);
    EXPECT_TRUE(c) << c.error().to_string();
    return c ? *c : CreatedServer{};
  }
  std::mutex mu;
  std::vector<std::string> keys;
  int64_t ann = 0, bob = 0;
};

using Keys = std::vector<std::string>;

TEST_F(NotifyStore, LogoutFiresTheSessionAfterTheCommit) {
  auto s = store->create_session(ann, clock.now() + 1h);
  ASSERT_TRUE(s);
  EXPECT_EQ(take(), Keys{});  // a new session changes no cache
  // The callback runs after the commit and outside the store's lock: it
  // may read the store, and sees the session gone.
  bool seen_revoked = false;
  store->on_change([&](std::string_view k) {
    if (k == "session:" + s->id) seen_revoked = !store->get_session(s->id, clock.now());
  });
  ASSERT_TRUE(store->revoke_session(s->id));
  EXPECT_EQ(take(), Keys{"session:" + s->id});
  EXPECT_TRUE(seen_revoked);
}

TEST_F(NotifyStore, AFailedWriteFiresNothing) {
  EXPECT_FALSE(store->revoke_session("no-such-session"));
  EXPECT_FALSE(store->remove_member(1234, bob));
  EXPECT_EQ(take(), Keys{});
}

TEST_F(NotifyStore, ARolledBackWriteDropsWhatItQueued) {
  // One game vmid: moving the server off it queues server:/vmid: keys,
  // then finds the pool exhausted and rolls back.
  Options o;
  o.game_vmids = {5000, 5000};
  reopen(o);
  store->on_change([this](std::string_view k) {
    std::lock_guard lk(mu);
    keys.emplace_back(k);
  });
  auto c = make_server(ann);
  take();
  auto moved = store->move_to_free_vmid(c.server.id, 5000, "test");
  ASSERT_FALSE(moved);
  EXPECT_TRUE(moved.error().is(codes::kUnavailable)) << moved.error().to_string();
  EXPECT_EQ(take(), Keys{});
  EXPECT_EQ(store->get_server(c.server.id)->vmid, 5000);  // nothing changed
}

TEST_F(NotifyStore, AccessChangesFireTheServerAndItsVmid) {
  auto c = make_server(ann);
  const int vmid = *c.server.vmid;
  const std::string server = "server:" + std::to_string(c.server.id);
  const std::string v = "vmid:" + std::to_string(vmid);
  EXPECT_EQ(take(), Keys{v});  // created on a vmid: "no such vmid" decisions go

  ASSERT_TRUE(store->add_member(c.server.id, bob, PermSet{}, ann));
  EXPECT_EQ(take(), Keys{});  // adding gives access; nothing cached refuses it for long
  ASSERT_TRUE(store->update_member(c.server.id, bob, PermSet{}));
  EXPECT_EQ(take(), (Keys{server, v}));
  ASSERT_TRUE(store->remove_member(c.server.id, bob));
  EXPECT_EQ(take(), (Keys{server, v}));
  EXPECT_EQ(*store->revoke_ide_access(bob, vmid), 0);
  EXPECT_EQ(take(), Keys{v});

  ASSERT_TRUE(store->offer_transfer(c.server.id, bob, clock.now() + 1h));
  EXPECT_EQ(take(), Keys{});
  ASSERT_TRUE(store->accept_transfer(c.server.id, bob, clock.now(), NewServer{}));
  EXPECT_EQ(take(), (Keys{server, v}));

  ASSERT_TRUE(store->create_delete_job(c.server.id, kSteps));
  EXPECT_EQ(take(), (Keys{server, v}));
  ASSERT_TRUE(store->delete_server(c.server.id));
  EXPECT_EQ(take(), (Keys{server, v}));  // the vmid it held before the release
  ASSERT_TRUE(store->delete_server(c.server.id));
  EXPECT_EQ(take(), Keys{server});  // repeated: nothing held any more
}

TEST_F(NotifyStore, AMovedServerFiresBothVmids) {
  auto c = make_server(ann);
  take();
  auto m = store->move_to_free_vmid(c.server.id, *c.server.vmid, "held by something else");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(take(),
            (Keys{"server:" + std::to_string(c.server.id), "vmid:" + std::to_string(*c.server.vmid),
                  "vmid:" + std::to_string(*m->vmid)}));
  ASSERT_TRUE(store->release_allocations(c.server.id));
  EXPECT_EQ(take(),
            (Keys{"server:" + std::to_string(c.server.id), "vmid:" + std::to_string(*m->vmid)}));
}

TEST_F(NotifyStore, EveryCallbackHearsEachKeyOnce) {
  int second = 0;
  store->on_change([&](std::string_view) { ++second; });
  auto c = make_server(ann);
  // changed_server twice in one write would still fire each key once.
  ASSERT_TRUE(store->add_member(c.server.id, bob, PermSet{}, ann));
  ASSERT_TRUE(store->remove_member(c.server.id, bob));
  EXPECT_EQ(take().size(), 3u);
  EXPECT_EQ(second, 3);
}

}  // namespace
}  // namespace zlh::api::store
