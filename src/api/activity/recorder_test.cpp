#include "api/activity/recorder.hpp"

#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::activity {
namespace {

using store::testing::SqliteStoreTest;

TEST_F(SqliteStoreTest, RecorderWritesInOrderOffTheCallersThread) {
  int64_t ann = make_user("ann");
  Recorder rec(*store);
  for (int i = 0; i < 50; ++i)
    EXPECT_TRUE(rec.record(
        {ann, "files.write", "server:3", R"({"i":)" + std::to_string(i) + "}", "192.0.2.1"}));
  rec.flush();
  auto v = store->list_activity(3, std::nullopt, 200);
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), 50u);
  EXPECT_EQ(v->front().detail, R"({"i":49})");
  EXPECT_EQ(v->back().detail, R"({"i":0})");
  EXPECT_EQ(rec.dropped(), 0u);
}

TEST_F(SqliteStoreTest, RecorderDropsWhenFullOrStoppedAndStopWritesTheQueue) {
  int64_t ann = make_user("ann");
  Recorder rec(*store, 2);
  int queued = 0;
  for (int i = 0; i < 200; ++i) queued += rec.record({ann, "files.write", "server:3", "{}", ""});
  rec.stop();
  EXPECT_FALSE(rec.record({ann, "files.write", "server:3", "{}", ""}));
  EXPECT_EQ(rec.dropped(), uint64_t(200 - queued + 1));
  EXPECT_EQ(int(store->list_activity(3, std::nullopt, 200)->size()), queued);
  rec.stop();  // repeatable
}

}  // namespace
}  // namespace zlh::api::activity
