#include "proto/catalog.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace zlh::catalog {
namespace {

using nlohmann::json;

const std::string kSha(64, 'a');

json node_version(const std::string& v, const std::string& channel) {
  return {{"version", v},
          {"channel", channel},
          {"artifact", "runtimes/node/" + v + "/node.tar.xz"},
          {"sha256", kSha},
          {"size", 123},
          {"strip_components", 1},
          {"bin", {"bin"}},
          {"env", {{"NODE_HOME", "{prefix}"}}},
          {"verify", {{"cmd", {"bin/node", "--version"}}, {"expect", "v" + v}}}};
}

// A valid catalog in the shape of docs/design.md §4.1, with two node versions so
// that places like runtimes[0].versions[1] exist.
json valid() {
  json c = {{"schema", 1}, {"created_at", "2026-11-24T00:00:00Z"}};
  c["runtimes"] = {
      {{"id", "node"},
       {"display", "Node.js"},
       {"versions", {node_version("20.18.0", "stable"), node_version("22.11.0", "beta")}}}};
  c["addons"] = {{{"id", "code-server"},
                  {"versions",
                   {{{"version", "4.96.4"},
                     {"channel", "stable"},
                     {"artifact", "addons/code-server/4.96.4/cs.tar.gz"},
                     {"sha256", kSha},
                     {"size", 1},
                     {"launch", {"bin/code-server", "--bind-addr", "{bind}"}},
                     {"port", 6000},
                     {"health", "/healthz"}}}}}};
  json paper_version = {{"version", "1.21.4"},
                        {"channel", "stable"},
                        {"artifact", "minecraft/paper/1.21.4/server.jar"},
                        {"sha256", kSha},
                        {"size", 1},
                        {"java", "21"},
                        {"kind", "jar"},
                        {"ready", "Done \\("},
                        {"stop", {{"type", "command"}, {"value", "stop"}}}};
  json paper = {
      {"id", "paper"}, {"mods_dir", "plugins"}, {"versions", json::array({paper_version})}};
  c["games"] = json::array({{{"id", "minecraft"}, {"variants", json::array({paper})}}});
  return c;
}

// Applies `edit` to a valid catalog and expects E_INVALID at `place`, named in
// both Error::field and the message.
void expect_rejected(const std::function<void(json&)>& edit, const std::string& place) {
  json c = valid();
  edit(c);
  auto r = validate_catalog(c);
  ASSERT_FALSE(r) << "accepted, expected a complaint about " << place;
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_EQ(r.error().field, place);
  EXPECT_TRUE(r.error().message.starts_with(place + ": ")) << r.error().message;
}

TEST(CatalogValidate, AcceptsTheDesignShape) {
  auto r = validate_catalog(valid());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_NE(r->runtime("node"), nullptr);
  EXPECT_EQ(r->runtime("node")->versions.size(), 2u);
  EXPECT_EQ(r->addon("code-server")->versions[0].port, 6000);
  EXPECT_EQ(r->game("minecraft")->find("paper")->find("1.21.4")->java, "21");
  EXPECT_EQ(r->raw, valid());
  auto parsed = parse_catalog(valid().dump());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->created_at, "2026-11-24T00:00:00Z");
}

json& paper_entry(json& c) { return c["games"][0]["variants"][0]["versions"][0]; }

const json kBackup = {{"pause", {"save-off", "save-all flush"}},
                      {"saved", "Saved the game"},
                      {"resume", {"save-on"}},
                      {"timeout_s", 120}};

TEST(CatalogBackup, ParsesTheBlockAndItIsOptional) {
  auto none = validate_catalog(valid());
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->game("minecraft")->find("paper")->find("1.21.4")->backup);

  json c = valid();
  paper_entry(c)["backup"] = kBackup;
  auto r = validate_catalog(c);
  ASSERT_TRUE(r) << r.error().message;
  const auto& b = r->game("minecraft")->find("paper")->find("1.21.4")->backup;
  ASSERT_TRUE(b);
  EXPECT_EQ(b->pause, (std::vector<std::string>{"save-off", "save-all flush"}));
  EXPECT_EQ(b->saved, "Saved the game");
  EXPECT_EQ(b->resume, std::vector<std::string>{"save-on"});
  EXPECT_EQ(b->timeout_s, 120);
  EXPECT_EQ(to_json(*b), kBackup);

  json d = kBackup;
  d.erase("timeout_s");
  d.erase("resume");
  auto p = parse_backup_spec(d, "backup");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->timeout_s, 120);
  EXPECT_TRUE(p->resume.empty());
}

