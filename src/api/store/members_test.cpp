#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

const std::vector<std::string> kSteps = {"allocate", "done"};

PermSet perms(std::initializer_list<Permission> ps) {
  PermSet s;
  for (auto p : ps) s.add(p);
  return s;
}

class MembersStore : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ann = make_user("ann");
    bob = make_user("bob");
    cat = make_user("cat");
    NewServer n;
    n.owner_id = ann;
    n.type = ServerType::kGame;
    n.name = "survival";
    n.hostname_prefix = "mc-";
    n.payload = R"({"memory_mb":2048,"disk_gb":10})";
    auto c = store->create_server(n, kSteps);
    ASSERT_TRUE(c) << c.error().to_string();
    server = c->server.id;
    vmid = *c->server.vmid;
    job = c->job.id;
  }
  int64_t ann = 0, bob = 0, cat = 0, server = 0, job = 0;
  int vmid = 0;
};

TEST_P(MembersStore, PermissionNamesRoundTrip) {
  PermSet all = PermSet::all();
  EXPECT_EQ(permissions_text(all),
            R"(["console","files.read","files.write","power","backups","schedules","ide",)"
            R"("settings"])");
  EXPECT_EQ(*parse_permissions_text(permissions_text(all)), all);
  EXPECT_EQ(*parse_permissions_text("[]"), PermSet{});
  EXPECT_FALSE(parse_permissions_text(R"(["root"])"));
  EXPECT_FALSE(parse_permission("Console"));
}

TEST_P(MembersStore, OwnerAndMemberSeeTheServerOthersDoNot) {
  auto own = store->get_server_access(server, ann);
  ASSERT_TRUE(own) << own.error().to_string();
  EXPECT_TRUE(own->owner);
  EXPECT_EQ(own->permissions, PermSet::all());
  EXPECT_EQ(own->owner_username, "ann");
  EXPECT_EQ(store->get_server_access(server, bob).error().code, codes::kNotFound);
  EXPECT_EQ(store->get_job_for_owner(job, bob).error().code, codes::kNotFound);

  ASSERT_TRUE(store->add_member(server, bob, perms({Permission::kConsole}), ann));
  auto shared = store->get_server_access(server, bob);
  ASSERT_TRUE(shared);
  EXPECT_FALSE(shared->owner);
  EXPECT_TRUE(shared->permissions.has(Permission::kConsole));
  EXPECT_FALSE(shared->permissions.has(Permission::kFilesRead));
  EXPECT_EQ(shared->owner_username, "ann");
  EXPECT_TRUE(store->get_server_access_by_vmid(vmid, bob));
  EXPECT_TRUE(store->get_job_for_owner(job, bob));
  EXPECT_EQ(store->get_server_access(server, cat).error().code, codes::kNotFound);

  auto bobs = store->list_servers_for_user(bob);
  ASSERT_TRUE(bobs);
  ASSERT_EQ(bobs->size(), 1u);
  EXPECT_EQ(bobs->front().server.id, server);
  EXPECT_TRUE(store->list_servers_for_user(cat)->empty());
}

TEST_P(MembersStore, AddUpdateRemove) {
  EXPECT_EQ(store->add_member(server, ann, PermSet::all(), ann).error().code, codes::kConflict);
  EXPECT_EQ(store->add_member(server, 9999, PermSet{}, ann).error().code, codes::kNotFound);
  auto m = store->add_member(server, bob, perms({Permission::kFilesRead}), ann);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->username, "bob");
  EXPECT_EQ(m->added_by, ann);
  EXPECT_EQ(store->add_member(server, bob, PermSet{}, ann).error().code, codes::kConflict);
  auto u = store->update_member(server, bob, perms({Permission::kPower, Permission::kIde}));
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->permissions.has(Permission::kIde));
  EXPECT_FALSE(u->permissions.has(Permission::kFilesRead));
  EXPECT_EQ(store->update_member(server, cat, PermSet{}).error().code, codes::kNotFound);
  EXPECT_EQ(store->list_members(server)->size(), 1u);
  ASSERT_TRUE(store->remove_member(server, bob));
  EXPECT_EQ(store->remove_member(server, bob).error().code, codes::kNotFound);
  EXPECT_EQ(store->get_server_access(server, bob).error().code, codes::kNotFound);
}

