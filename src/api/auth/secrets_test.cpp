#include "api/auth/secrets.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"
#include "ctl/keys.hpp"

namespace zlh::api::auth {
namespace {

mode_t mode_of(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 07777;
  return st.st_mode & 0777;
}

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-secrets-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    data = root + "/var";
    files = default_secret_files(data);
  }
  void TearDown() override { std::filesystem::remove_all(root); }
  std::string root, data;
  SecretFiles files;
};

TEST_F(Secrets, DefaultLayoutIsTheKeygenLayout) {
  EXPECT_EQ(files.jwt_secret, data + "/keys/jwt.secret");
  EXPECT_EQ(files.api_key, data + "/keys/api.key");
  EXPECT_EQ(files.api_pub, data + "/keys/api.pub");
  EXPECT_TRUE(files.generate_jwt && files.generate_api_key);
}

TEST_F(Secrets, FirstStartGeneratesWithModesSecondStartLoadsTheSame) {
  auto first = load_or_generate(files);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->generated,
            (std::vector<std::string>{files.jwt_secret, files.api_key, files.api_pub}));
  EXPECT_EQ(mode_of(data + "/keys"), 0700u);
  EXPECT_EQ(mode_of(files.jwt_secret), 0600u);
  EXPECT_EQ(mode_of(files.api_key), 0600u);
  EXPECT_EQ(mode_of(files.api_pub), 0644u);
  EXPECT_EQ(first->jwt.secret().size(), kGeneratedJwtSecretBytes);
  EXPECT_EQ(first->api_key.public_key().bytes, first->api_pub.bytes);

  // The JWT file is the base64 of the secret, one line.
  auto text = fs::read_file(files.jwt_secret);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, crypto::base64_encode(first->jwt.secret()) + "\n");
  // The key files are in zlhctl's format, readable by the common loaders.
  auto sec = crypto::load_secret_key(files.api_key);
  auto pub = crypto::load_public_key(files.api_pub);
  ASSERT_TRUE(sec && pub);
  EXPECT_EQ(sec->bytes, first->api_key.bytes);
  EXPECT_EQ(pub->bytes, first->api_pub.bytes);

  auto second = load_or_generate(files);
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_TRUE(second->generated.empty());
  EXPECT_EQ(second->jwt.secret(), first->jwt.secret());
  EXPECT_EQ(second->api_key.bytes, first->api_key.bytes);
  // Tokens minted before a restart verify after it.
  auto t = mint_session_token(first->jwt, "u", "s", 1000);
  EXPECT_TRUE(verify_session_token(second->jwt, *t, 1001));
}

TEST_F(Secrets, UsesKeysMadeByZlhctlKeygen) {
  ASSERT_TRUE(ctl::keygen(data + "/keys", false));
  auto made = crypto::load_secret_key(data + "/keys/api.key");
  auto s = load_or_generate(files);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->api_key.bytes, made->bytes);
  EXPECT_EQ(s->generated, (std::vector<std::string>{files.jwt_secret}));
}

TEST_F(Secrets, RefusesGroupOrWorldAccessibleSecrets) {
  ASSERT_TRUE(load_or_generate(files));
  for (const std::string& path : {files.jwt_secret, files.api_key}) {
    for (mode_t bad : {0640, 0604, 0620, 0660, 0644}) {
      ASSERT_EQ(::chmod(path.c_str(), bad), 0);
      auto r = load_or_generate(files);
      ASSERT_FALSE(r) << path << " " << bad;
      EXPECT_EQ(r.error().code, codes::kInvalid);
      EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    }
    // Not silently fixed: the mode is still the bad one.
    EXPECT_EQ(mode_of(path), 0644u);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    EXPECT_TRUE(load_or_generate(files));
  }
  // 0400 is fine; the public key may be world readable.
  ASSERT_EQ(::chmod(files.api_key.c_str(), 0400), 0);
  EXPECT_TRUE(load_or_generate(files));
}

TEST_F(Secrets, RefusesNonRegularSecretFiles) {
  ASSERT_TRUE(fs::make_dirs(data + "/keys", 0700));
  ASSERT_EQ(::mkfifo(files.jwt_secret.c_str(), 0600), 0);
  auto r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos);
}

