// Small string helpers every layer uses, locale-free (ASCII only): the
// C library's tolower/isspace depend on the process locale, and these
// compare protocol tokens (header names, schemes, cookie names).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace zlh::strings {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c | 0x20) : c; }

// HTTP's optional whitespace: space and horizontal tab (RFC 9110 §5.6.3).
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

// ASCII whitespace: space, \t, \n, \v, \f, \r.
constexpr bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// `s` without OWS (space, tab) at either end: header values and parameters.
constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// `s` without ASCII whitespace at either end: file contents, config values.
constexpr std::string_view trim_space(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// An ASCII-lowercased copy.
inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace zlh::strings
