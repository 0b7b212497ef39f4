#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

TEST_P(StoreTest, AuditAppendsAndListsNewestFirstWithPaging) {
  int64_t ann = make_user("ann");
  const Time t0 = clock.now();
  auto first = store->append_audit(
      {std::nullopt, "auth.login_failed", "user:ann", R"({"reason":"bad password"})", "192.0.2.7"});
  ASSERT_TRUE(first.has_value()) << first.error().to_string();
  for (int i = 0; i < 4; ++i) {
    clock.advance(1s);
    ASSERT_TRUE(store->append_audit(
        {ann, "server.create", "server:" + std::to_string(i), "{}", "192.0.2.8"}));
  }

  auto recent = store->list_audit(3);
  ASSERT_TRUE(recent.has_value());
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].target, "server:3");
  EXPECT_EQ((*recent)[0].user_id, ann);
  EXPECT_EQ((*recent)[0].at, t0 + 4s);
  EXPECT_EQ((*recent)[2].target, "server:1");

  auto older = store->list_audit(3, recent->back().id);
  ASSERT_TRUE(older.has_value());
  ASSERT_EQ(older->size(), 2u);
  EXPECT_EQ((*older)[0].target, "server:0");
  const AuditEntry& anon = (*older)[1];
  EXPECT_EQ(anon.id, *first);
  EXPECT_FALSE(anon.user_id.has_value());
  EXPECT_EQ(anon.action, "auth.login_failed");
  EXPECT_EQ(anon.detail, R"({"reason":"bad password"})");
  EXPECT_EQ(anon.remote_addr, "192.0.2.7");
  EXPECT_EQ(anon.at, t0);
}

TEST_P(StoreTest, AuditRefusesBadEntries) {
  EXPECT_EQ(store->append_audit({std::nullopt, "", "", "{}", ""}).error().field, "action");
  EXPECT_EQ(store->append_audit({std::nullopt, "x", "", "not json", ""}).error().field, "detail");
  EXPECT_EQ(store->append_audit({12345, "x", "", "{}", ""}).error().code, codes::kNotFound);
  EXPECT_EQ(store->list_audit(0).error().code, codes::kInvalid);
  EXPECT_EQ(store->list_audit(1001).error().code, codes::kInvalid);
  EXPECT_TRUE(store->list_audit(10)->empty());
}

}  // namespace
}  // namespace zlh::api::store
