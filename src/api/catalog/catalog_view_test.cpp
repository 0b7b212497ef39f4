#include "api/catalog/catalog_view.hpp"

#include <gtest/gtest.h>

namespace zlh::api {
namespace {

catalog::Entry entry(std::string v, std::string channel, bool def = false) {
  catalog::Entry e;
  e.version = std::move(v);
  e.channel = std::move(channel);
  e.is_default = def;
  return e;
}

TEST(CatalogView, DevVersionsSortedAsVersionsAndFilteredByChannel) {
  catalog::Catalog c;
  catalog::Item node;
  node.id = "node";
  node.display = "Node.js";
  node.versions = {entry("1.9.0", "stable"), entry("1.21.0", "stable"),
                   entry("1.100.0-rc1", "beta"), entry("1.10.0", "dev")};
  c.runtimes.push_back(node);
  catalog::Item hidden;
  hidden.id = "zig";
  hidden.versions = {entry("0.1", "dev")};
  c.runtimes.push_back(hidden);

  auto v = dev_catalog_view(c, "stable", "abc");
  EXPECT_EQ(v["catalog_sha256"], "abc");
  ASSERT_EQ(v["runtimes"].size(), 1u);  // zig has no stable version
  auto versions = v["runtimes"][0]["versions"];
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0]["version"], "1.21.0");  // not "1.9.0" (string order)
  EXPECT_EQ(versions[1]["version"], "1.9.0");
  EXPECT_EQ(versions[0]["default"], true);  // highest stable when none is marked

  auto beta = dev_catalog_view(c, "beta", "abc");
  auto bv = beta["runtimes"][0]["versions"];
  ASSERT_EQ(bv.size(), 3u);
  EXPECT_EQ(bv[0]["version"], "1.100.0-rc1");
  EXPECT_EQ(dev_catalog_view(c, "dev", "abc")["runtimes"].size(), 2u);
}

TEST(CatalogView, GameVariantsCarryJavaAndMods) {
  catalog::Catalog c;
  catalog::Game g;
  g.id = "minecraft";
  catalog::Variant paper;
  paper.id = "paper";
  paper.mods_dir = "plugins";
  auto e1 = entry("1.20.6", "stable");
  e1.java = "21";
  auto e2 = entry("1.9.4", "stable");
  e2.java = "8";
  paper.versions = {e2, e1};
  catalog::Variant vanilla;
  vanilla.id = "vanilla";
  vanilla.versions = {entry("1.21.4", "stable", true)};
  g.variants = {paper, vanilla};
  c.games.push_back(g);
  auto v = game_catalog_view(c, "stable", "x");
  auto vars = v["games"][0]["variants"];
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_EQ(vars[0]["mods"], true);
  EXPECT_EQ(vars[1]["mods"], false);
  EXPECT_EQ(vars[0]["versions"][0]["version"], "1.20.6");
  EXPECT_EQ(vars[0]["versions"][0]["java"], "21");
  EXPECT_EQ(vars[1]["versions"][0]["default"], true);
}

}  // namespace
}  // namespace zlh::api
