#include "proto/payload.hpp"

#include <gtest/gtest.h>

namespace zlh::payload {
namespace {
using nlohmann::json;

json dev() {
  return {{"vmid", 6001},         {"container_type", "dev"},    {"runtime", "node"},
          {"version", "20.18.0"}, {"enable_code_server", true}, {"memory_mb", 2048}};
}
json game() {
  return {
      {"vmid", 6001},        {"container_type", "game"},
      {"game", "minecraft"}, {"variant", "paper"},
      {"version", "1.21.4"}, {"world", "world"},
      {"memory_mb", 4096},   {"ports", {{"game", 25565}}},
      {"eula", true},        {"properties", {{"motd", "hi"}, {"max-players", 10}, {"pvp", false}}}};
}

// Asserts validation fails with E_INVALID naming `field`.
void expect_invalid(const json& j, const std::string& field) {
  auto r = validate_payload(j, 6001);
  ASSERT_FALSE(r) << j.dump();
  EXPECT_EQ(r.error().code, codes::kInvalid) << r.error().message;
  EXPECT_EQ(r.error().field, field) << r.error().message;
  EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
}

TEST(Payload, ValidDevAndGame) {
  auto d = validate_payload(dev(), 6001);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->runtime, "node");
  EXPECT_TRUE(d->enable_code_server);
  auto g = validate_payload(game(), 6001);
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->ports.at("game"), 25565);
  EXPECT_EQ(g->properties["max-players"], 10);
}

TEST(Payload, DefaultsAreFilledAndCanonical) {
  json j = {{"vmid", 6001}, {"container_type", "dev"}, {"runtime", "go"}, {"version", "1.22.5"}};
  auto p = validate_payload(j, 6001);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->memory_mb, 1024);
  EXPECT_FALSE(p->enable_code_server);
  // Key order in the input does not change the canonical form.
  json reordered =
      json::parse(R"({"version":"1.22.5","runtime":"go","container_type":"dev","vmid":6001})");
  EXPECT_EQ(validate_payload(reordered, 6001)->to_json().dump(), p->to_json().dump());
  // The canonical form validates to itself.
  EXPECT_EQ(validate_payload(p->to_json(), 6001)->to_json(), p->to_json());
  auto g = game();
  g.erase("ports");
  g.erase("world");
  auto gp = validate_payload(g, 6001);
  ASSERT_TRUE(gp);
  EXPECT_EQ(gp->ports.at("game"), 25565);
  EXPECT_EQ(gp->world, "world");
}

TEST(Payload, UnknownContainerType) {
  auto j = dev();
  j["container_type"] = "vm";
  expect_invalid(j, "container_type");
  j.erase("container_type");
  expect_invalid(j, "container_type");
}

TEST(Payload, MissingRuntimeOrVersionForDev) {
  auto j = dev();
  j.erase("runtime");
  expect_invalid(j, "runtime");
  j = dev();
  j.erase("version");
  expect_invalid(j, "version");
}

TEST(Payload, WrongJsonTypes) {
  auto j = dev();
  j["memory_mb"] = "2048";
  expect_invalid(j, "memory_mb");
  j = dev();
  j["enable_code_server"] = "yes";
  expect_invalid(j, "enable_code_server");
  j = dev();
  j["runtime"] = 5;
  expect_invalid(j, "runtime");
  j = dev();
  j["vmid"] = "6001";
  expect_invalid(j, "vmid");
  j = dev();
  j["memory_mb"] = 1.5;
  expect_invalid(j, "memory_mb");
  auto g = game();
  g["ports"] = {{"game", "25565"}};
  expect_invalid(g, "ports.game");
  g = game();
  g["properties"] = json::array();
  expect_invalid(g, "properties");
}

TEST(Payload, NegativeOrAbsurdMemory) {
  for (int64_t m : {int64_t(-1), int64_t(0), int64_t(255), kMaxMemoryMb + 1, int64_t(1) << 40}) {
    auto j = dev();
    j["memory_mb"] = m;
    expect_invalid(j, "memory_mb");
  }
  auto j = dev();
  j["memory_mb"] = json::parse("18446744073709551615");
  expect_invalid(j, "memory_mb");
}

TEST(Payload, UnknownFields) {
  auto j = dev();
  j["owner_id"] = 1;
  expect_invalid(j, "owner_id");
  j = dev();
  j["eula"] = true;  // a game field in a dev payload
  expect_invalid(j, "eula");
}

TEST(Payload, IdsThatCouldEscapeAreRefused) {
  auto j = dev();
  j["runtime"] = "../node";
  expect_invalid(j, "runtime");
  j = dev();
  j["runtime"] = "node;rm -rf /";
  expect_invalid(j, "runtime");
  j = dev();
  j["version"] = "../../etc";
  expect_invalid(j, "version");
  auto g = game();
  g["variant"] = "Paper";
  expect_invalid(g, "variant");
  g = game();
  g["world"] = "../world";
  expect_invalid(g, "world");
  g = game();
  g["properties"] = {{"motd\nop", "x"}};
  expect_invalid(g, "properties.motd\nop");
  g = game();
  g["properties"] = {{"motd", "a\nb=c"}};
  expect_invalid(g, "properties.motd");
  g = game();
  g["properties"] = {{"server-port", 1}};
  expect_invalid(g, "properties.server-port");
  g = game();
  g["ports"] = {{"game", 70000}};
  expect_invalid(g, "ports.game");
}

TEST(Payload, VmidMustMatchAgent) {
  auto j = dev();
  j["vmid"] = 6002;
  expect_invalid(j, "vmid");
  j["vmid"] = -1;
  EXPECT_FALSE(validate_payload(j, std::nullopt));
}

TEST(Payload, EulaRequiredForGame) {
  auto g = game();
  g["eula"] = false;
  auto r = validate_payload(g, 6001);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kEulaRequired);
  g.erase("eula");
  EXPECT_EQ(validate_payload(g, 6001).error().code, codes::kEulaRequired);
}

TEST(Payload, CatalogShaAndBody) {
  auto j = dev();
  j["catalog_sha256"] = std::string(64, 'a');
  EXPECT_TRUE(validate_payload(j, 6001));
  j["catalog_sha256"] = std::string(63, 'a');
  expect_invalid(j, "catalog_sha256");
  j["catalog_sha256"] = std::string(64, 'A');
  expect_invalid(j, "catalog_sha256");
  EXPECT_EQ(parse_payload("{not json", 6001).error().code, codes::kInvalid);
  EXPECT_EQ(parse_payload("[1]", 6001).error().code, codes::kInvalid);
}

// Found by the payload fuzzer: an unknown field with an empty name was an
// error naming no field.
TEST(Payload, AnEmptyFieldNameIsNamed) {
  auto r = parse_payload(
      R"({"container_type":"dev","vmid":6001,"runtime":"go","version":"1.22.5","":1})", 6001);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_EQ(r.error().field, "(empty name)");
}

}  // namespace
}  // namespace zlh::payload
