#include "base/config.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "base/fs.hpp"

namespace zlh::config {
namespace {

struct Fixture {
  CLI::App app{"t"};
  std::string listen = "0.0.0.0:18888";
  std::string key;
  int64_t vmid = -1;
  Fixture() {
    app.add_option("--listen", listen);
    app.add_option("--api-key", key);
    app.add_option("--vmid", vmid);
  }
  void parse(std::vector<std::string> args) {
    std::vector<const char*> argv{"t"};
    for (auto& a : args) argv.push_back(a.c_str());
    app.parse(int(argv.size()), argv.data());
  }
};

std::string write_toml(const std::string& text) {
  char tmpl[] = "/tmp/zlh-cfg-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/agent.toml";
  EXPECT_TRUE(fs::write_file_atomic(path, text));
  return path;
}

TEST(Config, FileFillsWhatFlagsDoNotSet) {
  Fixture f;
  f.parse({"--listen", "127.0.0.1:1"});
  auto path = write_toml("listen = \"10.0.0.1:2\"\napi_key = \"/k.pub\"\nvmid = 6001\n");
  ASSERT_TRUE(apply_toml(f.app, path, true));
  EXPECT_EQ(f.listen, "127.0.0.1:1");  // flag wins
  EXPECT_EQ(f.key, "/k.pub");          // underscore spelling
  EXPECT_EQ(f.vmid, 6001);
}

TEST(Config, DashedKeysWork) {
  Fixture f;
  f.parse({});
  ASSERT_TRUE(apply_toml(f.app, write_toml("\"api-key\" = \"/x\"\n"), true));
  EXPECT_EQ(f.key, "/x");
}

TEST(Config, UnknownKeyWrongTypeAndSyntaxAreErrors) {
  {
    Fixture f;
    f.parse({});
    auto r = apply_toml(f.app, write_toml("lisen = \"x\"\n"), true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().field, "lisen");
  }
  {
    Fixture f;
    f.parse({});
    EXPECT_FALSE(apply_toml(f.app, write_toml("listen = [1, 2]\n"), true));
  }
  {
    Fixture f;
    f.parse({});
    auto r = apply_toml(f.app, write_toml("listen = \n"), true);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(":1:"), std::string::npos) << r.error().message;
  }
  {
    Fixture f;
    f.parse({});
    EXPECT_FALSE(apply_toml(f.app, write_toml("vmid = \"abc\"\n"), true));
  }
}

TEST(Config, MissingFile) {
  Fixture f;
  f.parse({});
  EXPECT_TRUE(apply_toml(f.app, "/nonexistent/agent.toml", false));
  auto r = apply_toml(f.app, "/nonexistent/agent.toml", true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
}

}  // namespace
}  // namespace zlh::config
