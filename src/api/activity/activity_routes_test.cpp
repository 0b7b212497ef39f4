#include "api/activity/activity_routes.hpp"

#include <gtest/gtest.h>

namespace zlh::api::activity {
namespace {

TEST(ActivityJson, ActorDetailAndUnixSeconds) {
  store::ActivityEntry e;
  e.id = 9;
  e.at = store::Time(std::chrono::milliseconds(1795514400123));
  e.user_id = 4;
  e.username = "ann";
  e.action = "files.write";
  e.detail = R"({"path":"a.txt"})";
  e.remote_addr = "192.0.2.1";
  EXPECT_EQ(activity_json(e), nlohmann::json::parse(R"({"id":9,"at":1795514400,
    "action":"files.write","actor":{"id":4,"username":"ann"},"remote_addr":"192.0.2.1",
    "detail":{"path":"a.txt"}})"));
  e.user_id.reset();
  e.detail = "not json";
  auto j = activity_json(e);
  EXPECT_TRUE(j["actor"].is_null());
  EXPECT_EQ(j["detail"], nlohmann::json::object());
}

}  // namespace
}  // namespace zlh::api::activity
