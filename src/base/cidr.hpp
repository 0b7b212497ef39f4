// A set of address ranges ("10.0.0.0/8,192.168.1.10,fd00::/8"), for
// --trusted-proxies: whose X-Forwarded-For counts (docs/security.md).
// Thread-safety: immutable after parse().
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::net {

class CidrSet {
 public:
  // Comma-separated CIDRs or single addresses, IPv4 or IPv6; "" is empty.
  // E_INVALID naming the bad entry.
  static Result<CidrSet> parse(std::string_view list);
  bool empty() const { return ranges_.empty(); }
  // Whether `ip` (a literal; IPv4-mapped IPv6 counts as its IPv4) is inside.
  bool contains(std::string_view ip) const;

 private:
  struct Range {
    std::array<uint8_t, 16> net{};
    int bits = 0;  // prefix length over the 16 bytes (IPv4 as ::ffff:a.b.c.d/96+n)
  };
  std::vector<Range> ranges_;
};

// The client of a request that came through `peer`: `peer` itself unless it
// is trusted and X-Forwarded-For is given; then, walking the header from the
// right, the first address that is not trusted (the leftmost when all are).
// Entries that are not IP literals end the walk (the peer is kept then).
std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const CidrSet& trusted);

}  // namespace zlh::net
