#include "api/tailscale/tailscale_context.hpp"

#include <gtest/gtest.h>

namespace zlh::api::tailscale {
namespace {

TEST(TailscaleContext, UnconfiguredHasNoClient) {
  TailscaleContext ts;
  EXPECT_EQ(ts.headscale(), nullptr);
  HeadscaleOptions o;  // no --headscale-url
  auto made = make_tailscale_context(o);
  ASSERT_TRUE(made);
  EXPECT_EQ((*made)->headscale(), nullptr);
}

TEST(TailscaleContext, OneChangePerServerAtATime) {
  TailscaleContext ts;
  EXPECT_TRUE(ts.try_begin(1));
  EXPECT_FALSE(ts.try_begin(1));
  EXPECT_TRUE(ts.try_begin(2));  // another server is independent
  ts.end(1);
  EXPECT_TRUE(ts.try_begin(1));
}

TEST(TailscaleContext, RemembersKeyIdsPerServer) {
  TailscaleContext ts;
  EXPECT_TRUE(ts.keys_of(1).empty());
  ts.remember_keys(1, {"4", "5"});
  ts.remember_keys(1, {"9"});
  ts.remember_keys(2, {"6"});
  EXPECT_EQ(ts.keys_of(1), (std::set<std::string>{"4", "5", "9"}));
  ts.forget_keys(1, {"4", "9", "77"});
  EXPECT_EQ(ts.keys_of(1), (std::set<std::string>{"5"}));
  ts.forget_keys(1, {"5"});
  EXPECT_TRUE(ts.keys_of(1).empty());
  EXPECT_EQ(ts.keys_of(2), (std::set<std::string>{"6"}));
}

TEST(TailscaleContext, ConfiguredFromOptions) {
  HeadscaleOptions o;
  o.url = "http://127.0.0.1:9";
  o.version = "0.25";
  o.key_ttl = "30m";
  o.acl_tags = "tag:zlh-dev";
  ::setenv(kApiKeyEnv, "hs-env-key", 1);
  auto made = make_tailscale_context(o);
  ASSERT_TRUE(made) << made.error().message;
  ASSERT_NE((*made)->headscale(), nullptr);
  EXPECT_EQ((*made)->headscale()->version().user_form(), UserForm::kName);
  EXPECT_EQ((*made)->settings().login_server, "http://127.0.0.1:9");  // defaults to the API URL
  EXPECT_EQ((*made)->settings().key_ttl, std::chrono::seconds(1800));
  EXPECT_EQ((*made)->settings().acl_tags, std::vector<std::string>{"tag:zlh-dev"});
  EXPECT_EQ(std::getenv(kApiKeyEnv), nullptr);
  o.login_url = "https://hs.example.com";
  ::setenv(kApiKeyEnv, "hs-env-key", 1);
  EXPECT_EQ((*make_tailscale_context(o))->settings().login_server, "https://hs.example.com");
  // No key anywhere: refused.
  EXPECT_FALSE(make_tailscale_context(o));
}

}  // namespace
}  // namespace zlh::api::tailscale
