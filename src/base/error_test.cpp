#include "base/error.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace zlh {
namespace {

TEST(Error, StatusMappingIsStable) {
  EXPECT_EQ(http_status_for(codes::kInvalid), 400);
  EXPECT_EQ(http_status_for(codes::kBadPath), 400);
  EXPECT_EQ(http_status_for(codes::kUnauthorized), 401);
  EXPECT_EQ(http_status_for(codes::kForbidden), 403);
  EXPECT_EQ(http_status_for(codes::kNotFound), 404);
  EXPECT_EQ(http_status_for(codes::kConflict), 409);
  EXPECT_EQ(http_status_for(codes::kTooLarge), 413);
  EXPECT_EQ(http_status_for(codes::kEulaRequired), 422);
  EXPECT_EQ(http_status_for(codes::kRateLimited), 429);
  EXPECT_EQ(http_status_for(codes::kUpstream), 502);
  EXPECT_EQ(http_status_for(codes::kInternal), 500);
  EXPECT_EQ(http_status_for("E_SOMETHING_NEW"), 500);
}

TEST(Error, BodyShapeAndWrap) {
  Error e = Error::invalid("memory_mb", "too big").wrap("payload");
  EXPECT_EQ(e.message, "payload: too big");
  auto j = nlohmann::json::parse(error_body(e));
  EXPECT_EQ(j["error"]["code"], "E_INVALID");
  EXPECT_EQ(j["error"]["message"], "payload: too big");
  EXPECT_EQ(j["error"]["field"], "memory_mb");
  auto j2 = nlohmann::json::parse(error_body(Error::make(codes::kNotFound, "gone")));
  EXPECT_FALSE(j2["error"].contains("field"));
}

}  // namespace
}  // namespace zlh
