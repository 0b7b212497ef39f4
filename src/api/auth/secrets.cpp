#include "api/auth/secrets.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/fs.hpp"

namespace zlh::api::auth {
namespace {

constexpr size_t kMaxSecretFileBytes = 4096;

// Holds secret text and wipes it when it goes out of scope.
struct Wiped {
  std::string s;
  ~Wiped() {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
  }
};

// Opens first and checks the open file (fstat), so what is checked is what is
// read. O_NONBLOCK keeps a FIFO planted at the path from hanging start-up.
Result<void> read_secret_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return fail(codes::kNotFound, path + ": no such file");
    return fail(Error::from_errno("open " + path, err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail(Error::from_errno("stat " + path, err));
  }
  auto refuse = [&](const std::string& why) {
    ::close(fd);
    return fail(codes::kInvalid, path + ": " + why);
  };
  if (!S_ISREG(st.st_mode)) return refuse("not a regular file");
  if (st.st_mode & 077)
    return refuse("secret file is accessible by group or others (mode " +
                  fs::octal_mode(st.st_mode) + "); chmod 600 it");
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return refuse("secret file is owned by another user (uid " + std::to_string(st.st_uid) + ")");
  auto text = fs::read_fd(fd, kMaxSecretFileBytes, path);
  ::close(fd);
  if (!text && text.error().is(codes::kTooLarge))
    return fail(codes::kInvalid, path + ": too large for a secret file");
  if (!text) return fail(text.error());
  out = std::move(*text);
  return {};
}

Result<bool> path_exists(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(Error::from_errno("stat " + path, errno));
}

Result<void> write_secret(const std::string& path, std::string_view text, mode_t mode) {
  if (auto r = fs::make_dirs(fs::dir_of(path), 0700); !r) return r;
  return fs::write_file_atomic(path, text, mode);
}

Result<JwtKey> load_jwt(const SecretFiles& files, std::vector<std::string>& generated) {
  const std::string& path = files.jwt_secret;
  Wiped text;
  auto r = read_secret_file(path, text.s);
  if (!r && r.error().is(codes::kNotFound) && files.generate_jwt) {
    Wiped raw{crypto::random_bytes(kGeneratedJwtSecretBytes)};
    Wiped encoded{crypto::base64_encode(raw.s) + "\n"};
    if (auto w = write_secret(path, encoded.s, 0600); !w) return fail(w.error());
    generated.push_back(path);
    return JwtKey::from_secret(raw.s);
  }
  if (!r) return fail(r.error());
  auto raw = crypto::base64_decode(text.s);
  if (!raw) return fail(codes::kInvalid, path + ": jwt secret is not base64");
  Wiped raw_w{std::move(*raw)};
  if (raw_w.s.size() < kMinJwtSecretBytes)
    return fail(codes::kInvalid, path + ": jwt secret is shorter than " +
                                     std::to_string(kMinJwtSecretBytes) + " bytes");
  return JwtKey::from_secret(raw_w.s);
}

struct KeyPair {
  crypto::Ed25519SecretKey sec;
  crypto::Ed25519PublicKey pub;
};

Result<KeyPair> load_api_key(const SecretFiles& files, std::vector<std::string>& generated) {
  Wiped text;
  auto r = read_secret_file(files.api_key, text.s);
  if (!r && r.error().is(codes::kNotFound) && files.generate_api_key) {
    auto pub_exists = path_exists(files.api_pub);
    if (!pub_exists) return fail(pub_exists.error());
    if (*pub_exists)
      return fail(codes::kConflict, files.api_pub + " exists without " + files.api_key +
                                        "; refusing to generate a new key pair");
    auto kp = crypto::ed25519_generate();
    Wiped sec_text{crypto::format_secret_key(kp.sec)};
    if (auto w = write_secret(files.api_key, sec_text.s, 0600); !w) return fail(w.error());
    generated.push_back(files.api_key);
    if (auto w = write_secret(files.api_pub, crypto::format_public_key(kp.pub), 0644); !w)
      return fail(w.error());
    generated.push_back(files.api_pub);
    return KeyPair{kp.sec, kp.pub};
  }
  if (!r) return fail(r.error());
  auto sec = crypto::parse_secret_key(text.s);
  if (!sec) return fail(sec.error().wrap(files.api_key));
  KeyPair kp{*sec, sec->public_key()};

  auto pub_text = fs::read_file(files.api_pub, kMaxSecretFileBytes);
  if (!pub_text && pub_text.error().is(codes::kNotFound)) {
    // api.key was written and the process stopped before api.pub: re-derive
    // (an operator's configured key: in memory only, nothing written).
    if (files.generate_api_key) {
      if (auto w = write_secret(files.api_pub, crypto::format_public_key(kp.pub), 0644); !w)
        return fail(w.error());
      generated.push_back(files.api_pub);
    }
    return kp;
  }
  if (!pub_text) return fail(pub_text.error());
  auto pub = crypto::parse_public_key(*pub_text);
  if (!pub) return fail(pub.error().wrap(files.api_pub));
  if (pub->bytes != kp.pub.bytes)
    return fail(codes::kInvalid, files.api_pub + ": does not match " + files.api_key);
  return kp;
}

}  // namespace

SecretFiles default_secret_files(const std::string& data_dir) {
  std::string keys = fs::join(data_dir, "keys");
  return SecretFiles{fs::join(keys, "jwt.secret"), fs::join(keys, "api.key"),
                     fs::join(keys, "api.pub"), true, true};
}

SecretFiles configured_secret_files(const std::string& data_dir, const std::string& jwt_secret_file,
                                    const std::string& api_key_file) {
  SecretFiles f = default_secret_files(data_dir);
  if (!jwt_secret_file.empty()) {
    f.jwt_secret = jwt_secret_file;
    f.generate_jwt = false;
  }
  if (!api_key_file.empty()) {
    f.api_key = api_key_file;
    f.api_pub = api_key_file.ends_with(".key")
                    ? api_key_file.substr(0, api_key_file.size() - 4) + ".pub"
                    : api_key_file + ".pub";
    f.generate_api_key = false;
  }
  return f;
}

Result<ApiSecrets> load_or_generate(const SecretFiles& files) {
  if (!crypto::init()) return fail(codes::kInternal, "libsodium initialisation failed");
  std::vector<std::string> generated;
  auto jwt = load_jwt(files, generated);
  if (!jwt) return fail(jwt.error().wrap("jwt secret"));
  auto kp = load_api_key(files, generated);
  if (!kp) return fail(kp.error().wrap("api signing key"));
  return ApiSecrets{std::move(*jwt), kp->sec, kp->pub, std::move(generated)};
}

}  // namespace zlh::api::auth
