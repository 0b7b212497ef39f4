// Password hashing for zlh-api accounts (docs/design.md §10.2): argon2id through
// libsodium's crypto_pwhash_str, in its self-describing "$argon2id$v=19$m=…"
// string form, which is what the store keeps.
//
// Cost: HashParams::interactive() (libsodium's INTERACTIVE limits: 2 passes,
// 64 MiB) is the production default. It is above OWASP's argon2id floor
// (19 MiB, 2 passes) and takes ~50-150 ms on one core. MODERATE (256 MiB,
// ~0.7 s) was not chosen: a login burst on a small host would need 256 MiB per
// concurrent hash. The memory per hash is bounded in total by
// `max_concurrent` (below): at most that many hashes run at once.
// HashParams::minimal_for_tests() uses libsodium's minimum limits (1 pass,
// 8 KiB) so unit tests run fast; it must never be used outside tests.
//
// Threading: a PasswordHasher may be shared by any number of threads. hash(),
// verify() and dummy_verify() are CPU- and memory-heavy and block the calling
// thread (also while waiting for a concurrency slot): call them from a worker
// pool, never from an I/O thread. All calls may be repeated.
//
// Errors: E_INVALID (field "password") for a password outside the policy,
// E_INTERNAL when libsodium fails (out of memory) or a stored hash is not an
// argon2id string (a corrupt row, not a wrong password).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::auth {

// Password policy, in bytes of the UTF-8 text as received.
inline constexpr size_t kMinPasswordBytes = 8;
inline constexpr size_t kMaxPasswordBytes = 1024;

// E_INVALID with field "password" when the length is outside
// kMinPasswordBytes..kMaxPasswordBytes. Applied to new passwords (register,
// change), not at login: a login with any other length simply fails to match.
Result<void> check_password_policy(std::string_view password);

struct HashParams {
  unsigned long long opslimit;
  size_t memlimit;  // bytes

  static HashParams interactive();        // production default (see above)
  static HashParams minimal_for_tests();  // libsodium's minimum; tests only
};

class PasswordHasher {
 public:
  // max_concurrent: hashes allowed to run at once (>= 1; 0 is taken as 1);
  // further callers wait. Peak memory is max_concurrent * params.memlimit.
  // Costs one hash (the dummy below): construct once at start-up and share.
  explicit PasswordHasher(HashParams params = HashParams::interactive(),
                          unsigned max_concurrent = 2);
  ~PasswordHasher();
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // Hashes a password (with a fresh random salt) into an argon2id string.
  // Does not apply the policy except the upper bound: a password over
  // kMaxPasswordBytes is E_INVALID (field "password").
  Result<std::string> hash(std::string_view password) const;

  // true when `password` matches `stored`, false when it does not (including
  // a password over kMaxPasswordBytes, refused without hashing). E_INTERNAL
  // when `stored` is not an argon2id string. The comparison inside libsodium
  // is constant-time.
  Result<bool> verify(std::string_view stored, std::string_view password) const;

  // Runs one full verification against a fixed hash made with this hasher's
  // params, so that a login for an unknown account costs the same time as
  // one for a known account with a wrong password. Always returns false.
  // The fixed hash is made by the constructor (which therefore costs one
  // hash), so even the first unknown-account login costs one verification.
  bool dummy_verify(std::string_view password) const;

  // true when `stored` was made with other params than this hasher's (or is
  // not an argon2id string at all): after a successful login the caller
  // re-hashes the password and stores the new string.
  bool needs_rehash(std::string_view stored) const;

  const HashParams& params() const { return params_; }
  // The fixed hash dummy_verify() checks against (exposed for tests).
  const std::string& dummy_hash() const;

 private:
  struct Impl;
  HashParams params_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlh::api::auth
