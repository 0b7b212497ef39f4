#include "api/auth/password.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <thread>
#include <vector>

namespace zlh::api::auth {
namespace {

PasswordHasher& fast() {
  static PasswordHasher h(HashParams::minimal_for_tests());
  return h;
}

TEST(PasswordPolicy, LengthBoundsInBytes) {
  EXPECT_TRUE(check_password_policy("12345678"));
  EXPECT_TRUE(check_password_policy(std::string(1024, 'x')));
  for (std::string bad : {std::string(), std::string("1234567"), std::string(1025, 'x')}) {
    auto r = check_password_policy(bad);
    ASSERT_FALSE(r) << bad.size();
    EXPECT_EQ(r.error().code, codes::kInvalid);
    EXPECT_EQ(r.error().field, "password");
  }
  // Bytes, not characters: four 2-byte characters are 8 bytes.
  EXPECT_TRUE(check_password_policy("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));
  EXPECT_FALSE(check_password_policy("\xc3\xa9\xc3\xa9\xc3\xa9"));
}

TEST(PasswordHasher, ProductionDefaultIsArgon2idInteractive) {
  auto p = HashParams::interactive();
  EXPECT_EQ(p.opslimit, 2u);
  EXPECT_EQ(p.memlimit, 64u << 20);
  PasswordHasher h;
  EXPECT_EQ(h.params().memlimit, p.memlimit);
}

TEST(PasswordHasher, HashThenVerify) {
  auto h = fast().hash("correct horse battery");
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=8,t=1,p=1$")) << *h;
  EXPECT_EQ(fast().verify(*h, "correct horse battery"), true);
  EXPECT_EQ(fast().verify(*h, "correct horse batterY"), false);
  EXPECT_EQ(fast().verify(*h, ""), false);
  EXPECT_EQ(fast().verify(*h, std::string("correct horse battery\0x", 23)), false);
}

TEST(PasswordHasher, SaltIsFreshEachTime) {
  auto a = fast().hash("same password");
  auto b = fast().hash("same password");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(fast().verify(*b, "same password"), true);
}

TEST(PasswordHasher, OverlongPasswordRefused) {
  auto r = fast().hash(std::string(1025, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "password");
  auto h = *fast().hash("abcdefgh");
  EXPECT_EQ(fast().verify(h, std::string(1025, 'a')), false);
}

TEST(PasswordHasher, CorruptStoredHashIsInternalNotMismatch) {
  for (std::string bad :
       {std::string(), std::string("plaintext"), std::string("$argon2i$v=19$m=8,t=1,p=1$xx$yy"),
        std::string("$argon2id$garbage"), std::string(200, 'a')}) {
    auto r = fast().verify(bad, "whatever1");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, codes::kInternal);
  }
}

TEST(PasswordHasher, NeedsRehashWhenParamsDiffer) {
  PasswordHasher other(HashParams{2, 16 * 1024});
  auto h_fast = *fast().hash("password1");
  auto h_other = *other.hash("password1");
  EXPECT_FALSE(fast().needs_rehash(h_fast));
  EXPECT_TRUE(fast().needs_rehash(h_other));
  EXPECT_TRUE(other.needs_rehash(h_fast));
  EXPECT_FALSE(other.needs_rehash(h_other));
  EXPECT_TRUE(fast().needs_rehash("not a hash"));
  // Hashes made under other params still verify.
  EXPECT_EQ(fast().verify(h_other, "password1"), true);
}

TEST(PasswordHasher, DummyVerifyUsesSameParamsAndNeverMatches) {
  const std::string& d = fast().dummy_hash();
  ASSERT_FALSE(d.empty());
  EXPECT_FALSE(fast().needs_rehash(d));  // same cost as a real account's hash
  EXPECT_EQ(fast().dummy_hash(), d);     // fixed for the hasher's lifetime
  EXPECT_FALSE(fast().dummy_verify("password1"));
  EXPECT_FALSE(fast().dummy_verify(""));
}

TEST(PasswordHasher, ConcurrentUseFromManyThreads) {
  PasswordHasher h(HashParams::minimal_for_tests(), 1);
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      std::string pw = "password-" + std::to_string(i);
      auto hashed = h.hash(pw);
      h.dummy_verify(pw);
      ok[i] = hashed && h.verify(*hashed, pw) == true && h.verify(*hashed, pw + "x") == false;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(ok[i], 1) << i;
}

}  // namespace
}  // namespace zlh::api::auth
