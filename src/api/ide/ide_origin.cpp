#include "api/ide/ide_origin.hpp"

#include <algorithm>
#include <cctype>

#include "base/strings.hpp"
#include "http/http.hpp"

namespace zlh::api {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

// A DNS name or an IPv4 literal: letters, digits, '-' and '.', no empty label.
bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.back() == '.') return false;
  size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    if (++label > 63) return false;
  }
  return true;
}

// The host of an "http(s)://host[:port][/...]" URL, lower case, no port.
std::string url_host(std::string_view url) {
  auto p = url.find("://");
  if (p == std::string_view::npos) return {};
  url.remove_prefix(p + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (url.starts_with('[')) return lower(url.substr(0, url.find(']') + 1));
  return lower(url.substr(0, url.find(':')));
}

}  // namespace

Result<IdeOrigin> IdeOrigin::parse(std::string_view url, std::string_view public_url) {
  auto bad = [&](const std::string& why) -> Result<IdeOrigin> {
    return std::unexpected(
        Error::invalid("ide-origin", "--ide-origin " + std::string(url) + ": " + why));
  };
  IdeOrigin o;
  o.text_ = std::string(url);
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    o.scheme_ = "https";
    o.secure_ = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    o.scheme_ = "http";
    rest.remove_prefix(7);
  } else {
    return bad("must start with http:// or https://");
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    return bad("an origin only: scheme, host and port, no path, query or user");
  std::string_view host = rest;
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    std::string_view port = rest.substr(colon + 1);
    int n = 0;
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        (n = std::stoi(std::string(port))) < 1 || n > 65535)
      return bad("bad port");
    o.port_ = ":" + std::to_string(n);
  }
  const std::string h = lower(host);
  const auto at = h.find("{vmid}");
  if (at != std::string::npos) {
    if (h.find("{vmid}", at + 1) != std::string::npos) return bad("{vmid} may appear once");
    o.per_server_ = true;
    o.host_before_ = h.substr(0, at);
    o.host_after_ = h.substr(at + 6);
  } else {
    o.host_after_ = h;
  }
  const std::string sample = o.host_before_ + (o.per_server_ ? "6000" : "") + o.host_after_;
  if (!valid_host(sample)) return bad("not a host name");
  const std::string portal = url_host(public_url);
  if (!portal.empty() && (sample == portal || sample.ends_with("." + portal)))
    return bad(
        "must not be the portal's host (" + portal +
        ") or below it: cookies are scoped by host, and the IDE must never share the portal's");
  return o;
}

std::string IdeOrigin::host(int vmid) const {
  std::string h = host_before_;
  if (per_server_) h += std::to_string(vmid);
  h += host_after_;
  h += port_;
  return h;
}

std::string IdeOrigin::origin(int vmid) const { return scheme_ + "://" + host(vmid); }

bool IdeOrigin::host_matches(std::string_view header, int vmid) const {
  const std::string want = host(vmid);
  if (strings::iequals(header, want)) return true;
  const std::string_view def = secure_ ? ":443" : ":80";
  if (port_.empty())
    return header.size() == want.size() + def.size() && header.ends_with(def) &&
           strings::iequals(header.substr(0, want.size()), want);
  if (port_ == def) return strings::iequals(header, want.substr(0, want.size() - def.size()));
  return false;
}

}  // namespace zlh::api
