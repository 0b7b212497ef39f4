// The IDE's public origin (--ide-origin; docs/ide.md): where a browser
// reaches /dev/<vmid>/ide/ and /dev/<vmid>/port/<n>/, never the portal's.
//
// "http(s)://HOST[:PORT]" with no path, where HOST may hold "{vmid}" once:
// "http://{vmid}.localhost:8081" or "https://{vmid}.ide.example.com" give
// every server an origin of its own (one wildcard DNS record and
// certificate). A fixed host is allowed where wildcard DNS is impossible;
// then every server shares one origin, which is weaker (docs/ide.md).
//
// Thread-safety: immutable after parse().
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api {

class IdeOrigin {
 public:
  // E_INVALID (field "ide-origin") for anything else, and when the host is
  // the portal's (`public_url`) or below it: cookies are scoped by host, and
  // a subdomain could set cookies the portal receives.
  static Result<IdeOrigin> parse(std::string_view url, std::string_view public_url);

  bool per_server() const { return per_server_; }
  bool secure() const { return secure_; }
  // "http://6001.localhost:8081": what browsers send as Origin.
  std::string origin(int vmid) const;
  // "6001.localhost:8081": the Host header that origin's requests carry.
  std::string host(int vmid) const;
  // Whether a request's Host header names vmid's origin (case-insensitive;
  // the scheme's default port may be written or not).
  bool host_matches(std::string_view host_header, int vmid) const;
  // The template as configured, for logs.
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string scheme_;       // "http" | "https"
  std::string host_before_;  // host text before "{vmid}" (lower case)
  std::string host_after_;   // after it (all of it when not per server)
  std::string port_;         // "" or ":8081"
  bool per_server_ = false;
  bool secure_ = false;
};

}  // namespace zlh::api