TEST(CatalogBackup, RejectsBadBlocksNamingThePlace) {
  const std::string at = "games[0].variants[0].versions[0].backup";
  auto edit = [](std::function<void(json&)> f) {
    return [f](json& c) {
      json b = kBackup;
      f(b);
      paper_entry(c)["backup"] = b;
    };
  };
  expect_rejected([](json& c) { paper_entry(c)["backup"] = "save-off"; }, at);
  expect_rejected(edit([](json& b) { b.erase("pause"); }), at + ".pause");
  expect_rejected(edit([](json& b) { b["pause"] = json::array(); }), at + ".pause");
  expect_rejected(edit([](json& b) { b["pause"] = "save-off"; }), at + ".pause");
  expect_rejected(edit([](json& b) { b["pause"][1] = 3; }), at + ".pause[1]");
  expect_rejected(edit([](json& b) { b["pause"][1] = ""; }), at + ".pause[1]");
  expect_rejected(edit([](json& b) { b["pause"][0] = "save-off\nstop"; }), at + ".pause[0]");
  expect_rejected(edit([](json& b) { b["resume"][0] = std::string(257, 'a'); }), at + ".resume[0]");
  expect_rejected(edit([](json& b) {
                    b["resume"] = json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i"});
                  }),
                  at + ".resume");
  expect_rejected(edit([](json& b) { b.erase("saved"); }), at + ".saved");
  expect_rejected(edit([](json& b) { b["saved"] = ""; }), at + ".saved");
  expect_rejected(edit([](json& b) { b["saved"] = "Saved (the"; }), at + ".saved");
  expect_rejected(edit([](json& b) { b["timeout_s"] = 0; }), at + ".timeout_s");
  expect_rejected(edit([](json& b) { b["timeout_s"] = 601; }), at + ".timeout_s");
  expect_rejected(edit([](json& b) { b["timeout_s"] = "60"; }), at + ".timeout_s");
  expect_rejected(edit([](json& b) { b["pasue"] = json::array(); }), at + ".pasue");
}

TEST(CatalogValidate, RejectsBadSchema) {
  expect_rejected([](json& c) { c["schema"] = 2; }, "schema");
  expect_rejected([](json& c) { c.erase("schema"); }, "schema");
  expect_rejected([](json& c) { c["schema"] = "1"; }, "schema");
  auto r = parse_catalog("{\"schema\": 1,");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  ASSERT_FALSE(validate_catalog(json::array()));
}

TEST(CatalogValidate, RejectsDuplicateIds) {
  expect_rejected([](json& c) { c["runtimes"].push_back(c["runtimes"][0]); }, "runtimes[1].id");
  expect_rejected([](json& c) { c["addons"].push_back(c["addons"][0]); }, "addons[1].id");
  expect_rejected(
      [](json& c) {
        auto& vars = c["games"][0]["variants"];
        vars.push_back(vars[0]);
      },
      "games[0].variants[1].id");
}

TEST(CatalogValidate, RejectsDuplicateVersions) {
  expect_rejected([](json& c) { c["runtimes"][0]["versions"][1]["version"] = "20.18.0"; },
                  "runtimes[0].versions[1].version");
}

TEST(CatalogValidate, RejectsNonHexOrShortSha256) {
  expect_rejected([](json& c) { c["runtimes"][0]["versions"][1]["sha256"] = std::string(63, 'a'); },
                  "runtimes[0].versions[1].sha256");
  expect_rejected(
      [](json& c) { c["runtimes"][0]["versions"][1]["sha256"] = std::string(63, 'a') + "g"; },
      "runtimes[0].versions[1].sha256");
  expect_rejected([](json& c) { c["runtimes"][0]["versions"][0]["sha256"] = std::string(64, 'A'); },
                  "runtimes[0].versions[0].sha256");
  expect_rejected([](json& c) { c["games"][0]["variants"][0]["versions"][0]["sha256"] = "abc"; },
                  "games[0].variants[0].versions[0].sha256");
}

TEST(CatalogValidate, RejectsAbsoluteOrDotDotArtifactPaths) {
  expect_rejected([](json& c) { c["runtimes"][0]["versions"][1]["artifact"] = "/etc/passwd"; },
                  "runtimes[0].versions[1].artifact");
  expect_rejected(
      [](json& c) { c["runtimes"][0]["versions"][0]["artifact"] = "runtimes/../../secret"; },
      "runtimes[0].versions[0].artifact");
  expect_rejected([](json& c) { c["addons"][0]["versions"][0]["artifact"] = "../x.tar.gz"; },
                  "addons[0].versions[0].artifact");
}

