#include "api/request_ids.hpp"

#include <gtest/gtest.h>

namespace zlh::api {
namespace {

TEST(RequestIds, OnlyPlainPositiveDecimalsAreIds) {
  EXPECT_EQ(parse_id("1"), 1);
  EXPECT_EQ(parse_id("9223372036854775807"), INT64_MAX);
  for (std::string_view bad :
       {"", "0", "-1", "+1", " 1", "1 ", "1x", "0x10", "9223372036854775808", "1e3"})
    EXPECT_FALSE(parse_id(bad)) << bad;
}

TEST(RequestIds, PathIdIsNotFoundAndUserIdZeroWhenMalformed) {
  http::Request req;
  req.params["id"] = "42";
  EXPECT_EQ(*path_id(req), 42);
  EXPECT_TRUE(path_id(req, "other").error().is(codes::kNotFound));
  http::Request bad;
  bad.params["id"] = "+42";
  EXPECT_TRUE(path_id(bad).error().is(codes::kNotFound));
  bad.log_user = "7";
  EXPECT_EQ(user_id(bad), 7);
  bad.log_user = "";
  EXPECT_EQ(user_id(bad), 0);
}

}  // namespace
}  // namespace zlh::api
