#include "api/servers/create_request.hpp"

#include <gtest/gtest.h>

#include "proto/payload.hpp"

namespace zlh::api::servers {
namespace {

using nlohmann::json;

catalog::Entry entry(std::string v) {
  catalog::Entry e;
  e.version = std::move(v);
  e.channel = "stable";
  return e;
}

catalog::Catalog cat(bool code_server = true) {
  catalog::Catalog c;
  catalog::Item node;
  node.id = "node";
  node.versions = {entry("20.18.0")};
  c.runtimes = {node};
  if (code_server) {
    catalog::Item cs;
    cs.id = "code-server";
    cs.versions = {entry("4.139.1")};
    c.addons = {cs};
  }
  catalog::Game mc;
  mc.id = "minecraft";
  catalog::Variant paper;
  paper.id = "paper";
  paper.versions = {entry("1.21.4")};
  mc.variants = {paper};
  c.games = {mc};
  return c;
}

const std::string kSha(64, 'a');

Result<store::NewServer> parse(const json& body, drivers::Limits lim = {},
                               bool code_server = true) {
  return parse_create_request(body.dump(), lim, cat(code_server), kSha);
}

json game(json extra = json::object()) {
  json b = {{"type", "game"},
            {"game", "minecraft"},
            {"variant", "paper"},
            {"version", "1.21.4"},
            {"eula", true}};
  b.update(extra);
  return b;
}

void expect_invalid(const Result<store::NewServer>& r, const std::string& field) {
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kInvalid)) << r.error().to_string();
  EXPECT_EQ(r.error().field, field) << r.error().to_string();
}

TEST(CreateRequest, DevBodyBecomesAPinnedPayload) {
  auto r = parse({{"type", "dev"}, {"name", "api"}, {"runtime", "node"}, {"version", "20.18.0"}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->type, store::ServerType::kDev);
  EXPECT_EQ(r->hostname_prefix, "dev-");
  EXPECT_EQ(r->port_count, 0);
  EXPECT_EQ(r->owner_id, 0);  // the handler's, from the session
  auto p = json::parse(r->payload);
  EXPECT_EQ(p["runtime"], "node");
  EXPECT_EQ(p["memory_mb"], 1024);
  EXPECT_EQ(p["catalog_sha256"], kSha);
  EXPECT_EQ(r->memory_mb, 1024);
  EXPECT_EQ(r->disk_gb, 8);
}

TEST(CreateRequest, GameBodyTakesOnePort) {
  auto r = parse(game({{"world", "survival"}, {"properties", {{"motd", "hi"}}}}));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->hostname_prefix, "mc-paper-");
  EXPECT_EQ(r->port_count, 1);
  EXPECT_EQ(json::parse(r->payload)["world"], "survival");
}

// Found by fuzz/create_fuzz.cpp: these bodies were accepted, the server
// created, and the agent refused the payload at the provision step.
TEST(CreateRequest, WhatTheAgentWouldRefuseIsRefusedBeforeAnythingIsCreated) {
  expect_invalid(parse(game({{"world", "../../etc"}})), "world");
  expect_invalid(parse(game({{"properties", {{"A B", "x"}}}})), "properties.A B");
  expect_invalid(parse(game({{"properties", {{"server-port", 1}}}})), "properties.server-port");
  drivers::Limits big;
  big.memory_mb_max = 1 << 30;  // an operator's limit above the agent's ceiling
  expect_invalid(parse(game({{"memory_mb", payload::kMaxMemoryMb + 1}}), big), "memory_mb");
}

TEST(CreateRequest, FieldsAreCheckedAndNamed) {
  expect_invalid(parse_create_request("[]", {}, cat(), kSha), "body");
  expect_invalid(parse({{"type", "vm"}}), "type");
  expect_invalid(
      parse({{"type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}, {"world", "w"}}),
      "world");
  expect_invalid(parse(game({{"runtime", "node"}})), "runtime");
  expect_invalid(parse({{"type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}, {"", 1}}),
                 "(empty name)");
  expect_invalid(parse({{"type", "dev"}, {"runtime", "node"}, {"version", "9"}}), "version");
  expect_invalid(parse({{"type", "dev"}, {"runtime", "zig"}, {"version", "1"}}), "runtime");
  expect_invalid(
      parse({{"type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}, {"memory_mb", "1G"}}),
      "memory_mb");
  expect_invalid(
      parse({{"type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}, {"cpu_cores", 64}}),
      "cpu_cores");
  expect_invalid(parse({{"type", "dev"},
                        {"name", std::string(65, 'n')},
                        {"runtime", "node"},
                        {"version", "20.18.0"}}),
                 "name");
  auto eula = parse(game({{"eula", false}}));
  ASSERT_FALSE(eula);
  EXPECT_TRUE(eula.error().is(codes::kEulaRequired));
}

TEST(CreateRequest, CodeServerNeedsTheCatalogAndItsDisk) {
  json b = {
      {"type", "dev"}, {"runtime", "node"}, {"version", "20.18.0"}, {"enable_code_server", true}};
  expect_invalid(parse(b, {}, false), "enable_code_server");
  drivers::Limits lxc;
  lxc.disk_gb_default = 2;
  lxc.disk_gb_min_code_server = 3;
  auto grown = parse(b, lxc);
  ASSERT_TRUE(grown) << grown.error().to_string();
  EXPECT_EQ(grown->disk_gb, 3);  // a default grows to the minimum
  b["disk_gb"] = 2;
  expect_invalid(parse(b, lxc), "disk_gb");  // an explicit smaller size is refused
}

TEST(CreateRequest, AgentPayloadDropsDriverFieldsAndAddsThePort) {
  json stored = {{"memory_mb", 2048}, {"cpu_cores", 2}, {"disk_gb", 8}, {"game", "minecraft"}};
  auto a = agent_payload(stored, 5001, store::ServerType::kGame, 25565);
  EXPECT_EQ(a["vmid"], 5001);
  EXPECT_EQ(a["container_type"], "game");
  EXPECT_FALSE(a.contains("cpu_cores"));
  EXPECT_FALSE(a.contains("disk_gb"));
  EXPECT_EQ(a["ports"]["game"], 25565);
  EXPECT_FALSE(
      agent_payload(stored, 5001, store::ServerType::kDev, std::nullopt).contains("ports"));
}

}  // namespace
}  // namespace zlh::api::servers
