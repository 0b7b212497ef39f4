// What the harnesses share: reading one fuzzer input as text parts and
// choices, and failing loudly when an invariant breaks.
//
// A harness takes its text parts from the front of the input and its small
// choices (chunk sizes, modes) from the back, so that a seed written as
// plain text is still a meaningful input.
//
// Thread-safety: plain values; libFuzzer calls a harness on one thread.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace zlh::fuzz {

// A broken invariant: print it and abort(), which libFuzzer reports as a
// crash (saving the input) and the replay driver as a failed test.
[[noreturn]] inline void broken(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
  if (!detail.empty())
    std::fprintf(stderr, "fuzz: detail: %.*s\n", int(detail.size()), detail.data());
  std::abort();
}

#define ZLH_FUZZ_CHECK(cond, ...)                                       \
  do {                                                                  \
    if (!(cond)) ::zlh::fuzz::broken(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

class Input {
 public:
  Input(const uint8_t* data, size_t size) : s_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return s_.empty(); }
  size_t size() const { return s_.size(); }

  // The text up to the first `sep` (which is consumed), or all that is left.
  std::string_view until(std::string_view sep) {
    size_t at = s_.find(sep);
    std::string_view out = s_.substr(0, at);
    s_ = at == std::string_view::npos ? std::string_view{} : s_.substr(at + sep.size());
    return out;
  }
  // One byte from the front; 0 when empty.
  uint8_t front_byte() {
    if (s_.empty()) return 0;
    uint8_t b = uint8_t(s_.front());
    s_.remove_prefix(1);
    return b;
  }
  // One byte from the back; 0 when empty.
  uint8_t back_byte() {
    if (s_.empty()) return 0;
    uint8_t b = uint8_t(s_.back());
    s_.remove_suffix(1);
    return b;
  }
  std::string_view rest() {
    std::string_view out = s_;
    s_ = {};
    return out;
  }

 private:
  std::string_view s_;
};

// A token for the JWT/JWS harnesses: by `mode` (the input's first byte),
// either the rest of the input as it is (even), or a header line and claims
// that `sign` turns into a validly signed token (odd), so the checks after
// the signature are reached too.
template <typename Sign>
std::string token_from(Input& in, uint8_t mode, Sign sign) {
  if (mode % 2 == 0) return std::string(in.rest());
  std::string_view header = in.until("\n");
  std::string_view claims = in.rest();
  return sign(header, claims);
}

// Strictly valid UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF).
inline bool strict_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = uint8_t(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = uint8_t(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
    i += len;
  }
  return true;
}

// A new private directory for a harness's tree: in $TMPDIR when set
// (scripts/fuzz.sh points it at a directory of its own), else in /dev/shm
// when it can be written (tmpfs: a tree made and removed per input costs
// ~0.1 ms there, ~15 ms on a journaled disk), else in /tmp. Aborts on
// failure.
inline std::string scratch_dir(std::string_view name) {
  std::string parent = "/tmp";
  if (const char* t = std::getenv("TMPDIR"); t && *t)
    parent = t;
  else if (::access("/dev/shm", W_OK | X_OK) == 0)
    parent = "/dev/shm";
  std::string tmpl = parent + "/zlh-fuzz-" + std::string(name) + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) broken("mkdtemp", tmpl);
  return tmpl;
}

}  // namespace zlh::fuzz
