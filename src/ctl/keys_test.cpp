#include "ctl/keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "proto/jws.hpp"

namespace zlh::ctl {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/zlh-keys-XXXXXX";
  return mkdtemp(tmpl);
}

mode_t mode_of(const std::string& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(Keygen, WritesFourKeysWithModesAndRefusesOverwrite) {
  auto dir = temp_dir() + "/keys";
  ASSERT_TRUE(keygen(dir, false));
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir + "/api.key"), 0600u);
  EXPECT_EQ(mode_of(dir + "/catalog.key"), 0600u);
  EXPECT_EQ(mode_of(dir + "/api.pub"), 0644u);
  auto sec = crypto::load_secret_key(dir + "/api.key");
  auto pub = crypto::load_public_key(dir + "/api.pub");
  ASSERT_TRUE(sec && pub);
  EXPECT_EQ(sec->public_key().bytes, pub->bytes);
  auto cat = crypto::load_public_key(dir + "/catalog.pub");
  EXPECT_NE(cat->bytes, pub->bytes);  // two distinct key pairs

  auto before = *fs::read_file(dir + "/api.key");
  auto again = keygen(dir, false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, codes::kConflict);
  EXPECT_EQ(*fs::read_file(dir + "/api.key"), before);
  ASSERT_TRUE(keygen(dir, true));
  EXPECT_NE(*fs::read_file(dir + "/api.key"), before);
}

TEST(Token, MintsAVerifiableToken) {
  auto dir = temp_dir();
  ASSERT_TRUE(keygen(dir, false));
  auto t = make_token(dir + "/api.key", 6001, 120, 1'800'000'000, "GET", "/status");
  ASSERT_TRUE(t);
  auto pub = *crypto::load_public_key(dir + "/api.pub");
  auto c = jws::verify_agent_token(*t, pub, 6001, 1'800'000'001, "GET", "/status");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["exp"], 1'800'000'120);
  EXPECT_FALSE(make_token(dir + "/api.key", 6001, 301, 0, "GET", "/status"));
  EXPECT_FALSE(make_token(dir + "/nope.key", 6001, 60, 0, "GET", "/status"));
  EXPECT_FALSE(make_token(dir + "/api.pub", 6001, 60, 0, "GET",
                          "/status"));  // a public key is not a signing key
}

}  // namespace
}  // namespace zlh::ctl
