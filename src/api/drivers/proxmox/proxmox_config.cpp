#include "api/drivers/proxmox/proxmox_config.hpp"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cctype>
#include <cstdlib>
#include <set>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/toml_file.hpp"

namespace zlh::api::drivers {

namespace {

Result<void> bad(const std::string& key, const std::string& msg) {
  return std::unexpected(Error::invalid(key, "proxmox config: " + msg));
}

// Reads one typed key; absent keys leave `out` as it is.
template <typename T>
Result<void> get(const toml::table& t, const std::string& prefix, const std::string& key, T& out) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  const std::string name = prefix + key;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!n->is_string()) return bad(name, "\"" + name + "\" must be a string");
    out = *n->value<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!n->is_boolean()) return bad(name, "\"" + name + "\" must be true or false");
    out = *n->value<bool>();
  } else {
    if (!n->is_integer()) return bad(name, "\"" + name + "\" must be an integer");
    int64_t v = *n->value<int64_t>();
    if (v < 0 || v > 1'000'000'000) return bad(name, "\"" + name + "\" is out of range");
    out = static_cast<T>(v);
  }
  return {};
}

Result<void> only_keys(const toml::table& t, const std::string& prefix,
                       const std::set<std::string>& allowed) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    if (!allowed.count(key)) return bad(prefix + key, "unknown key \"" + prefix + key + "\"");
  }
  return {};
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = char(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<int> ProxmoxConfig::template_for(const std::string& node) const {
  if (auto it = templates.find(node); it != templates.end()) return it->second;
  if (auto it = templates.find("*"); it != templates.end()) return it->second;
  return std::nullopt;
}

Result<void> check_token(const std::string& token) {
  auto at = token.find('@');
  auto bang = token.find('!');
  auto eq = token.find('=');
  if (at == std::string::npos || bang == std::string::npos || eq == std::string::npos || at == 0 ||
      bang < at + 2 || eq < bang + 2 || eq + 1 >= token.size())
    return std::unexpected(
        Error::invalid("token", "the Proxmox token must look like USER@REALM!TOKENID=SECRET"));
  for (char c : token)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return std::unexpected(
          Error::invalid("token", "the Proxmox token holds whitespace or control characters"));
  return {};
}

Result<std::array<uint8_t, 32>> parse_fingerprint(const std::string& text) {
  std::string s = std::string(strings::trim_space(text));
  if (s.size() > 7 && (s.starts_with("sha256 ") || s.starts_with("SHA256 ")))
    s = std::string(strings::trim_space(s.substr(7)));
  std::string digits;
  for (char c : s)
    if (c != ':') digits += c;
  std::array<uint8_t, 32> out{};
  if (digits.size() != 64)
    return std::unexpected(Error::invalid(
        "fingerprint", "fingerprint: expected the 32-byte SHA-256 as hex, e.g. AB:CD:…"));
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex(digits[2 * i]), lo = hex(digits[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::unexpected(Error::invalid("fingerprint", "fingerprint: not hex"));
    out[i] = uint8_t(hi * 16 + lo);
  }
  return out;
}

namespace {

// The file parsed; E_NOT_FOUND when missing, E_INVALID with the line and
// column of a syntax error.
Result<toml::table> read_toml(const std::string& path) {
  return zlh::config::load_toml_file(path, "proxmox-config", "proxmox config");
}

// The top-level keys (the tables apart); `token_file` is read last.
Result<void> read_top_level(const toml::table& t, ProxmoxConfig& c, std::string& token_file) {
  if (auto r = only_keys(t, "",
                         {"url", "token_file", "tls_verify", "ca_file", "fingerprint", "nodes",
                          "storage", "pool", "clones_per_node", "task_timeout_s", "lock_retries",
                          "lock_backoff_ms", "poll_ms", "templates", "bridges", "limits"});
      !r)
    return fail(r.error());
  std::string fingerprint;
  int64_t task_timeout_s = 600, lock_backoff_ms = 500, poll_ms = 500;
  for (auto r :
       {get(t, "", "url", c.url), get(t, "", "token_file", token_file),
        get(t, "", "tls_verify", c.tls_verify), get(t, "", "ca_file", c.ca_file),
        get(t, "", "fingerprint", fingerprint), get(t, "", "storage", c.storage),
        get(t, "", "pool", c.pool), get(t, "", "clones_per_node", c.clones_per_node),
        get(t, "", "task_timeout_s", task_timeout_s), get(t, "", "lock_retries", c.lock_retries),
        get(t, "", "lock_backoff_ms", lock_backoff_ms), get(t, "", "poll_ms", poll_ms)})
    if (!r) return fail(r.error());
  while (!c.url.empty() && c.url.back() == '/') c.url.pop_back();
  if (c.url.ends_with("/api2/json")) c.url.resize(c.url.size() - 10);
  if (!c.url.starts_with("https://") && !c.url.starts_with("http://"))
    return fail(bad("url", "\"url\" must be https://host:8006 (http:// only for tests)").error());
  if (c.clones_per_node < 1 || c.clones_per_node > 64)
    return fail(bad("clones_per_node", "clones_per_node: 1..64").error());
  if (task_timeout_s < 1)
    return fail(bad("task_timeout_s", "task_timeout_s must be at least 1").error());
  if (c.lock_retries < 1 || c.lock_retries > 100)
    return fail(bad("lock_retries", "lock_retries: 1..100").error());
  if (poll_ms < 10 || poll_ms > 60000) return fail(bad("poll_ms", "poll_ms: 10..60000").error());
  c.task_timeout = std::chrono::seconds(task_timeout_s);
  c.lock_backoff = std::chrono::milliseconds(lock_backoff_ms);
  c.poll = std::chrono::milliseconds(poll_ms);
  if (!fingerprint.empty()) {
    auto fp = parse_fingerprint(fingerprint);
    if (!fp) return fail(fp.error());
    c.fingerprint = *fp;
  }
  struct stat st {};
  if (!c.ca_file.empty() && ::stat(c.ca_file.c_str(), &st) != 0)
    return fail(bad("ca_file", "ca_file " + c.ca_file + ": no such file").error());
  return {};
}

// The nodes clones may go to, and the template of each node.
Result<void> read_nodes(const toml::table& t, ProxmoxConfig& c) {
  if (const toml::node* n = t.get("nodes")) {
    if (!n->is_array())
      return fail(bad("nodes", "\"nodes\" must be an array of node names").error());
    for (const auto& e : *n->as_array()) {
      if (!e.is_string() || e.value<std::string>()->empty())
        return fail(bad("nodes", "\"nodes\" must be an array of node names").error());
      c.nodes.push_back(*e.value<std::string>());
    }
  }
  if (const toml::node* n = t.get("templates")) {
    if (!n->is_table())
      return fail(bad("templates", "[templates] must be a table of node = vmid").error());
    for (auto&& [k, v] : *n->as_table()) {
      if (!v.is_integer() || *v.value<int64_t>() < 100 || *v.value<int64_t>() > 999999999)
        return fail(bad("templates." + std::string(k.str()),
                        "templates." + std::string(k.str()) + " must be a vmid (100..999999999)")
                        .error());
      c.templates[std::string(k.str())] = int(*v.value<int64_t>());
    }
  }
  if (c.templates.empty())
    return fail(bad("templates", "[templates] needs at least one node (or \"*\")").error());
  return {};
}

// [bridges]: the bridge of each container type.
Result<void> read_bridges(const toml::table& t, ProxmoxConfig& c) {
  if (const toml::node* n = t.get("bridges")) {
    if (!n->is_table()) return fail(bad("bridges", "[bridges] must be a table").error());
    const auto& b = *n->as_table();
    if (auto r = only_keys(b, "bridges.", {"dev", "game"}); !r) return fail(r.error());
    for (const char* k : {"dev", "game"})
      if (auto r = get(b, "bridges.", k, c.bridges[k]); !r) return fail(r.error());
  }
  for (const auto& [k, v] : c.bridges)
    if (v.empty() || v.find_first_of(",= ") != std::string::npos)
      return fail(
          bad("bridges." + k, "bridges." + k + " must be a bridge name like vmbr1").error());
  return {};
}

// [limits]: cores and memory, their defaults and maxima.
Result<void> read_limits(const toml::table& t, ProxmoxConfig& c) {
  if (const toml::node* n = t.get("limits")) {
    if (!n->is_table()) return fail(bad("limits", "[limits] must be a table").error());
    const auto& l = *n->as_table();
    if (auto r = only_keys(l, "limits.",
                           {"cores_default", "cores_max", "memory_mb_default", "memory_mb_max"});
        !r)
      return fail(r.error());
    for (auto r : {get(l, "limits.", "cores_default", c.limits.cores_default),
                   get(l, "limits.", "cores_max", c.limits.cores_max),
                   get(l, "limits.", "memory_mb_default", c.limits.memory_mb_default),
                   get(l, "limits.", "memory_mb_max", c.limits.memory_mb_max)})
      if (!r) return fail(r.error());
  }
  const Limits& L = c.limits;
  if (L.cores_max < 1 || L.cores_default < 1 || L.cores_default > L.cores_max)
    return fail(bad("limits", "limits: need 1 <= cores_default <= cores_max").error());
  if (L.memory_mb_max < 256 || L.memory_mb_default < 256 || L.memory_mb_default > L.memory_mb_max)
    return fail(bad("limits", "limits: need 256 <= memory_mb_default <= memory_mb_max").error());
  return {};
}

// The token: a file (one line) or the environment; never a flag or a key.
Result<void> read_token(const std::string& token_file, ProxmoxConfig& c) {
  if (!token_file.empty()) {
    auto text = fs::read_file(token_file, 4096);
    if (!text)
      return fail(codes::kInvalid,
                  "proxmox token_file " + token_file + ": " + text.error().message);
    c.token = std::string(strings::trim_space(*text));
  } else if (const char* env = std::getenv(kProxmoxTokenEnv); env && *env) {
    c.token = std::string(strings::trim_space(env));
  } else {
    return std::unexpected(Error::invalid(
        "token_file", "proxmox config: set token_file or " + std::string(kProxmoxTokenEnv)));
  }
  return check_token(c.token);
}

}  // namespace

Result<ProxmoxConfig> load_proxmox_config(const std::string& path) {
  auto t = read_toml(path);
  if (!t) return fail(t.error());
  ProxmoxConfig c;
  c.storage = "local-lvm";
  c.bridges = {{"dev", "vmbr0"}, {"game", "vmbr0"}};
  std::string token_file;
  if (auto r = read_top_level(*t, c, token_file); !r) return fail(r.error());
  if (auto r = read_nodes(*t, c); !r) return fail(r.error());
  if (auto r = read_bridges(*t, c); !r) return fail(r.error());
  if (auto r = read_limits(*t, c); !r) return fail(r.error());
  if (auto r = read_token(token_file, c); !r) return fail(r.error());
  c.token_id = c.token.substr(0, c.token.find('='));
  return c;
}

}  // namespace zlh::api::drivers
