#include "proto/container_type.hpp"

#include <gtest/gtest.h>

namespace zlh {
namespace {

TEST(ContainerType, NamesRoundTripAndJsonIsTheName) {
  for (auto t : {ContainerType::kDev, ContainerType::kGame}) {
    EXPECT_EQ(parse_container_type(to_string(t)), t);
    EXPECT_EQ(nlohmann::json(t), to_string(t));
  }
  EXPECT_EQ(to_string(ContainerType::kDev), "dev");
  EXPECT_EQ(to_string(ContainerType::kGame), "game");
  EXPECT_EQ(parse_container_type("vm"), std::nullopt);
  EXPECT_EQ(parse_container_type("Dev"), std::nullopt);
  EXPECT_EQ(parse_container_type(""), std::nullopt);
}

}  // namespace
}  // namespace zlh
