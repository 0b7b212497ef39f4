#include "api/tailscale/headscale_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"

namespace zlh::api::tailscale {
namespace {

TEST(HeadscaleVersion, DecidesTheUserAndExpireForms) {
  auto v25 = HeadscaleVersion::parse("0.25");
  ASSERT_TRUE(v25);
  EXPECT_EQ(v25->user_form(), UserForm::kName);
  EXPECT_FALSE(v25->expire_by_key_id());
  auto v251 = HeadscaleVersion::parse("v0.25.1");
  ASSERT_TRUE(v251);
  EXPECT_EQ(v251->user_form(), UserForm::kName);
  auto v26 = HeadscaleVersion::parse("0.26.0");
  ASSERT_TRUE(v26);
  EXPECT_EQ(v26->user_form(), UserForm::kId);
  EXPECT_FALSE(v26->expire_by_key_id());
  auto v27 = HeadscaleVersion::parse(" 0.27 ");
  ASSERT_TRUE(v27);
  EXPECT_FALSE(v27->expire_by_key_id());
  auto v28 = HeadscaleVersion::parse("0.28.0-beta.1");
  ASSERT_TRUE(v28);
  EXPECT_EQ(v28->user_form(), UserForm::kId);
  EXPECT_TRUE(v28->expire_by_key_id());
  EXPECT_EQ(v28->to_string(), "0.28");
  EXPECT_TRUE(HeadscaleVersion::parse("1.0")->expire_by_key_id());
}

TEST(HeadscaleVersion, RefusesWhatIsNoRelease) {
  for (const char* bad : {"", "0", "latest", "0.x", "0.26.x", "0.18", "-0.26", "0..26"}) {
    auto v = HeadscaleVersion::parse(bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_EQ(v.error().code, codes::kInvalid);
    EXPECT_EQ(v.error().field, "headscale-version");
  }
  // An unquoted TOML float reaches the flag as "0.260000": say so.
  auto toml = HeadscaleVersion::parse("0.260000");
  ASSERT_FALSE(toml);
  EXPECT_NE(toml.error().message.find("as a string"), std::string::npos) << toml.error().message;
}

TEST(HeadscaleConfig, KeyTtl) {
  EXPECT_EQ(*parse_key_ttl("3600"), std::chrono::seconds(3600));
  EXPECT_EQ(*parse_key_ttl("90s"), std::chrono::seconds(90));
  EXPECT_EQ(*parse_key_ttl("30m"), std::chrono::seconds(1800));
  EXPECT_EQ(*parse_key_ttl("1h"), std::chrono::seconds(3600));
  EXPECT_EQ(*parse_key_ttl("90d"), std::chrono::seconds(90 * 86400));
  for (const char* bad : {"", "59", "59s", "91d", "1w", "h", "-5m", "1.5h", "10000000000"}) {
    auto t = parse_key_ttl(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().field, "headscale-key-ttl");
  }
}

TEST(HeadscaleConfig, AclTags) {
  EXPECT_TRUE(parse_acl_tags("")->empty());
  EXPECT_TRUE(parse_acl_tags("  ")->empty());
  EXPECT_EQ(*parse_acl_tags("tag:zlh-dev"), std::vector<std::string>{"tag:zlh-dev"});
  EXPECT_EQ(*parse_acl_tags("tag:a, tag:b,tag:a"), (std::vector<std::string>{"tag:a", "tag:b"}));
  for (const char* bad :
       {"zlh-dev", "tag:", "tag:Dev", "tag:a b", "tag:a,,tag:b", "tag:-a", "tag:a_b"}) {
    auto t = parse_acl_tags(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().field, "headscale-acl-tags");
  }
}

TEST(HeadscaleConfig, BaseUrl) {
  EXPECT_EQ(*normalize_base_url("https://hs.example.com/", "headscale-url"),
            "https://hs.example.com");
  EXPECT_EQ(*normalize_base_url("http://127.0.0.1:8080", "headscale-url"), "http://127.0.0.1:8080");
  EXPECT_EQ(*normalize_base_url("https://example.com/headscale//", "headscale-url"),
            "https://example.com/headscale");
  EXPECT_EQ(*normalize_base_url("http://[::1]:8080", "headscale-url"), "http://[::1]:8080");
  for (const char* bad : {"", "hs.example.com", "ftp://hs", "https://", "https://user:pw@hs",
                          "https://hs?x=1", "https://hs#f", "https://hs:0", "https://hs:99999",
                          "https://hs:", "https://h s", "https://hs:80x", "https://[::1"}) {
    auto u = normalize_base_url(bad, "headscale-url");
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().field, "headscale-url");
    EXPECT_NE(u.error().message.find("--headscale-url"), std::string::npos);
  }
}

TEST(HeadscaleConfig, UserPrefix) {
  EXPECT_TRUE(check_user_prefix("zlh-u"));
  EXPECT_TRUE(check_user_prefix("a"));
  EXPECT_TRUE(check_user_prefix("tenant.a_"));
  for (const std::string& bad :
       std::vector<std::string>{"", "1zlh", "Zlh", "zlh u", "zlh@", std::string(33, 'a')})
    EXPECT_FALSE(check_user_prefix(bad)) << bad;
}

class ApiKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-hskey-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::unsetenv(kApiKeyEnv);
  }
  void TearDown() override {
    ::unsetenv(kApiKeyEnv);
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(ApiKeyTest, FromFileTrimmed) {
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/key", "  hs-secret-key-1\n", 0600));
  ::setenv(kApiKeyEnv, "from-env", 1);
  auto k = load_api_key(dir_ + "/key");
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(*k, "hs-secret-key-1");  // the file wins over the environment
}

TEST_F(ApiKeyTest, FromEnvironmentWhichIsThenRemoved) {
  ::setenv(kApiKeyEnv, "hs-env-key-2", 1);
  auto k = load_api_key("");
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, "hs-env-key-2");
  EXPECT_EQ(std::getenv(kApiKeyEnv), nullptr);  // no child inherits it
}

TEST_F(ApiKeyTest, MissingEmptyOrMultiLineIsAnErrorWithoutTheKey) {
  EXPECT_FALSE(load_api_key(""));
  EXPECT_FALSE(load_api_key(dir_ + "/absent"));
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/empty", "\n", 0600));
  EXPECT_FALSE(load_api_key(dir_ + "/empty"));
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/two", "secret-one\nsecret-two\n", 0600));
  auto two = load_api_key(dir_ + "/two");
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().message.find("secret-one"), std::string::npos) << two.error().message;
}

}  // namespace
}  // namespace zlh::api::tailscale
