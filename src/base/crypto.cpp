#include "base/crypto.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <fstream>
#include <sstream>

#include "base/strings.hpp"

namespace zlh::crypto {

bool init() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

Result<std::string> decode(std::string_view text, bool url) {
  auto value = [url](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (!url && c == '+') return 62;
    if (!url && c == '/') return 63;
    if (url && c == '-') return 62;
    if (url && c == '_') return 63;
    return -1;
  };
  if (!url) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return fail(codes::kInvalid, "base64: bad length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return fail(codes::kInvalid, "base64: invalid character");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  // Non-canonical trailing bits would let two encodings map to one value.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return fail(codes::kInvalid, "base64: non-canonical encoding");
  return out;
}

}  // namespace

std::string base64_encode(std::string_view data) { return encode(data, kB64, true); }
Result<std::string> base64_decode(std::string_view text) {
  return decode(strings::trim_space(text), false);
}
std::string base64url_encode(std::string_view data) { return encode(data, kB64Url, false); }
Result<std::string> base64url_decode(std::string_view text) { return decode(text, true); }

std::string hex_encode(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string random_bytes(size_t n) {
  init();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

std::string random_hex(size_t n_bytes) { return hex_encode(random_bytes(n_bytes)); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  return hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

Result<std::string> sha256_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Error::from_errno("open " + path, errno));
  Sha256 h;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    if (in.gcount() > 0) h.update(std::string_view(buf.data(), size_t(in.gcount())));
  }
  if (in.bad()) return fail(codes::kIo, "read " + path);
  return h.hex_digest();
}

Ed25519PublicKey Ed25519SecretKey::public_key() const {
  Ed25519PublicKey p;
  std::copy(bytes.begin() + 32, bytes.end(), p.bytes.begin());
  return p;
}

Ed25519KeyPair ed25519_generate() {
  init();
  Ed25519KeyPair kp;
  crypto_sign_keypair(kp.pub.bytes.data(), kp.sec.bytes.data());
  return kp;
}

std::string ed25519_sign(const Ed25519SecretKey& key, std::string_view message) {
  init();
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       key.bytes.data());
  return sig;
}

bool ed25519_verify(const Ed25519PublicKey& key, std::string_view message, std::string_view sig) {
  init();
  if (sig.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.bytes.data()) == 0;
}

Result<Ed25519PublicKey> parse_public_key(std::string_view text) {
  auto raw = base64_decode(text);
  if (!raw) return fail(codes::kInvalid, "public key: not base64");
  if (raw->size() != 32) return fail(codes::kInvalid, "public key: want 32 bytes");
  Ed25519PublicKey k;
  std::copy(raw->begin(), raw->end(), k.bytes.begin());
  return k;
}

Result<Ed25519SecretKey> parse_secret_key(std::string_view text) {
  init();
  auto raw = base64_decode(text);
  if (!raw) return fail(codes::kInvalid, "secret key: not base64");
  Ed25519SecretKey k;
  if (raw->size() == 64) {
    std::copy(raw->begin(), raw->end(), k.bytes.begin());
    // The embedded public half must match the seed, else signatures are garbage.
    unsigned char pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, k.bytes.data());
    if (sodium_memcmp(pk, k.bytes.data() + 32, 32) != 0)
      return fail(codes::kInvalid, "secret key: public half does not match seed");
  } else {
    // A 32-byte value would be a seed, but it is also what a *.pub file
    // holds: refusing it stops "--key api.pub" from minting useless tokens.
    return fail(codes::kInvalid, "secret key: want 64 bytes (is this a .pub file?)");
  }
  sodium_memzero(raw->data(), raw->size());
  return k;
}

std::string format_public_key(const Ed25519PublicKey& k) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(k.bytes.data()), 32)) + "\n";
}
std::string format_secret_key(const Ed25519SecretKey& k) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(k.bytes.data()), 64)) + "\n";
}

namespace {
Result<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Error::from_errno("open " + path, errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 4096) return fail(codes::kInvalid, path + ": too large for a key file");
  return s;
}
}  // namespace

Result<Ed25519PublicKey> load_public_key(const std::string& path) {
  auto text = read_small_file(path);
  if (!text) return fail(text.error());
  auto k = parse_public_key(*text);
  if (!k) return fail(k.error().wrap(path));
  return k;
}

Result<Ed25519SecretKey> load_secret_key(const std::string& path) {
  auto text = read_small_file(path);
  if (!text) return fail(text.error());
  auto k = parse_secret_key(*text);
  sodium_memzero(text->data(), text->size());
  if (!k) return fail(k.error().wrap(path));
  return k;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  init();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace zlh::crypto
