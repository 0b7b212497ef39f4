// The store's change notifications reaching this replica's caches
// (app/invalidation.hpp): live sessions rechecked and cut when access goes,
// nothing cut when the store cannot tell, nothing after the watch ends.
#include "api/app/invalidation.hpp"

#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api {
namespace {

using store::Permission;
using store::PermSet;

class Invalidation : public store::testing::SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ann = make_user("ann");
    bob = make_user("bob");
    store::NewServer n;
    n.owner_id = ann;
    n.type = store::ServerType::kDev;
    n.name = "d";
    n.hostname_prefix = "dev-";
    const std::vector<std::string> steps = {"allocate"};
    server = store->create_server(n, steps)->server.id;
  }
  // A session of `user` on the server that counts its cuts.
  std::unique_ptr<authz::LiveSessions::Handle> open(int64_t user, int* cuts,
                                                    std::optional<Permission> need) {
    auto h = sessions.add(server, user, need);
    h->set_cut([cuts] { ++*cuts; });
    return h;
  }
  authz::LiveSessions sessions;
  int64_t ann = 0, bob = 0, server = 0;
};

TEST_F(Invalidation, AnotherReplicasAccessChangeCutsWhatItNoLongerAllows) {
  PermSet console;
  console.add(Permission::kConsole);
  ASSERT_TRUE(store->add_member(server, bob, console, ann));
  auto watch = watch_changes(*store, nullptr, &sessions);
  int bob_console = 0, bob_stats = 0, ann_console = 0;
  auto h1 = open(bob, &bob_console, Permission::kConsole);
  auto h2 = open(bob, &bob_stats, std::nullopt);
  auto h3 = open(ann, &ann_console, Permission::kConsole);
  // The console permission goes: the console is cut, the stats stream stays.
  ASSERT_TRUE(store->update_member(server, bob, PermSet{}));
  EXPECT_EQ(bob_console, 1);
  EXPECT_EQ(bob_stats, 0);
  EXPECT_EQ(ann_console, 0);  // the owner keeps everything
  // Removed: the rest goes.
  ASSERT_TRUE(store->remove_member(server, bob));
  EXPECT_EQ(bob_stats, 1);
  EXPECT_EQ(ann_console, 0);
  // "*" rechecks every server: nothing more to cut.
  apply_change("*", *store, nullptr, &sessions);
  EXPECT_EQ(ann_console, 0);
}

TEST_F(Invalidation, NothingIsCutWhenTheStoreCannotTellOrTheWatchEnded) {
  ASSERT_TRUE(store->add_member(server, bob, PermSet{}, ann));
  int cuts = 0;
  auto h = open(bob, &cuts, std::nullopt);
  EXPECT_EQ(sessions.recheck(server,
                             [](int64_t, int64_t) -> Result<std::optional<PermSet>> {
                               return fail(codes::kUnavailable, "database down");
                             }),
            0);
  EXPECT_EQ(cuts, 0);
  auto watch = watch_changes(*store, nullptr, &sessions);
  watch.reset();
  ASSERT_TRUE(store->remove_member(server, bob));
  EXPECT_EQ(cuts, 0);  // the watch is gone
  apply_change("server:" + std::to_string(server), *store, nullptr, &sessions);
  EXPECT_EQ(cuts, 1);
  apply_change("server:x", *store, nullptr, &sessions);  // malformed keys are ignored
  apply_change("user:1", *store, nullptr, &sessions);
}

}  // namespace
}  // namespace zlh::api