TEST_P(MembersStore, DeletedServerTakesItsMembersAndOffers) {
  ASSERT_TRUE(store->add_member(server, bob, PermSet::all(), ann));
  ASSERT_TRUE(store->offer_transfer(server, cat, clock.now() + 1h));
  ASSERT_TRUE(store->delete_server(server));
  EXPECT_EQ(store->get_server_access(server, bob).error().code, codes::kNotFound);
  EXPECT_TRUE(store->list_transfers_to(cat, clock.now())->empty());
  EXPECT_EQ(store->add_member(server, cat, PermSet{}, ann).error().code, codes::kNotFound);
}

TEST_P(MembersStore, TransferNeedsTheRecipientsAcceptance) {
  EXPECT_EQ(store->offer_transfer(server, ann, clock.now() + 1h).error().code, codes::kConflict);
  ASSERT_TRUE(store->add_member(server, bob, perms({Permission::kConsole}), ann));
  auto t = store->offer_transfer(server, bob, clock.now() + 1h);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->from_username, "ann");
  EXPECT_EQ(t->to_username, "bob");
  // Only the one offered may accept; the server is unchanged until then.
  EXPECT_EQ(store->accept_transfer(server, cat, clock.now(), {}).error().code, codes::kNotFound);
  EXPECT_TRUE(store->get_server_access(server, ann)->owner);
  ASSERT_EQ(store->list_transfers_to(bob, clock.now())->size(), 1u);

  auto a = store->accept_transfer(server, bob, clock.now(), {});
  ASSERT_TRUE(a) << a.error().to_string();
  auto now_bobs = store->get_server_access(server, bob);
  ASSERT_TRUE(now_bobs);
  EXPECT_TRUE(now_bobs->owner);
  EXPECT_EQ(now_bobs->permissions, PermSet::all());
  EXPECT_EQ(store->get_server_access(server, ann).error().code, codes::kNotFound);
  EXPECT_TRUE(store->list_members(server)->empty());  // bob's member row went
  EXPECT_EQ(store->accept_transfer(server, bob, clock.now(), {}).error().code, codes::kNotFound);
}

TEST_P(MembersStore, TransferExpiresAndCanBeCancelled) {
  ASSERT_TRUE(store->offer_transfer(server, bob, clock.now() + 1h));
  clock.advance(2h);
  EXPECT_TRUE(store->list_transfers_to(bob, clock.now())->empty());
  EXPECT_EQ(store->accept_transfer(server, bob, clock.now(), {}).error().code, codes::kNotFound);
  ASSERT_TRUE(store->offer_transfer(server, bob, clock.now() + 1h));
  ASSERT_TRUE(store->cancel_transfer(server));
  EXPECT_EQ(store->cancel_transfer(server).error().code, codes::kNotFound);
  EXPECT_EQ(store->accept_transfer(server, bob, clock.now(), {}).error().code, codes::kNotFound);
}

TEST_P(MembersStore, TransferCountsAgainstTheNewOwnersQuota) {
  ASSERT_TRUE(store->offer_transfer(server, bob, clock.now() + 1h));
  NewServer q;
  q.quota_memory_mb = 1024;  // the server asks 2048
  auto a = store->accept_transfer(server, bob, clock.now(), q);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, codes::kQuota);
  EXPECT_TRUE(store->get_server_access(server, ann)->owner);
  q.quota_memory_mb = 4096;
  EXPECT_TRUE(store->accept_transfer(server, bob, clock.now(), q));
}

TEST_P(MembersStore, RevokeIdeAccessDropsTicketsAndCookiesOfThatVmid) {
  ASSERT_TRUE(store->add_member(server, bob, perms({Permission::kIde}), ann));
  auto s = store->create_session(bob, clock.now() + 1h);
  ASSERT_TRUE(s);
  const std::string h1(64, 'a'), h2(64, 'b'), h3(64, 'c');
  ASSERT_TRUE(store->create_ide_ticket(h1, {s->id, bob, vmid}, clock.now() + 60s));
  ASSERT_TRUE(store->create_ide_cookie(h2, {s->id, bob, vmid}));
  ASSERT_TRUE(store->create_ide_cookie(h3, {s->id, bob, vmid + 1}));
  EXPECT_EQ(*store->revoke_ide_access(bob, vmid), 2);
  EXPECT_FALSE(store->get_ide_cookie(h2, clock.now()));
  EXPECT_TRUE(store->get_ide_cookie(h3, clock.now()));
}

INSTANTIATE_TEST_SUITE_P(Engines, MembersStore, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
