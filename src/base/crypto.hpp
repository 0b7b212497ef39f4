// Cryptographic primitives: base64/base64url, SHA-256 (OpenSSL, streaming),
// Ed25519 keys and signatures (libsodium), random bytes.
//
// Key files (zlhctl keygen, docs/design.md §4.3) are base64 text, one line:
//   *.key  the 64-byte libsodium secret key (seed || public key), mode 0600.
//          32 bytes are refused (that is a public key, not a secret).
//   *.pub  the 32-byte public key.
//
// Thread-safety: all functions are reentrant. init() must have run once
// (it is called lazily and is idempotent).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::crypto {

// Initializes libsodium. Idempotent, thread-safe. Returns false if it failed.
bool init();

std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);     // ignores surrounding whitespace
std::string base64url_encode(std::string_view data);          // no padding
Result<std::string> base64url_decode(std::string_view text);  // padding refused

std::string hex_encode(std::string_view data);
std::string random_bytes(size_t n);
std::string random_hex(size_t n_bytes);

// Streaming SHA-256. Not copyable. update() may be called any number of times.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex_digest();  // finalizes; the object must not be updated afterwards
 private:
  void* ctx_;
};
std::string sha256_hex(std::string_view data);
// Hashes a file by streaming it; E_IO when it cannot be read.
Result<std::string> sha256_file_hex(const std::string& path);

struct Ed25519PublicKey {
  std::array<uint8_t, 32> bytes{};
};
struct Ed25519SecretKey {
  std::array<uint8_t, 64> bytes{};  // seed || public key
  Ed25519PublicKey public_key() const;
};

struct Ed25519KeyPair {
  Ed25519PublicKey pub;
  Ed25519SecretKey sec;
};
Ed25519KeyPair ed25519_generate();

std::string ed25519_sign(const Ed25519SecretKey& key, std::string_view message);  // 64 raw bytes
bool ed25519_verify(const Ed25519PublicKey& key, std::string_view message, std::string_view sig);

// Parse/format key text. Errors: E_INVALID naming what is wrong.
Result<Ed25519PublicKey> parse_public_key(std::string_view base64_text);
Result<Ed25519SecretKey> parse_secret_key(std::string_view base64_text);
std::string format_public_key(const Ed25519PublicKey& k);
std::string format_secret_key(const Ed25519SecretKey& k);

// Load from files. Errors: E_IO (cannot read), E_INVALID (bad content).
Result<Ed25519PublicKey> load_public_key(const std::string& path);
Result<Ed25519SecretKey> load_secret_key(const std::string& path);

// Constant-time comparison of equal-length strings; false when lengths differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace zlh::crypto
