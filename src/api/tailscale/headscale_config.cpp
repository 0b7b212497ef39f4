#include "api/tailscale/headscale_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace zlh::api::tailscale {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<HeadscaleVersion> HeadscaleVersion::parse(std::string_view s) {
  auto bad = [&](std::string why) {
    return fail(Error::invalid("headscale-version",
                               "--headscale-version \"" + std::string(s) + "\": " + why));
  };
  std::string_view v = strings::trim_space(s);
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) v.remove_prefix(1);
  // A pre-release or build suffix does not change the API form.
  if (auto dash = v.find_first_of("-+"); dash != std::string_view::npos) v = v.substr(0, dash);
  auto dot = v.find('.');
  if (dot == std::string_view::npos) return bad("expected MAJOR.MINOR, e.g. 0.26");
  std::string_view maj = v.substr(0, dot), rest = v.substr(dot + 1);
  std::string_view min = rest.substr(0, rest.find('.'));
  std::string_view patch =
      rest.find('.') == std::string_view::npos ? "" : rest.substr(rest.find('.') + 1);
  if (!all_digits(maj) || !all_digits(min) || (!patch.empty() && !all_digits(patch)))
    return bad("expected MAJOR.MINOR, e.g. 0.26");
  // TOML's 0.26 (a float) reaches the flag as "0.260000".
  if (maj.size() > 3 || min.size() > 3)
    return bad(
        "not a Headscale version (in TOML write it as a string: headscale-version = \"0.26\")");
  HeadscaleVersion out;
  std::from_chars(maj.data(), maj.data() + maj.size(), out.major);
  std::from_chars(min.data(), min.data() + min.size(), out.minor);
  if (out.major == 0 && out.minor < 19) return bad("Headscale before 0.19 is not supported");
  return out;
}

Result<std::chrono::seconds> parse_key_ttl(std::string_view s) {
  auto bad = [&] {
    return fail(Error::invalid("headscale-key-ttl",
                               "--headscale-key-ttl \"" + std::string(s) +
                                   "\": expected seconds or a number with s, m, h or d, "
                                   "between 60s and 90d"));
  };
  std::string_view v = strings::trim_space(s);
  int64_t unit = 1;
  if (!v.empty() && !std::isdigit(static_cast<unsigned char>(v.back()))) {
    switch (v.back()) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return bad();
    }
    v.remove_suffix(1);
  }
  if (!all_digits(v) || v.size() > 9) return bad();
  int64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  int64_t secs = n * unit;
  if (secs < 60 || secs > 90LL * 86400) return bad();
  return std::chrono::seconds(secs);
}

Result<std::vector<std::string>> parse_acl_tags(std::string_view s) {
  std::vector<std::string> out;
  std::string_view rest = strings::trim_space(s);
  if (rest.empty()) return out;
  while (true) {
    auto comma = rest.find(',');
    std::string_view tag = strings::trim_space(rest.substr(0, comma));
    bool ok = tag.size() > 4 && tag.size() <= 64 && tag.starts_with("tag:");
    for (size_t i = 4; ok && i < tag.size(); ++i) {
      char c = tag[i];
      ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 4);
    }
    if (!ok)
      return fail(
          Error::invalid("headscale-acl-tags", "--headscale-acl-tags: \"" + std::string(tag) +
                                                   "\" is not a tag like tag:zlh-dev (lowercase)"));
    if (std::find(out.begin(), out.end(), tag) == out.end()) out.emplace_back(tag);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

Result<std::string> normalize_base_url(std::string_view s, std::string_view flag) {
  std::string f(flag);
  auto bad = [&](const std::string& why) {
    return fail(Error::invalid(f, "--" + f + " \"" + std::string(s) + "\": " + why));
  };
  std::string_view v = strings::trim_space(s);
  std::string_view rest;
  if (v.starts_with("https://"))
    rest = v.substr(8);
  else if (v.starts_with("http://"))
    rest = v.substr(7);
  else
    return bad("must start with http:// or https://");
  if (v.find_first_of("?# \t") != std::string_view::npos)
    return bad("must not have a query, fragment or spaces");
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return bad("has no host");
  if (authority.find('@') != std::string_view::npos) return bad("must not carry credentials");
  // host[:port], with [v6] allowed.
  std::string_view host = authority;
  std::string_view port;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return bad("bad IPv6 host");
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port.front() != ':') return bad("bad port");
    if (!port.empty()) port.remove_prefix(1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty() || host == "[]") return bad("has no host");
  if (authority.find(':') != std::string_view::npos && host.front() != '[' && port.empty())
    return bad("bad port");
  if (!port.empty()) {
    if (!all_digits(port) || port.size() > 5 || std::atoi(std::string(port).c_str()) < 1 ||
        std::atoi(std::string(port).c_str()) > 65535)
      return bad("bad port");
  }
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '[' ||
          c == ']' || c == ':'))
      return bad("bad host");
  std::string out(v);
  while (out.back() == '/') out.pop_back();
  return out;
}

Result<void> check_user_prefix(std::string_view s) {
  bool ok = !s.empty() && s.size() <= 32 && s[0] >= 'a' && s[0] <= 'z';
  for (char c : s)
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_');
  if (!ok)
    return fail(Error::invalid("headscale-user-prefix",
                               "--headscale-user-prefix \"" + std::string(s) +
                                   "\": 1-32 of a-z 0-9 . _ -, starting with a letter"));
  return {};
}

Result<std::string> load_api_key(const std::string& file) {
  if (!file.empty()) {
    auto text = fs::read_file(file, 4096);
    if (!text) return fail(text.error().wrap("--headscale-api-key-file"));
    std::string key(strings::trim_space(*text));
    if (key.empty())
      return fail(
          Error::invalid("headscale-api-key-file", "--headscale-api-key-file " + file + ": empty"));
    if (key.find_first_of(" \t\r\n") != std::string::npos)
      return fail(Error::invalid("headscale-api-key-file", "--headscale-api-key-file " + file +
                                                               ": more than one line or word"));
    return key;
  }
  const char* env = std::getenv(kApiKeyEnv);
  std::string key(strings::trim_space(env ? env : ""));
  ::unsetenv(kApiKeyEnv);
  if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos)
    return fail(Error::invalid(
        "headscale-api-key-file",
        "no Headscale API key: set --headscale-api-key-file or " + std::string(kApiKeyEnv)));
  return key;
}

}  // namespace zlh::api::tailscale
