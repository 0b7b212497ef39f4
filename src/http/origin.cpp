#include "http/origin.hpp"

#include <algorithm>
#include <cctype>

namespace zlh::http {

std::optional<std::string> normalized_origin(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string scheme(url.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  // Userinfo has no place in an origin; a URL carrying it is not one we compare.
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string host(authority), port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = std::string(authority.substr(0, close + 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = std::string(rest.substr(1));
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = std::string(authority.substr(0, colon));
    port = std::string(authority.substr(colon + 1));
  }
  if (host.empty()) return std::nullopt;
  if (!std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      port.size() > 5)
    return std::nullopt;
  while (port.size() > 1 && port.front() == '0') port.erase(0, 1);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port.clear();
  return scheme + "://" + host + (port.empty() ? "" : ":" + port);
}

bool origin_allowed(std::optional<std::string_view> origin, std::string_view public_url) {
  if (!origin) return true;
  auto want = normalized_origin(public_url);
  auto got = normalized_origin(*origin);
  return want && got && *want == *got;
}

}  // namespace zlh::http
