#include "http/origin.hpp"

#include <gtest/gtest.h>

namespace zlh::http {
namespace {

TEST(Origin, Normalizes) {
  EXPECT_EQ(normalized_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(normalized_origin("HTTPS://Zlh.Example.COM:443/portal/?x=1"),
            "https://zlh.example.com");
  EXPECT_EQ(normalized_origin("http://example.com:80"), "http://example.com");
  EXPECT_EQ(normalized_origin("http://example.com:0080"), "http://example.com");
  EXPECT_EQ(normalized_origin("http://[::1]:8080/"), "http://[::1]:8080");
  EXPECT_EQ(normalized_origin("https://example.com:8443"), "https://example.com:8443");
  EXPECT_EQ(normalized_origin("ftp://example.com"), std::nullopt);
  EXPECT_EQ(normalized_origin("null"), std::nullopt);
  EXPECT_EQ(normalized_origin("http://"), std::nullopt);
  EXPECT_EQ(normalized_origin("http://user@example.com"), std::nullopt);
  EXPECT_EQ(normalized_origin("http://example.com:80x"), std::nullopt);
  EXPECT_EQ(normalized_origin("http://[::1"), std::nullopt);
}

TEST(Origin, OnlyThePublicOriginOrNone) {
  const std::string pub = "https://zlh.example.com";
  EXPECT_TRUE(origin_allowed(std::nullopt, pub));  // not a browser
  EXPECT_TRUE(origin_allowed("https://zlh.example.com", pub));
  EXPECT_TRUE(origin_allowed("https://ZLH.example.com:443", pub));
  EXPECT_FALSE(origin_allowed("http://zlh.example.com", pub));  // scheme differs
  EXPECT_FALSE(origin_allowed("https://zlh.example.com:8443", pub));
  EXPECT_FALSE(origin_allowed("https://evil.example.com", pub));
  EXPECT_FALSE(origin_allowed("https://zlh.example.com.evil.com", pub));
  EXPECT_FALSE(origin_allowed("null", pub));
  EXPECT_FALSE(origin_allowed("", pub));
  EXPECT_TRUE(origin_allowed("http://127.0.0.1:8080", "http://127.0.0.1:8080"));
  EXPECT_FALSE(origin_allowed("http://localhost:8080", "http://127.0.0.1:8080"));
  EXPECT_FALSE(origin_allowed("https://zlh.example.com", "not a url"));
}

}  // namespace
}  // namespace zlh::http
