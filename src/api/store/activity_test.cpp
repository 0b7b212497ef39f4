#include <gtest/gtest.h>

#include <algorithm>

#include "api/store/impl.hpp"
#include "api/store/migrations.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

std::vector<std::string> actions(const std::vector<ActivityEntry>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(a.action);
  return out;
}

TEST_P(StoreTest, ActivityListsOneServersEntriesNewestFirstWithPaging) {
  int64_t ann = make_user("ann");
  const Time t0 = clock.now();
  for (int i = 0; i < 5; ++i) {
    clock.advance(1s);
    ASSERT_TRUE(store->append_audit(
        {ann, "server.start", "server:7", R"({"n":)" + std::to_string(i) + "}", "192.0.2.8"}));
    ASSERT_TRUE(store->append_audit({ann, "server.start", "server:8", "{}", "192.0.2.9"}));
  }
  auto page = store->list_activity(7, std::nullopt, 3);
  ASSERT_TRUE(page.has_value()) << page.error().to_string();
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].detail, R"({"n":4})");
  EXPECT_EQ((*page)[0].at, t0 + 5s);
  EXPECT_EQ((*page)[0].user_id, ann);
  EXPECT_EQ((*page)[0].username, "ann");
  EXPECT_EQ((*page)[0].remote_addr, "192.0.2.8");
  EXPECT_EQ((*page)[2].detail, R"({"n":2})");
  EXPECT_GT((*page)[0].id, (*page)[1].id);

  auto rest = store->list_activity(7, page->back().id, 3);
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].detail, R"({"n":1})");
  EXPECT_EQ((*rest)[1].detail, R"({"n":0})");
  EXPECT_TRUE(store->list_activity(7, rest->back().id, 3)->empty());
  EXPECT_TRUE(store->list_activity(99, std::nullopt, 3)->empty());
}

TEST_P(StoreTest, ActivityShowsOnlyAllowedActions) {
  int64_t ann = make_user("ann");
  for (const char* a :
       {"auth.login", "authz.denied", "admin.quotas", "server.start", "console.command",
        "files.write", "mods.install", "backup.create", "schedule.run", "member.add",
        "transfer.offer", "ide.ticket", "server.host_stop", "server.delete", "files."})
    ASSERT_TRUE(store->append_audit({ann, a, "server:3", "{}", ""})) << a;
  auto v = store->list_activity(3, std::nullopt, 200);
  ASSERT_TRUE(v.has_value()) << v.error().to_string();
  auto got = actions(*v);
  std::reverse(got.begin(), got.end());
  EXPECT_EQ(got,
            (std::vector<std::string>{"server.start", "console.command", "files.write",
                                      "mods.install", "backup.create", "schedule.run", "member.add",
                                      "transfer.offer", "ide.ticket", "server.host_stop"}));
  for (const auto& a : got) EXPECT_TRUE(is_activity_action(a)) << a;
  EXPECT_FALSE(is_activity_action("auth.login"));
  EXPECT_FALSE(is_activity_action("authz.denied"));
  EXPECT_FALSE(is_activity_action("files."));
}

TEST_P(StoreTest, ActivityServerIdFromTargetOrGivenAndUserNameGoneWithUser) {
  int64_t ann = make_user("ann");
  ASSERT_TRUE(store->append_audit({ann, "schedule.run", "server:4/schedule:9", "{}", ""}));
  ASSERT_TRUE(store->append_audit({ann, "backup.delete", "backup:12", "{}", "", 4}));
  ASSERT_TRUE(store->append_audit({ann, "files.write", "server:x", "{}", ""}));
  ASSERT_TRUE(store->append_audit({std::nullopt, "server.stop", "server:4", "{}", ""}));
  auto v = store->list_activity(4, std::nullopt, 50);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(actions(*v),
            (std::vector<std::string>{"server.stop", "backup.delete", "schedule.run"}));
  EXPECT_FALSE((*v)[0].user_id.has_value());
  EXPECT_EQ((*v)[0].username, "");
  auto all = store->list_audit(10);
  ASSERT_TRUE(all.has_value());
  EXPECT_FALSE((*all)[1].server_id.has_value()) << "server:x names no server";
  EXPECT_EQ((*all)[2].server_id, 4);
}

TEST_P(StoreTest, ActivityRefusesBadLimits) {
  EXPECT_EQ(store->list_activity(1, std::nullopt, 0).error().code, codes::kInvalid);
  EXPECT_EQ(store->list_activity(1, std::nullopt, 201).error().code, codes::kInvalid);
}

// 0012 fills server_id for the entries written before it.
TEST(Migrations, AuditServerBackfillsServerIdFromTarget) {
  testing::TempDir dir;
  auto all = embedded_migrations();
  auto it = std::find_if(all.begin(), all.end(),
                         [](const Migration& m) { return m.name == "audit_server"; });
  ASSERT_NE(it, all.end());
  const size_t before = size_t(it - all.begin());
  SQLite::Database raw(dir.path + "/zlh.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  ASSERT_TRUE(migrate(raw, all.subspan(0, before), 0).has_value());
  raw.exec(
      "INSERT INTO audit_log(id, at, action, target) VALUES"
      " (1, 0, 'server.start', 'server:12'), (2, 0, 'schedule.run', 'server:5/schedule:3'),"
      " (3, 0, 'auth.login', 'user:12'), (4, 0, 'x', 'server:'), (5, 0, 'x', 'server:1a'),"
      " (6, 0, 'x', 'server:7/'), (7, 0, 'x', ''), (8, 0, 'x', 'server:/3')");
  ASSERT_TRUE(migrate(raw, all, 1).has_value());
  SQLite::Statement q(raw, "SELECT id, server_id FROM audit_log ORDER BY id");
  std::vector<std::pair<int, int>> got;
  while (q.executeStep())
    got.push_back({q.getColumn(0).getInt(), q.getColumn(1).isNull() ? 0 : q.getColumn(1).getInt()});
  EXPECT_EQ(got, (std::vector<std::pair<int, int>>{
                     {1, 12}, {2, 5}, {3, 0}, {4, 0}, {5, 0}, {6, 7}, {7, 0}, {8, 0}}));
}

}  // namespace
}  // namespace zlh::api::store
