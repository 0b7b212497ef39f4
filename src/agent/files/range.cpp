#include "agent/files/range.hpp"

#include <limits>

#include "base/strings.hpp"

namespace zlh::agent::files {

namespace {

constexpr uint64_t kInfinite = std::numeric_limits<uint64_t>::max();

// 1*DIGIT, saturating at kInfinite; nullopt unless `s` is all digits.
std::optional<uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = uint64_t(c - '0');
    v = v > (kInfinite - d) / 10 ? kInfinite : v * 10 + d;
  }
  return v;
}

RangeResult full(uint64_t size) { return {RangeKind::kFull, {0, size == 0 ? 0 : size - 1}}; }
RangeResult unsatisfiable() { return {RangeKind::kUnsatisfiable, {0, 0}}; }

}  // namespace

RangeResult parse_range(std::optional<std::string_view> header, uint64_t size) {
  if (!header) return full(size);
  std::string_view h = strings::trim_ows(*header);
  const size_t eq = h.find('=');
  if (eq != 5) return full(size);
  for (size_t i = 0; i < 5; ++i)
    if ((h[i] | 0x20) != "bytes"[i]) return full(size);

  // range-set = 1#range-spec; empty list elements are allowed and ignored.
  std::string_view spec;
  int count = 0;
  std::string_view rest = h.substr(eq + 1);
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view element = strings::trim_ows(rest.substr(0, comma));
    if (!element.empty()) {
      spec = element;
      ++count;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (count != 1) return full(size);

  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return full(size);
  const std::string_view a = spec.substr(0, dash);
  const std::string_view b = spec.substr(dash + 1);

  if (a.empty()) {  // suffix-range: "-n"
    auto n = parse_digits(b);
    if (!n) return full(size);
    if (*n == 0 || size == 0) return unsatisfiable();
    return {RangeKind::kPartial, {*n >= size ? 0 : size - *n, size - 1}};
  }
  auto first = parse_digits(a);
  if (!first) return full(size);
  uint64_t last = kInfinite;
  if (!b.empty()) {
    auto l = parse_digits(b);
    if (!l || *l < *first) return full(size);
    last = *l;
  }
  if (*first >= size) return unsatisfiable();
  return {RangeKind::kPartial, {*first, last >= size ? size - 1 : last}};
}

std::string content_range(ByteRange range, uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(size);
}

std::string unsatisfied_content_range(uint64_t size) { return "bytes */" + std::to_string(size); }

}  // namespace zlh::agent::files
