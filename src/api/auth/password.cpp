#include "api/auth/password.hpp"

#include <sodium.h>

#include <algorithm>
#include <semaphore>

#include "base/crypto.hpp"

namespace zlh::api::auth {

Result<void> check_password_policy(std::string_view password) {
  if (password.size() < kMinPasswordBytes)
    return fail(Error::invalid(
        "password", "password must be at least " + std::to_string(kMinPasswordBytes) + " bytes"));
  if (password.size() > kMaxPasswordBytes)
    return fail(Error::invalid(
        "password", "password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes"));
  return {};
}

HashParams HashParams::interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

HashParams HashParams::minimal_for_tests() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

struct PasswordHasher::Impl {
  explicit Impl(unsigned n) : slots(std::max(1u, n)) {}
  // Bounds the memory of concurrent hashes (params.memlimit each).
  mutable std::counting_semaphore<> slots;
  std::string dummy;  // set once in the constructor, read-only afterwards
};

namespace {
class Slot {
 public:
  explicit Slot(std::counting_semaphore<>& s) : s_(s) { s_.acquire(); }
  ~Slot() { s_.release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  std::counting_semaphore<>& s_;
};

// libsodium reads the stored hash as a NUL-terminated C string of less than
// crypto_pwhash_STRBYTES; anything else cannot be one of ours.
bool plausible_hash(std::string_view stored) {
  return stored.size() < crypto_pwhash_STRBYTES && stored.find('\0') == std::string_view::npos &&
         stored.starts_with(crypto_pwhash_argon2id_STRPREFIX);
}
}  // namespace

PasswordHasher::PasswordHasher(HashParams params, unsigned max_concurrent)
    : params_(params), impl_(std::make_unique<Impl>(max_concurrent)) {
  crypto::init();
  // Made here rather than on first use: a lazily made dummy would make the
  // first unknown-account login take two hashes, itself a timing signal.
  // A random password nobody knows, so no input can match it. hash() only
  // fails when libsodium cannot allocate; then real verifies fail too, and
  // an empty dummy makes dummy_verify() return at once.
  if (auto h = hash(crypto::random_hex(16))) impl_->dummy = std::move(*h);
}

PasswordHasher::~PasswordHasher() = default;

Result<std::string> PasswordHasher::hash(std::string_view password) const {
  if (password.size() > kMaxPasswordBytes)
    return fail(Error::invalid(
        "password", "password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes"));
  char out[crypto_pwhash_STRBYTES];
  int rc;
  {
    Slot slot(impl_->slots);
    rc = crypto_pwhash_str_alg(out, password.data(), password.size(), params_.opslimit,
                               params_.memlimit, crypto_pwhash_ALG_ARGON2ID13);
  }
  if (rc != 0) return fail(codes::kInternal, "password hashing failed (out of memory?)");
  return std::string(out);
}

Result<bool> PasswordHasher::verify(std::string_view stored, std::string_view password) const {
  if (!plausible_hash(stored))
    return fail(codes::kInternal, "stored password hash is not argon2id");
  std::string stored_z(stored);  // NUL-terminated copy for libsodium
  // -1 means the string does not decode; verify alone would call that a
  // mismatch and hide a corrupt row behind "wrong password".
  if (crypto_pwhash_str_needs_rehash(stored_z.c_str(), params_.opslimit, params_.memlimit) == -1)
    return fail(codes::kInternal, "stored password hash is malformed");
  if (password.size() > kMaxPasswordBytes) return false;
  Slot slot(impl_->slots);
  return crypto_pwhash_str_verify(stored_z.c_str(), password.data(), password.size()) == 0;
}

const std::string& PasswordHasher::dummy_hash() const { return impl_->dummy; }

bool PasswordHasher::dummy_verify(std::string_view password) const {
  const std::string& d = dummy_hash();
  if (d.empty()) return false;
  (void)verify(d, password);
  return false;
}

bool PasswordHasher::needs_rehash(std::string_view stored) const {
  if (!plausible_hash(stored)) return true;
  std::string stored_z(stored);
  return crypto_pwhash_str_needs_rehash(stored_z.c_str(), params_.opslimit, params_.memlimit) != 0;
}

}  // namespace zlh::api::auth
