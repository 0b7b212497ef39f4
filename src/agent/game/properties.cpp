#include "agent/game/properties.hpp"

#include <cstdint>
#include <map>
#include <set>

namespace zlh::agent::game {
namespace {

struct LogicalLine {
  std::vector<std::string_view> physical;  // as in the file, without terminators
  bool is_entry = false;
  // Its last physical line still continues at the end of the file: the
  // line after it (an appended key) would be read as part of it.
  bool dangling = false;
  std::string key;    // unescaped
  std::string value;  // unescaped
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// A physical line continues onto the next when it ends in an odd number of backslashes.
bool continues(std::string_view line) {
  size_t n = 0;
  for (size_t i = line.size(); i > 0 && line[i - 1] == '\\'; --i) ++n;
  return n % 2 == 1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits s[at..at+3] as a number; nullopt when s ends first or
// one is not a hex digit.
std::optional<uint32_t> hex4(std::string_view s, size_t at) {
  if (at + 3 >= s.size()) return std::nullopt;
  uint32_t v = 0;
  for (size_t k = at; k < at + 4; ++k) {
    int h = hex_value(s[k]);
    if (h < 0) return std::nullopt;
    v = v * 16 + uint32_t(h);
  }
  return v;
}

// A \uXXXX escape (s[i] is the 'u'), joined with the low surrogate that
// follows a high one, appended to `out` as UTF-8; returns the index of the
// escape's last character.
size_t unescape_u(std::string_view s, size_t i, std::string& out) {
  auto cp = hex4(s, i + 1);
  if (!cp) {
    out += 'u';  // malformed: Java throws; we keep the text rather than lose the file
    return i;
  }
  i += 4;
  // A surrogate pair (how Properties.store writes characters outside the BMP).
  if (*cp >= 0xD800 && *cp < 0xDC00 && i + 6 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u') {
    auto lo = hex4(s, i + 3);
    if (lo && *lo >= 0xDC00 && *lo < 0xE000) {
      *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*lo - 0xDC00);
      i += 6;
    }
  }
  append_utf8(out, *cp);
  return i;
}

// Properties.load's unescaping of a key or value (the continuation
// backslashes are already gone).
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u':
        i = unescape_u(s, i, out);
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Splits a logical line's text into key and value as Properties.load does.
void split_entry(std::string_view text, std::string& key, std::string& value) {
  size_t i = 0;
  while (i < text.size() && is_ws(text[i])) ++i;
  size_t kstart = i;
  bool esc = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (esc) {
      esc = false;
      continue;
    }
    if (c == '\\') {
      esc = true;
      continue;
    }
    if (c == '=' || c == ':' || is_ws(c)) break;
  }
  key = unescape(text.substr(kstart, i - kstart));
  while (i < text.size() && is_ws(text[i])) ++i;
  if (i < text.size() && (text[i] == '=' || text[i] == ':')) ++i;
  while (i < text.size() && is_ws(text[i])) ++i;
  value = unescape(text.substr(i));
}

std::vector<LogicalLine> parse(std::string_view text) {
  std::vector<std::string_view> phys;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      phys.push_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) phys.push_back(text.substr(start));

  std::vector<LogicalLine> out;
  for (size_t i = 0; i < phys.size(); ++i) {
    LogicalLine ll;
    ll.physical.push_back(phys[i]);
    std::string_view first = phys[i];
    size_t lead = 0;
    while (lead < first.size() && is_ws(first[lead])) ++lead;
    if (lead == first.size() || first[lead] == '#' || first[lead] == '!') {
      out.push_back(std::move(ll));  // blank or comment: never continues
      continue;
    }
    std::string joined(first.substr(lead));
    while (continues(joined) && i + 1 < phys.size()) {
      joined.pop_back();
      std::string_view next = phys[++i];
      ll.physical.push_back(next);
      size_t k = 0;
      while (k < next.size() && is_ws(next[k])) ++k;
      joined += next.substr(k);
    }
    if (continues(joined)) {  // a continuation at the end of the file
      joined.pop_back();
      ll.dangling = true;
    }
    ll.is_entry = true;
    split_entry(joined, ll.key, ll.value);
    out.push_back(std::move(ll));
  }
  return out;
}

std::string escape_key(std::string_view k) {
  std::string out;
  for (char c : k) {
    if (c == '=' || c == ':' || c == '#' || c == '!' || c == '\\' || is_ws(c)) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string escape_property_value(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  auto u_escape = [&](uint32_t unit) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = uint8_t(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\':
          out += "\\\\";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\f':
          out += "\\f";
          break;
        case '=':
        case ':':
        case '#':
        case '!':
          out += '\\';
          out += char(c);
          break;
        case ' ':
          out += i == 0 ? "\\ " : " ";
          break;
        default:
          if (c < 0x20 || c == 0x7F)
            u_escape(c);
          else
            out += char(c);
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; an invalid byte is written as U+FFFD.
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07;
    bool ok = len > 1 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char cc = uint8_t(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      cp = 0xFFFD;
      len = 1;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u_escape(0xD800 + (cp >> 10));
      u_escape(0xDC00 + (cp & 0x3FF));
    } else {
      u_escape(cp);
    }
    i += len;
  }
  return out;
}

std::string property_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

std::string merge_properties(std::string_view existing, const PropertyList& set) {
  std::map<std::string, std::string> want;
  std::vector<std::string> order;
  for (const auto& [k, v] : set) {
    if (!want.contains(k)) order.push_back(k);
    want[k] = v;
  }
  std::set<std::string> written;
  std::string out;
  for (const auto& ll : parse(existing)) {
    if (ll.is_entry && want.contains(ll.key)) {
      if (written.insert(ll.key).second)
        out += escape_key(ll.key) + "=" + escape_property_value(want[ll.key]) + "\n";
      continue;
    }
    for (auto p : ll.physical) {
      out += p;
      out += '\n';
    }
    // An empty line ends the dangling continuation, as the end of the file
    // did: the value stays, and the lines that follow stay lines of their own.
    if (ll.dangling) out += '\n';
  }
  for (const auto& k : order)
    if (!written.contains(k)) out += escape_key(k) + "=" + escape_property_value(want[k]) + "\n";
  return out;
}

std::optional<std::string> get_property(std::string_view text, std::string_view key) {
  std::optional<std::string> v;
  for (const auto& ll : parse(text))
    if (ll.is_entry && ll.key == key) v = ll.value;
  return v;
}

}  // namespace zlh::agent::game
