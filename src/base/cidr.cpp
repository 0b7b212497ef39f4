#include "base/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "base/strings.hpp"

namespace zlh::net {

namespace {

// The 16-byte form (IPv4 as IPv4-mapped IPv6); nullopt when not a literal.
std::optional<std::array<uint8_t, 16>> to16(std::string_view ip, bool* v4 = nullptr) {
  std::string s(ip);
  std::array<uint8_t, 16> out{};
  in_addr a4{};
  if (::inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    if (v4) *v4 = true;
    return out;
  }
  in6_addr a6{};
  if (::inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    if (v4) *v4 = false;
    return out;
  }
  return std::nullopt;
}

bool in_range(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& net, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : uint8_t(0xff << (8 - bits));
    if ((a[size_t(i)] & mask) != (net[size_t(i)] & mask)) return false;
  }
  return true;
}

}  // namespace

Result<CidrSet> CidrSet::parse(std::string_view list) {
  CidrSet out;
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view e = strings::trim_ows(list.substr(i, j - i));
    i = j + 1;
    if (e.empty()) continue;
    auto slash = e.find('/');
    bool v4 = false;
    auto addr = to16(e.substr(0, slash), &v4);
    if (!addr)
      return fail(Error::invalid("trusted-proxies", "not an address or CIDR: " + std::string(e)));
    int bits = v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      std::string_view b = e.substr(slash + 1);
      auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
      if (ec != std::errc() || p != b.data() + b.size() || bits < 0 || bits > (v4 ? 32 : 128))
        return fail(Error::invalid("trusted-proxies", "bad prefix length: " + std::string(e)));
    }
    out.ranges_.push_back({*addr, v4 ? 96 + bits : bits});
  }
  return out;
}

bool CidrSet::contains(std::string_view ip) const {
  auto a = to16(strings::trim_ows(ip));
  if (!a) return false;
  for (const auto& r : ranges_)
    if (in_range(*a, r.net, r.bits)) return true;
  return false;
}

std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const CidrSet& trusted) {
  if (!forwarded_for || trusted.empty() || !trusted.contains(peer)) return std::string(peer);
  std::string_view h = *forwarded_for;
  std::string last_trusted;
  while (!h.empty()) {
    auto comma = h.rfind(',');
    std::string_view e =
        strings::trim_ows(comma == std::string_view::npos ? h : h.substr(comma + 1));
    h = comma == std::string_view::npos ? std::string_view() : h.substr(0, comma);
    if (!to16(e)) return std::string(peer);
    if (!trusted.contains(e)) return std::string(e);
    last_trusted = std::string(e);
  }
  return last_trusted.empty() ? std::string(peer) : last_trusted;
}

}  // namespace zlh::net
