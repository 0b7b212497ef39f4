#include "api/store/pg_url.hpp"

#include <charconv>
#include <optional>
#include <vector>

namespace zlh::api::store {
namespace {

std::unexpected<Error> bad(const std::string& why) {
  return fail(codes::kInvalid, "store URL: " + why);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

bool valid_port(std::string_view p) {
  int v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  return ec == std::errc() && end == p.data() + p.size() && v >= 1 && v <= 65535;
}

void add(std::string& ci, std::string_view key, std::string_view value) {
  if (!ci.empty()) ci += ' ';
  ci += std::string(key) + "=" + pg_conninfo_quote(value);
}

// host[:port] list → libpq's host= and port= lists.
Result<void> parse_hosts(std::string_view hostports, std::string& ci) {
  std::string hosts, ports;
  bool any_port = false;
  const auto list = split(hostports, ',');
  for (size_t i = 0; i < list.size(); ++i) {
    std::string_view hp = list[i], host = hp, port;
    if (hp.starts_with('[')) {
      const size_t close = hp.find(']');
      if (close == std::string_view::npos) return bad("unclosed [ in host");
      host = hp.substr(1, close - 1);
      std::string_view rest = hp.substr(close + 1);
      if (!rest.empty() && !rest.starts_with(':')) return bad("junk after ]");
      if (!rest.empty()) port = rest.substr(1);
    } else if (const size_t colon = hp.rfind(':'); colon != std::string_view::npos) {
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
    }
    auto h = decode(host);
    if (!h) return bad("bad percent-encoding in host");
    if (!port.empty() && !valid_port(port)) return bad("bad port");
    any_port = any_port || !port.empty();
    hosts += (i ? "," : "") + *h;
    ports += (i ? "," : "") + std::string(port);
  }
  if (hosts.find_first_not_of(',') != std::string::npos) add(ci, "host", hosts);
  if (any_port) add(ci, "port", ports);
  return {};
}

Result<void> parse_query(std::string_view query, PgUrl& out) {
  for (std::string_view kv : split(query, '&')) {
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    auto k = decode(kv.substr(0, eq));
    auto v = decode(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (!k || !v) return bad("bad percent-encoding in a parameter");
    if (k->empty() || k->find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
      return bad("bad parameter name");
    if (*k == "password")
      return bad("a password in the URL is refused; give it in a password file");
    if (*k == "pool") {
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out.pool);
      if (ec != std::errc() || end != v->data() + v->size() || out.pool < 1 || out.pool > 64)
        return bad("pool must be 1..64");
      continue;
    }
    add(out.conninfo, *k, *v);
  }
  return {};
}

}  // namespace

std::string pg_conninfo_quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string pg_conninfo_with_password(std::string conninfo, std::string_view password) {
  if (!conninfo.empty()) conninfo += ' ';
  return conninfo + "password=" + pg_conninfo_quote(password);
}

Result<PgUrl> pg_conninfo_from_url(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : {"postgres://", "postgresql://"})
    if (url.starts_with(scheme)) rest = url.substr(scheme.size());
  if (rest.data() == nullptr) return bad("expected postgres://…");
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest, path;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  PgUrl out;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    if (userinfo.find(':') != std::string_view::npos)
      return bad("a password in the URL is refused; give it in a password file");
    auto user = decode(userinfo);
    if (!user || user->empty()) return bad("bad user");
    authority = authority.substr(at + 1);
    if (auto h = parse_hosts(authority, out.conninfo); !h) return fail(h.error());
    add(out.conninfo, "user", *user);
  } else if (auto h = parse_hosts(authority, out.conninfo); !h) {
    return fail(h.error());
  }
  if (!path.empty()) {
    auto db = decode(path);
    if (!db) return bad("bad percent-encoding in the database name");
    add(out.conninfo, "dbname", *db);
  }
  if (auto q = parse_query(query, out); !q) return fail(q.error());
  return out;
}

}  // namespace zlh::api::store