TEST(CatalogValidate, RejectsUnknownChannel) {
  expect_rejected([](json& c) { c["runtimes"][0]["versions"][1]["channel"] = "nightly"; },
                  "runtimes[0].versions[1].channel");
}

TEST(CatalogValidate, RejectsRuntimeWithoutVerify) {
  expect_rejected([](json& c) { c["runtimes"][0]["versions"][1].erase("verify"); },
                  "runtimes[0].versions[1].verify");
  // Optional for addons and games.
  json c = valid();
  c["games"][0]["variants"][0]["versions"][0].erase("verify");
  EXPECT_TRUE(validate_catalog(c));
}

TEST(CatalogValidate, RejectsAddonWithoutLaunch) {
  expect_rejected([](json& c) { c["addons"][0]["versions"][0].erase("launch"); },
                  "addons[0].versions[0].launch");
}

TEST(CatalogSignature, VerifiesTheExactBytes) {
  auto kp = crypto::ed25519_generate();
  std::string bytes = valid().dump(2);
  std::string sig = sign_catalog(bytes, kp.sec);
  EXPECT_EQ(sig.back(), '\n');
  EXPECT_TRUE(verify_catalog_signature(bytes, sig, kp.pub));

  std::string changed = bytes;
  changed[changed.size() / 2] ^= 1;
  auto bad = verify_catalog_signature(changed, sig, kp.pub);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, codes::kBadSignature);

  for (std::string garbage :
       {std::string(), std::string("not base64 at all!"), crypto::base64_encode("too short")}) {
    auto g = verify_catalog_signature(bytes, garbage, kp.pub);
    ASSERT_FALSE(g) << garbage;
    EXPECT_EQ(g.error().code, codes::kBadSignature);
  }
  auto other = crypto::ed25519_generate();
  auto wrong_key = verify_catalog_signature(bytes, sig, other.pub);
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error().code, codes::kBadSignature);
}

TEST(CatalogVersions, CompareAsVersionsNotStrings) {
  EXPECT_LT(compare_versions("1.9", "1.21"), 0);
  EXPECT_GT(compare_versions("1.21", "1.9"), 0);
  EXPECT_LT(compare_versions("1.20.5", "1.20.6"), 0);
  EXPECT_GT(compare_versions("21", "17"), 0);
  EXPECT_LT(compare_versions("1.0.0-rc1", "1.0.0"), 0);
  EXPECT_GT(compare_versions("1.0.0", "1.0.0-rc1"), 0);
  EXPECT_LT(compare_versions("1.0.0-rc1", "1.0.0-rc2"), 0);
  EXPECT_EQ(compare_versions("20.18.0", "20.18.0"), 0);
  EXPECT_EQ(compare_versions("1.010", "1.10"), 0);
  EXPECT_LT(compare_versions("9.0.0", "10.0.0"), 0);
}

TEST(CatalogItem, DefaultEntryPrefersTheMarkedDefaultThenTheHighest) {
  json c = valid();
  c["runtimes"][0]["versions"] = {node_version("20.18.0", "stable"),
                                  node_version("22.11.0", "stable"), node_version("23.1.0", "beta"),
                                  node_version("9.0.0", "stable")};
  auto cat = validate_catalog(c);
  ASSERT_TRUE(cat) << cat.error().message;
  const Item* node = cat->runtime("node");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->default_entry()->version, "22.11.0");  // highest stable, not "9.0.0"
  EXPECT_EQ(node->default_entry("beta")->version, "23.1.0");

  c["runtimes"][0]["versions"][0]["default"] = true;
  cat = validate_catalog(c);
  ASSERT_TRUE(cat);
  EXPECT_EQ(cat->runtime("node")->default_entry()->version, "20.18.0");
  EXPECT_EQ(cat->runtime("node")->default_entry("beta")->version, "20.18.0");

  c["runtimes"][0]["versions"] = {node_version("23.1.0", "dev")};
  cat = validate_catalog(c);
  ASSERT_TRUE(cat);
  EXPECT_EQ(cat->runtime("node")->default_entry(), nullptr);  // nothing stable
  EXPECT_EQ(cat->runtime("node")->default_entry("dev")->version, "23.1.0");
}

TEST(CatalogPaths, SafeRelativePath) {
  EXPECT_TRUE(safe_relative_path("runtimes/node/20.18.0/node.tar.xz"));
  for (const char* bad : {"", "/abs", "a/../b", "..", "./a", "a//b", "a/", "a\\b"})
    EXPECT_FALSE(safe_relative_path(bad)) << bad;
}

}  // namespace
}  // namespace zlh::catalog
