#include "agent/options.hpp"

#include <gtest/gtest.h>

#include "base/fs.hpp"

namespace zlh::agent {
namespace {

Result<ParseOutcome> parse(std::vector<std::string> args, std::string host = "dev-6001") {
  std::vector<const char*> argv{"zlh-agent"};
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_options(int(argv.size()), argv.data(), host);
}

std::string temp_root() {
  char tmpl[] = "/tmp/zlh-opt-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(Options, Defaults) {
  auto r = parse({"--root", temp_root()});
  ASSERT_TRUE(r);
  const auto& o = *r->options;
  EXPECT_EQ(o.listen, "0.0.0.0:18888");
  EXPECT_EQ(o.dev_user, "dev");
  EXPECT_EQ(o.log_format, "json");
  EXPECT_EQ(*o.vmid, 6001);  // from the hostname
}

TEST(Options, VmidFromHostname) {
  EXPECT_EQ(*vmid_from_hostname("dev-6001"), 6001);
  EXPECT_EQ(*vmid_from_hostname("mc-paper-5003"), 5003);
  EXPECT_FALSE(vmid_from_hostname("laptop"));
  EXPECT_FALSE(vmid_from_hostname(""));
  auto r = parse({"--root", temp_root()}, "laptop");
  EXPECT_FALSE(r->options->vmid);
  r = parse({"--root", temp_root(), "--vmid", "42"}, "laptop");
  EXPECT_EQ(*r->options->vmid, 42);
}

TEST(Options, AllFlagsParsed) {
  auto root = temp_root();
  auto r = parse({"--root", root, "--listen", "127.0.0.1:1", "--vmid", "7", "--artifacts",
                  "file:///srv/a", "--catalog-key", "/k/catalog.pub", "--api-key", "/k/api.pub",
                  "--dev-user", "-", "--log-format", "text"});
  ASSERT_TRUE(r) << r.error().message;
  const auto& o = *r->options;
  EXPECT_EQ(o.root, root);
  EXPECT_EQ(o.listen, "127.0.0.1:1");
  EXPECT_EQ(o.artifacts, "file:///srv/a");
  EXPECT_EQ(o.catalog_key, "/k/catalog.pub");
  EXPECT_EQ(o.api_key, "/k/api.pub");
  EXPECT_EQ(o.dev_user, "-");
  EXPECT_EQ(o.log_format, "text");
}

TEST(Options, DefaultConfigFileUnderRootAndFlagPrecedence) {
  auto root = temp_root();
  ASSERT_TRUE(fs::make_dirs(root + "/etc/zlh"));
  ASSERT_TRUE(
      fs::write_file_atomic(root + "/etc/zlh/agent.toml",
                            "listen = \"127.0.0.1:2\"\napi-key = \"/from/file\"\nvmid = 9\n"));
  auto r = parse({"--root", root, "--vmid", "8"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->options->listen, "127.0.0.1:2");
  EXPECT_EQ(r->options->api_key, "/from/file");
  EXPECT_EQ(*r->options->vmid, 8);  // the flag wins
  EXPECT_EQ(r->options->config, root + "/etc/zlh/agent.toml");
}

TEST(Options, BadValuesAreRefused) {
  auto root = temp_root();
  EXPECT_FALSE(parse({"--root", "relative"}));
  EXPECT_FALSE(parse({"--root", root, "--listen", "nope"}));
  EXPECT_FALSE(parse({"--root", root, "--log-format", "xml"}));
  EXPECT_FALSE(parse({"--root", root, "--artifacts", "ftp://x"}));
  EXPECT_FALSE(parse({"--root", root, "--vmid", "-5"}));
  EXPECT_FALSE(parse({"--root", root, "--no-such-flag"}));
  // An inherited listening socket is fd 3 or above (zlh-init passes 3).
  EXPECT_EQ(parse({"--root", root, "--listen-fd", "1"}).error().field, "listen-fd");
  auto fd = parse({"--root", root, "--listen-fd", "3"});
  ASSERT_TRUE(fd && fd->options);
  EXPECT_EQ(fd->options->listen_fd, 3);
  EXPECT_FALSE(parse({"--root", root, "--config", root + "/missing.toml"}));
  ASSERT_TRUE(fs::write_file_atomic(root + "/bad.toml", "listne = \"x\"\n"));
  auto r = parse({"--root", root, "--config", root + "/bad.toml"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("listne"), std::string::npos);
}

}  // namespace
}  // namespace zlh::agent
