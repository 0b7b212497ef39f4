#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "api/store/test_util.hpp"
#include "base/crypto.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

std::string h(std::string_view secret) { return crypto::sha256_hex(secret); }

class IdeAccessStore : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    uid = make_user("alice");
    auto s = store->create_session(uid, clock.now() + 1h);
    ASSERT_TRUE(s);
    sid = s->id;
  }
  IdeGrant grant(int vmid = 5001) { return {sid, uid, vmid}; }
  int64_t uid = 0;
  std::string sid;
};

TEST_P(IdeAccessStore, TicketIsSingleUseAndCarriesItsGrant) {
  ASSERT_TRUE(store->create_ide_ticket(h("t1"), grant(), clock.now() + 60s));
  auto g = store->redeem_ide_ticket(h("t1"), clock.now());
  ASSERT_TRUE(g) << g.error().to_string();
  EXPECT_EQ(g->session_id, sid);
  EXPECT_EQ(g->user_id, uid);
  EXPECT_EQ(g->vmid, 5001);
  EXPECT_EQ(store->redeem_ide_ticket(h("t1"), clock.now()).error().code, codes::kNotFound);
  EXPECT_EQ(store->redeem_ide_ticket(h("unknown"), clock.now()).error().code, codes::kNotFound);
  EXPECT_EQ(store->redeem_ide_ticket("not-a-hash", clock.now()).error().code, codes::kNotFound);
}

TEST_P(IdeAccessStore, TicketExpires) {
  ASSERT_TRUE(store->create_ide_ticket(h("t2"), grant(), clock.now() + 60s));
  EXPECT_EQ(store->redeem_ide_ticket(h("t2"), clock.now() + 60s).error().code, codes::kNotFound);
  EXPECT_EQ(store->create_ide_ticket(h("t3"), grant(), clock.now()).error().field, "expires_at");
}

TEST_P(IdeAccessStore, TicketOfARevokedSessionIsRefused) {
  ASSERT_TRUE(store->create_ide_ticket(h("t4"), grant(), clock.now() + 60s));
  ASSERT_TRUE(store->revoke_session(sid));
  EXPECT_EQ(store->redeem_ide_ticket(h("t4"), clock.now()).error().code, codes::kNotFound);
}

TEST_P(IdeAccessStore, GrantMustNameTheSessionsOwnUser) {
  int64_t bob = make_user("bob");
  IdeGrant g{sid, bob, 5001};
  EXPECT_EQ(store->create_ide_ticket(h("t5"), g, clock.now() + 60s).error().code, codes::kNotFound);
  EXPECT_EQ(store->create_ide_cookie(h("c5"), g).error().code, codes::kNotFound);
  EXPECT_EQ(store->create_ide_ticket(h("t6"), grant(0), clock.now() + 60s).error().field, "vmid");
  EXPECT_EQ(store->create_ide_ticket("short", grant(), clock.now() + 60s).error().field, "hash");
}

TEST_P(IdeAccessStore, ConcurrentRedeemsHaveExactlyOneWinner) {
  ASSERT_TRUE(store->create_ide_ticket(h("race"), grant(), clock.now() + 60s));
  std::atomic<int> wins{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 16; ++i)
    ts.emplace_back([&] {
      if (store->redeem_ide_ticket(h("race"), clock.now())) wins++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_P(IdeAccessStore, CookieLivesAsLongAsItsSession) {
  ASSERT_TRUE(store->create_ide_cookie(h("c1"), grant(5002)));
  auto g = store->get_ide_cookie(h("c1"), clock.now());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->vmid, 5002);
  EXPECT_EQ(g->user_id, uid);
  // Expires with the session.
  EXPECT_EQ(store->get_ide_cookie(h("c1"), clock.now() + 2h).error().code, codes::kNotFound);
  // Revoked with it (logout).
  ASSERT_TRUE(store->revoke_session(sid));
  EXPECT_EQ(store->get_ide_cookie(h("c1"), clock.now()).error().code, codes::kNotFound);
  EXPECT_EQ(store->get_ide_cookie(h("nope"), clock.now()).error().code, codes::kNotFound);
}

TEST_P(IdeAccessStore, OldTicketsArePurgedAndCookiesGoWithPurgedSessions) {
  ASSERT_TRUE(store->create_ide_ticket(h("old"), grant(), clock.now() + 60s));
  ASSERT_TRUE(store->create_ide_cookie(h("c2"), grant()));
  clock.advance(10min);
  auto s2 = store->create_session(uid, clock.now() + 1h);
  ASSERT_TRUE(s2);
  ASSERT_TRUE(store->create_ide_ticket(h("new"), IdeGrant{s2->id, uid, 5001}, clock.now() + 60s));
  EXPECT_EQ(store->redeem_ide_ticket(h("old"), clock.now() - 10min + 1s).error().code,
            codes::kNotFound);
  ASSERT_TRUE(store->revoke_session(sid));
  clock.advance(1s);
  ASSERT_TRUE(store->purge_sessions(clock.now()));
  EXPECT_EQ(store->get_ide_cookie(h("c2"), clock.now() - 10min).error().code, codes::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Engines, IdeAccessStore, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
