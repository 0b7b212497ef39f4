#include "proto/payload.hpp"

#include <set>

#include "proto/ids.hpp"

namespace zlh::payload {
namespace {
using nlohmann::json;

std::unexpected<Error> bad(std::string field, std::string msg) {
  return std::unexpected(Error::invalid(field, "field \"" + field + "\": " + msg));
}

bool valid_world(std::string_view s) {
  if (s.empty() || s.size() > 64 || !std::isalnum(uint8_t(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(uint8_t(c)) || c == '_' || c == '-' || c == '.')) return false;
  return s.find("..") == std::string_view::npos;
}

bool valid_property_key(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(std::islower(uint8_t(s[0])) || std::isdigit(uint8_t(s[0]))))
    return false;
  for (char c : s)
    if (!(std::islower(uint8_t(c)) || std::isdigit(uint8_t(c)) || c == '-' || c == '.'))
      return false;
  return true;
}

Result<std::string> get_string(const json& j, const std::string& k, bool required) {
  auto it = j.find(k);
  if (it == j.end()) {
    if (required) return bad(k, "is required");
    return std::string();
  }
  if (!it->is_string()) return bad(k, "must be a string");
  return it->get<std::string>();
}

Result<std::optional<int64_t>> get_int(const json& j, const std::string& k) {
  auto it = j.find(k);
  if (it == j.end()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return bad(k, "must be an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX))
    return bad(k, "out of range");
  return std::optional<int64_t>(it->get<int64_t>());
}

Result<std::optional<bool>> get_bool(const json& j, const std::string& k) {
  auto it = j.find(k);
  if (it == j.end()) return std::optional<bool>();
  if (!it->is_boolean()) return bad(k, "must be true or false");
  return std::optional<bool>(it->get<bool>());
}
}  // namespace

json Payload::to_json() const {
  json j = {{"vmid", vmid},
            {"container_type", std::string(to_string(container_type))},
            {"memory_mb", memory_mb}};
  if (!catalog_sha256.empty()) j["catalog_sha256"] = catalog_sha256;
  switch (container_type) {
    case ContainerType::kDev:
      j["runtime"] = runtime;
      j["version"] = version;
      j["enable_code_server"] = enable_code_server;
      break;
    case ContainerType::kGame:
      j["game"] = game;
      j["variant"] = variant;
      j["version"] = version;
      j["world"] = world;
      j["ports"] = ports;
      j["eula"] = eula;
      j["properties"] = properties;
      break;
  }
  return j;
}

namespace {

// vmid: required, not negative, and the agent's own when it checks.
Result<void> parse_vmid(const json& j, std::optional<int64_t> agent_vmid, Payload& p) {
  auto vmid = get_int(j, "vmid");
  if (!vmid) return fail(vmid.error());
  if (!*vmid) return bad("vmid", "is required");
  if (**vmid < 0) return bad("vmid", "must not be negative");
  if (agent_vmid && **vmid != *agent_vmid)
    return bad("vmid", "is " + std::to_string(**vmid) + " but this container is " +
                           std::to_string(*agent_vmid));
  p.vmid = **vmid;
  return {};
}

// catalog_sha256 (optional) and version (required).
Result<void> parse_catalog_version(const json& j, Payload& p) {
  auto cat = get_string(j, "catalog_sha256", false);
  if (!cat) return fail(cat.error());
  if (!cat->empty() && !proto::is_hex64(*cat))
    return bad("catalog_sha256", "must be 64 lowercase hex digits");
  p.catalog_sha256 = *cat;

  auto version = get_string(j, "version", true);
  if (!version) return fail(version.error());
  if (!proto::valid_version(*version)) return bad("version", "is not a valid version string");
  p.version = *version;
  return {};
}

// A dev container's fields: runtime and enable_code_server.
Result<void> parse_dev(const json& j, Payload& p) {
  auto rt = get_string(j, "runtime", true);
  if (!rt) return fail(rt.error());
  if (!proto::valid_id(*rt)) return bad("runtime", "must match [a-z0-9][a-z0-9_-]{0,31}");
  p.runtime = *rt;
  auto cs = get_bool(j, "enable_code_server");
  if (!cs) return fail(cs.error());
  p.enable_code_server = cs->value_or(false);
  return {};
}

// game, variant and world.
Result<void> parse_game_ids(const json& j, Payload& p) {
  for (const char* k : {"game", "variant"}) {
    auto v = get_string(j, k, true);
    if (!v) return fail(v.error());
    if (!proto::valid_id(*v)) return bad(k, "must match [a-z0-9][a-z0-9_-]{0,31}");
    (std::string_view(k) == "game" ? p.game : p.variant) = *v;
  }
  auto world = get_string(j, "world", false);
  if (!world) return fail(world.error());
  p.world = world->empty() ? "world" : *world;
  if (!valid_world(p.world)) return bad("world", "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
  return {};
}

// ports: name → port; "game" defaults to 25565.
Result<void> parse_ports(const json& j, Payload& p) {
  if (auto it = j.find("ports"); it != j.end()) {
    if (!it->is_object()) return bad("ports", "must be an object of name → port");
    for (auto pit = it->begin(); pit != it->end(); ++pit) {
      std::string f = "ports." + pit.key();
      if (!proto::valid_id(pit.key()))
        return bad(f, "port name must match [a-z0-9][a-z0-9_-]{0,31}");
      if (!pit->is_number_integer()) return bad(f, "must be an integer");
      int64_t port = pit->get<int64_t>();
      if (port < 1 || port > 65535) return bad(f, "must be between 1 and 65535");
      p.ports[pit.key()] = port;
    }
  }
  if (!p.ports.contains("game")) p.ports["game"] = 25565;
  return {};
}

// properties: server.properties lines; the ports are not set here.
Result<void> parse_properties(const json& j, Payload& p) {
  auto it = j.find("properties");
  if (it == j.end()) return {};
  if (!it->is_object()) return bad("properties", "must be an object");
  if (it->size() > 200) return bad("properties", "has more than 200 entries");
  for (auto pit = it->begin(); pit != it->end(); ++pit) {
    std::string f = "properties." + pit.key();
    if (!valid_property_key(pit.key())) return bad(f, "invalid server.properties key");
    if (pit.key() == "server-port" || pit.key() == "query.port")
      return bad(f, "is set from \"ports\", not from properties");
    if (pit->is_string()) {
      const auto s = pit->get<std::string>();
      if (s.size() > 1024 || s.find_first_of("\r\n") != std::string::npos ||
          s.find('\0') != std::string::npos)
        return bad(f, "must be a single line of at most 1024 bytes");
    } else if (!pit->is_boolean() && !pit->is_number()) {
      return bad(f, "must be a string, number or boolean");
    }
  }
  p.properties = *it;
  return {};
}

// eula: must be true (E_EULA_REQUIRED otherwise).
Result<void> parse_eula(const json& j, Payload& p) {
  auto eula = get_bool(j, "eula");
  if (!eula) return fail(eula.error());
  if (!eula->value_or(false)) {
    Error e = Error::make(
        codes::kEulaRequired,
        "the Minecraft EULA must be accepted (\"eula\": true) before the server is installed");
    e.field = "eula";
    return std::unexpected(e);
  }
  p.eula = true;
  return {};
}

// A game container's fields, in the order they are checked.
Result<void> parse_game(const json& j, Payload& p) {
  if (auto r = parse_game_ids(j, p); !r) return r;
  if (auto r = parse_ports(j, p); !r) return r;
  if (auto r = parse_properties(j, p); !r) return r;
  return parse_eula(j, p);
}

}  // namespace

Result<Payload> validate_payload(const json& j, std::optional<int64_t> agent_vmid) {
  if (!j.is_object())
    return std::unexpected(Error::invalid("payload", "payload must be a JSON object"));
  Payload p;

  auto ct = get_string(j, "container_type", true);
  if (!ct) return fail(ct.error());
  auto type = parse_container_type(*ct);
  if (!type) return bad("container_type", "must be \"dev\" or \"game\"");
  p.container_type = *type;

  static const std::set<std::string> kCommon = {"vmid", "container_type", "memory_mb",
                                                "catalog_sha256"};
  static const std::set<std::string> kDev = {"runtime", "version", "enable_code_server"};
  static const std::set<std::string> kGame = {"game",  "variant", "version",   "world",
                                              "ports", "eula",    "properties"};
  const auto& allowed = p.container_type == ContainerType::kDev ? kDev : kGame;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kCommon.contains(it.key()) && !allowed.contains(it.key()))
      // An empty key still gets a name the client can read (fuzz: payload).
      return bad(it.key().empty() ? "(empty name)" : it.key(),
                 "unknown field for container_type \"" + *ct + "\"");

  if (auto r = parse_vmid(j, agent_vmid, p); !r) return fail(r.error());

  auto mem = get_int(j, "memory_mb");
  if (!mem) return fail(mem.error());
  p.memory_mb = mem->value_or(p.container_type == ContainerType::kDev ? 1024 : 2048);
  if (p.memory_mb < kMinMemoryMb || p.memory_mb > kMaxMemoryMb)
    return bad("memory_mb", "must be between " + std::to_string(kMinMemoryMb) + " and " +
                                std::to_string(kMaxMemoryMb));

  if (auto r = parse_catalog_version(j, p); !r) return fail(r.error());

  switch (p.container_type) {
    case ContainerType::kDev:
      if (auto r = parse_dev(j, p); !r) return fail(r.error());
      return p;
    case ContainerType::kGame:
      if (auto r = parse_game(j, p); !r) return fail(r.error());
      return p;
  }
  return p;
}

Result<Payload> parse_payload(std::string_view text, std::optional<int64_t> agent_vmid) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return std::unexpected(Error::invalid("payload", "body is not valid JSON"));
  return validate_payload(j, agent_vmid);
}

}  // namespace zlh::payload
