#include "base/crypto.hpp"

#include <gtest/gtest.h>

namespace zlh::crypto {
namespace {

TEST(Base64, RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    auto enc = base64_encode(data);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec) << i;
    EXPECT_EQ(*dec, data);
    auto uenc = base64url_encode(data);
    EXPECT_EQ(uenc.find('='), std::string::npos);
    auto udec = base64url_decode(uenc);
    ASSERT_TRUE(udec) << i;
    EXPECT_EQ(*udec, data);
    data += char(i * 37);
  }
}

TEST(Base64, KnownVectorsAndRejects) {
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64url_decode("Zm8="));  // padding is not base64url
  EXPECT_FALSE(base64url_decode("a"));     // impossible length
  EXPECT_FALSE(base64url_decode("Zm9"));   // ok length...
  EXPECT_TRUE(base64url_decode("Zm8"));
  EXPECT_FALSE(base64url_decode("Zm9"));  // ...but non-canonical trailing bits
  EXPECT_EQ(*base64_decode("  Zm9vYmFy\n"), "foobar");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Ed25519, SignVerifyAndKeyText) {
  auto kp = ed25519_generate();
  auto sig = ed25519_sign(kp.sec, "hello");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(ed25519_verify(kp.pub, "hello", sig));
  EXPECT_FALSE(ed25519_verify(kp.pub, "hellO", sig));
  auto other = ed25519_generate();
  EXPECT_FALSE(ed25519_verify(other.pub, "hello", sig));

  auto pub = parse_public_key(format_public_key(kp.pub));
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->bytes, kp.pub.bytes);
  auto sec = parse_secret_key(format_secret_key(kp.sec));
  ASSERT_TRUE(sec);
  EXPECT_EQ(sec->bytes, kp.sec.bytes);
  EXPECT_EQ(sec->public_key().bytes, kp.pub.bytes);
  // A public key is not mistaken for a secret (seed) key.
  EXPECT_FALSE(parse_secret_key(format_public_key(kp.pub)));
  // Wrong sizes and a mismatched public half are refused.
  EXPECT_FALSE(parse_public_key(base64_encode("short")));
  auto bad = kp.sec;
  bad.bytes[40] ^= 1;
  EXPECT_FALSE(parse_secret_key(format_secret_key(bad)));
}

TEST(ConstantTimeEqual, Basics) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace zlh::crypto
