#include "base/json_text.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace zlh::json_text {
namespace {

using namespace std::string_view_literals;

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Per byte: 0 copied as it is, 1 escaped (control byte, '"', '\\'), 2 the
// start of a multi-byte UTF-8 sequence (checked, then copied).
constexpr auto kAttention = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[size_t(c)] = (c < 0x20 || c == '"' || c == '\\') ? 1 : c >= 0x80 ? 2 : 0;
  return t;
}();

// The length of the valid UTF-8 sequence starting at s[i], or 0 when it is
// not one (overlong forms, surrogates and code points past U+10FFFF too).
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

// True when none of 8 bytes needs attention: each is ASCII (< 0x80), not a
// control byte (< 0x20), '"' nor '\\'. (The borrow tricks can only report
// a byte wrongly after one that truly matched, never miss one.)
inline bool plain_word(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const uint64_t below_space = (w - kOnes * 0x20) & ~w;
  const uint64_t q = w ^ (kOnes * '"'), quote = (q - kOnes) & ~q;
  const uint64_t b = w ^ (kOnes * '\\'), backslash = (b - kOnes) & ~b;
  return ((w | below_space | quote | backslash) & kHigh) == 0;
}

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\""sv;
      break;
    case '\\':
      out += "\\\\"sv;
      break;
    case '\b':
      out += "\\b"sv;
      break;
    case '\f':
      out += "\\f"sv;
      break;
    case '\n':
      out += "\\n"sv;
      break;
    case '\r':
      out += "\\r"sv;
      break;
    case '\t':
      out += "\\t"sv;
      break;
    default:
      out += "\\u00"sv;
      out += kHex[c >> 4];
      out += kHex[c & 15];
  }
}

// One pass: runs of plain bytes are copied in bulk (and skipped 8 at a time).
bool append(std::string& out, std::string_view v, bool replace) {
  out += '"';
  size_t run = 0;  // start of the bytes not yet copied that need no escape
  for (size_t i = 0; i < v.size();) {
    if (i + 8 <= v.size()) {
      uint64_t w;
      std::memcpy(&w, v.data() + i, 8);
      if (plain_word(w)) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = static_cast<unsigned char>(v[i]);
    const uint8_t a = kAttention[c];
    if (a == 0) {
      ++i;
      continue;
    }
    if (a == 2) {
      if (const size_t n = utf8_len(v, i); n > 0) {
        i += n;
        continue;
      }
      if (!replace) return false;
    }
    out.append(v.data() + run, i - run);
    run = ++i;
    if (a == 2)
      out += kReplacement;
    else
      append_escape(out, c);
  }
  out.append(v.data() + run, v.size() - run);
  out += '"';
  return true;
}

}  // namespace

bool append_string_checked(std::string& out, std::string_view v) { return append(out, v, false); }

void append_string(std::string& out, std::string_view v) { (void)append(out, v, true); }

}  // namespace zlh::json_text
