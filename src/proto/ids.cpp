#include "proto/ids.hpp"

namespace zlh::proto {
namespace {

constexpr bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
constexpr bool alnum(char c) { return lower_or_digit(c) || (c >= 'A' && c <= 'Z'); }

}  // namespace

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 32 || !lower_or_digit(s[0])) return false;
  for (char c : s)
    if (!(lower_or_digit(c) || c == '_' || c == '-')) return false;
  return true;
}

bool valid_version(std::string_view s) {
  if (s.empty() || s.size() > 64 || !alnum(s[0])) return false;
  for (char c : s)
    if (!(alnum(c) || c == '.' || c == '+' || c == '_' || c == '-')) return false;
  return s.find("..") == std::string_view::npos;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace zlh::proto