TEST_F(Secrets, BadContentIsInvalidNamingThePathWithoutTheValue) {
  ASSERT_TRUE(load_or_generate(files));
  std::string short_secret = crypto::base64_encode(std::string(31, 'q'));
  ASSERT_TRUE(fs::write_file_atomic(files.jwt_secret, short_secret, 0600));
  auto r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_NE(r.error().message.find(files.jwt_secret), std::string::npos);
  EXPECT_EQ(r.error().message.find(short_secret), std::string::npos);

  ASSERT_TRUE(fs::write_file_atomic(files.jwt_secret, "not base64 !!!", 0600));
  r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);

  // A longer operator-provided secret is accepted as is.
  std::string long_raw(64, 'L');
  ASSERT_TRUE(fs::write_file_atomic(files.jwt_secret, crypto::base64_encode(long_raw), 0600));
  auto ok = load_or_generate(files);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->jwt.secret(), long_raw);

  // A .pub where the .key should be (32 bytes) is refused.
  auto pub_text = *fs::read_file(files.api_pub);
  ASSERT_TRUE(fs::write_file_atomic(files.api_key, pub_text, 0600));
  r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_NE(r.error().message.find(files.api_key), std::string::npos);
}

TEST_F(Secrets, PublicKeyIsRederivedOrMustMatch) {
  auto first = load_or_generate(files);
  ASSERT_TRUE(first);
  // Crash between api.key and api.pub: pub is written again from the key.
  ASSERT_EQ(::unlink(files.api_pub.c_str()), 0);
  auto again = load_or_generate(files);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->generated, (std::vector<std::string>{files.api_pub}));
  EXPECT_EQ(crypto::load_public_key(files.api_pub)->bytes, first->api_pub.bytes);

  // A pub of another key pair is refused.
  auto other = crypto::ed25519_generate();
  ASSERT_TRUE(fs::write_file_atomic(files.api_pub, crypto::format_public_key(other.pub), 0644));
  auto r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos);

  // api.pub without api.key: no new key pair behind the operator's back.
  ASSERT_EQ(::unlink(files.api_key.c_str()), 0);
  r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kConflict);
  EXPECT_FALSE(std::filesystem::exists(files.api_key));
}

TEST_F(Secrets, ConfiguredFilesAreNeverGenerated) {
  files.generate_jwt = files.generate_api_key = false;
  auto r = load_or_generate(files);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
  EXPECT_NE(r.error().message.find(files.jwt_secret), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(data));

  files.generate_jwt = files.generate_api_key = true;
  ASSERT_TRUE(load_or_generate(files));
  ASSERT_EQ(::unlink(files.api_pub.c_str()), 0);
  files.generate_jwt = files.generate_api_key = false;
  auto s = load_or_generate(files);  // pub derived in memory, not written
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_FALSE(std::filesystem::exists(files.api_pub));
  EXPECT_EQ(s->api_pub.bytes, s->api_key.public_key().bytes);
}

// Operator-configured files (replicas share them) are never generated; a
// key's public half is derived beside it when missing.
TEST_F(Secrets, ConfiguredFilesMustExistAndArePreferred) {
  auto made = load_or_generate(default_secret_files(root + "/made"));
  ASSERT_TRUE(made);
  auto files = configured_secret_files(root + "/data", root + "/made/keys/jwt.secret",
                                       root + "/made/keys/api.key");
  EXPECT_FALSE(files.generate_jwt);
  EXPECT_FALSE(files.generate_api_key);
  EXPECT_EQ(files.api_pub, root + "/made/keys/api.pub");
  auto shared = load_or_generate(files);
  ASSERT_TRUE(shared) << shared.error().to_string();
  EXPECT_TRUE(shared->generated.empty());
  EXPECT_EQ(shared->api_pub.bytes, made->api_pub.bytes);
  EXPECT_FALSE(std::filesystem::exists(root + "/data/keys")) << "nothing generated";

  auto missing = configured_secret_files(root + "/data", root + "/nope/jwt.secret", "");
  auto r = load_or_generate(missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound) << r.error().to_string();
  EXPECT_FALSE(std::filesystem::exists(root + "/nope/jwt.secret"));

  std::filesystem::copy_file(root + "/made/keys/api.key", root + "/operator-signing");
  auto lone = configured_secret_files(root + "/made", "", root + "/operator-signing");
  auto derived = load_or_generate(lone);  // its public half derived in memory
  ASSERT_TRUE(derived) << derived.error().to_string();
  EXPECT_TRUE(derived->generated.empty());
  EXPECT_EQ(derived->api_pub.bytes, made->api_pub.bytes);
}

}  // namespace
}  // namespace zlh::api::auth
