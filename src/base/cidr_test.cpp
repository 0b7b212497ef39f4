#include "base/cidr.hpp"

#include <gtest/gtest.h>

namespace zlh::net {
namespace {

TEST(CidrSet, ParsesAndMatchesBothFamilies) {
  auto s = CidrSet::parse("10.0.0.0/8, 192.168.1.10 ,fd00::/8,::1");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->contains("10.1.2.3"));
  EXPECT_TRUE(s->contains("192.168.1.10"));
  EXPECT_FALSE(s->contains("192.168.1.11"));
  EXPECT_TRUE(s->contains("fd12::5"));
  EXPECT_TRUE(s->contains("::1"));
  EXPECT_TRUE(s->contains("::ffff:10.9.9.9")) << "IPv4-mapped counts as IPv4";
  EXPECT_FALSE(s->contains("11.0.0.1"));
  EXPECT_FALSE(s->contains("not-an-ip"));
  EXPECT_TRUE(CidrSet::parse("")->empty());
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "example.com", "10.0.0.0/"})
    EXPECT_FALSE(CidrSet::parse(bad)) << bad;
}

TEST(CidrSet, ClientAddressOnlyFromTrustedPeers) {
  auto t = *CidrSet::parse("10.0.0.0/8");
  // An untrusted peer's header is its own claim: ignored.
  EXPECT_EQ(client_address("203.0.113.9", "1.2.3.4", t), "203.0.113.9");
  // Through a trusted proxy: the rightmost untrusted entry.
  EXPECT_EQ(client_address("10.0.0.2", "6.6.6.6, 198.51.100.7", t), "198.51.100.7");
  EXPECT_EQ(client_address("10.0.0.2", "198.51.100.7, 10.0.0.5", t), "198.51.100.7");
  EXPECT_EQ(client_address("10.0.0.2", "10.0.0.9, 10.0.0.5", t), "10.0.0.9");
  EXPECT_EQ(client_address("10.0.0.2", std::nullopt, t), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.2", "junk, 10.0.0.5", t), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.2", "1.2.3.4", CidrSet()), "10.0.0.2");
}

}  // namespace
}  // namespace zlh::net
