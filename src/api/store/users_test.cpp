#include <gtest/gtest.h>

#include <set>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

TEST_P(StoreTest, CreateAndFindUsers) {
  auto u = store->create_user({"Ann@Example.com", "ann", "argon-hash", true});
  ASSERT_TRUE(u.has_value()) << u.error().to_string();
  EXPECT_GT(u->id, 0);
  EXPECT_TRUE(u->is_admin);
  EXPECT_EQ(u->created_at, clock.now());

  auto by_id = store->get_user(u->id);
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->email, "Ann@Example.com");
  EXPECT_EQ(by_id->password_hash, "argon-hash");
  EXPECT_EQ(by_id->created_at, u->created_at);

  for (const char* ident : {"ann@example.com", "ANN@EXAMPLE.COM", "ann", "Ann"}) {
    auto f = store->find_user_by_login(ident);
    ASSERT_TRUE(f.has_value()) << ident;
    EXPECT_EQ(f->id, u->id) << ident;
  }
  auto missing = store->find_user_by_login("bob");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, codes::kNotFound);
  EXPECT_EQ(store->get_user(u->id + 100).error().code, codes::kNotFound);
  EXPECT_EQ(*store->count_users(), 1);
}

TEST_P(StoreTest, DuplicateEmailOrUsernameIsAConflictNamingWhich) {
  ASSERT_TRUE(store->create_user({"ann@example.com", "ann", "h", false}));

  auto dup_email = store->create_user({"ANN@example.com", "other", "h", false});
  ASSERT_FALSE(dup_email.has_value());
  EXPECT_EQ(dup_email.error().code, codes::kConflict);
  EXPECT_NE(dup_email.error().message.find("email"), std::string::npos);

  auto dup_name = store->create_user({"other@example.com", "ANN", "h", false});
  ASSERT_FALSE(dup_name.has_value());
  EXPECT_EQ(dup_name.error().code, codes::kConflict);
  EXPECT_NE(dup_name.error().message.find("username"), std::string::npos);

  EXPECT_EQ(*store->count_users(), 1);
}

TEST_P(StoreTest, EmptyUserFieldsAreInvalid) {
  auto r = store->create_user({"", "ann", "h", false});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_EQ(r.error().field, "email");
  EXPECT_EQ(store->create_user({"a@b.c", "ann", "", false}).error().field, "password_hash");
}

TEST_P(StoreTest, EmailMatchWinsOverAnotherUsersUsername) {
  // Only possible if usernames may contain '@' (auth decides); the store's
  // rule is still deterministic: email first.
  auto a = store->create_user({"x@y.z", "a", "h", false});
  auto b = store->create_user({"b@y.z", "x@y.z", "h", false});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(store->find_user_by_login("x@y.z")->id, a->id);
}

TEST_P(StoreTest, SessionIsValidUntilItExpires) {
  int64_t uid = make_user("ann");
  const Time t0 = clock.now();
  auto s = store->create_session(uid, t0 + 12h);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(s->id.size(), 43u);
  EXPECT_EQ(s->user_id, uid);
  EXPECT_EQ(s->created_at, t0);
  EXPECT_EQ(s->expires_at, t0 + 12h);

  auto got = store->get_session(s->id, t0 + 12h - 1ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->user_id, uid);
  EXPECT_EQ(got->expires_at, t0 + 12h);
  EXPECT_FALSE(got->revoked_at.has_value());

  auto at_expiry = store->get_session(s->id, t0 + 12h);
  ASSERT_FALSE(at_expiry.has_value());
  EXPECT_EQ(at_expiry.error().code, codes::kNotFound);
  EXPECT_EQ(store->get_session("no-such-sid", t0).error().code, codes::kNotFound);
}

TEST_P(StoreTest, RevokedSessionIsInvalidAndRevokingIsRepeatable) {
  int64_t uid = make_user("ann");
  const Time t0 = clock.now();
  auto s = store->create_session(uid, t0 + 1h);
  auto other = store->create_session(uid, t0 + 1h);
  ASSERT_TRUE(s && other);
  EXPECT_NE(s->id, other->id);

  ASSERT_TRUE(store->revoke_session(s->id));
  EXPECT_EQ(store->get_session(s->id, t0).error().code, codes::kNotFound);
  EXPECT_TRUE(store->get_session(other->id, t0).has_value()) << "only that session is revoked";

  clock.advance(5min);
  EXPECT_TRUE(store->revoke_session(s->id).has_value());
  EXPECT_EQ(store->revoke_session("no-such-sid").error().code, codes::kNotFound);

  // The first revocation time is kept: purging revocations older than
  // t0+1min removes it, which would not happen had the repeat moved it.
  auto purged = store->purge_sessions(t0 + 1min);
  ASSERT_TRUE(purged.has_value());
  EXPECT_EQ(*purged, 1);
  EXPECT_TRUE(store->get_session(other->id, t0).has_value());
}

TEST_P(StoreTest, SessionRulesOnCreate) {
  int64_t uid = make_user("ann");
  auto born_expired = store->create_session(uid, clock.now());
  ASSERT_FALSE(born_expired.has_value());
  EXPECT_EQ(born_expired.error().code, codes::kInvalid);
  auto nobody = store->create_session(uid + 99, clock.now() + 1h);
  ASSERT_FALSE(nobody.has_value());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);
}

TEST_P(StoreTest, PurgeRemovesOnlyExpiredSessions) {
  int64_t uid = make_user("ann");
  const Time t0 = clock.now();
  auto short_lived = store->create_session(uid, t0 + 1min);
  auto long_lived = store->create_session(uid, t0 + 1h);
  ASSERT_TRUE(short_lived && long_lived);
  EXPECT_EQ(*store->purge_sessions(t0 + 30s), 0);
  EXPECT_EQ(*store->purge_sessions(t0 + 2min), 1);
  EXPECT_EQ(*store->purge_sessions(t0 + 2min), 0);
  EXPECT_TRUE(store->get_session(long_lived->id, t0 + 2min).has_value());
}

TEST_P(StoreTest, SessionIdsAreDistinct) {
  int64_t uid = make_user("ann");
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.insert(store->create_session(uid, clock.now() + 1h)->id);
  EXPECT_EQ(ids.size(), 200u);
}

}  // namespace
}  // namespace zlh::api::store
