#include "api/servers/create_request.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "api/body.hpp"
#include "proto/payload.hpp"

namespace zlh::api::servers {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 5> kGameOnly = {"game", "variant", "eula", "world",
                                                       "properties"};
constexpr std::array<std::string_view, 2> kDevOnly = {"runtime", "enable_code_server"};

Error invalid(const std::string& field, const std::string& msg) {
  return Error::invalid(field, "field \"" + field + "\": " + msg);
}

// Dev: the runtime and version from the catalog, code-server if asked for.
Result<void> dev_fields(const json& b, const drivers::Limits& lim, const catalog::Catalog& c,
                        const std::string& version, json& payload) {
  auto runtime = body::string_field(b, "runtime");
  if (!runtime) return fail(runtime.error());
  const auto* item = c.runtime(*runtime);
  if (!item) return fail(invalid("runtime", "unknown runtime \"" + *runtime + "\""));
  if (!item->find(version))
    return fail(invalid("version", *runtime + " has no version \"" + version + "\""));
  auto ecs = b.value("enable_code_server", json(false));
  if (!ecs.is_boolean()) return fail(invalid("enable_code_server", "must be a boolean"));
  // The pinned catalog must offer code-server, or nothing is provisioned
  // (the agent would only fail at the addon step).
  if (ecs.get<bool>()) {
    const auto* cs = c.addon("code-server");
    if (!cs || !cs->default_entry("stable"))
      return fail(invalid("enable_code_server", "the catalog offers no stable code-server"));
  }
  payload["runtime"] = *runtime;
  payload["version"] = version;
  payload["enable_code_server"] = ecs.get<bool>();
  // The real code-server takes about 800 MB of the disk: a default grows to
  // the minimum, an explicit smaller size is refused.
  if (ecs.get<bool>() && lim.disk_gb_min_code_server > 0 &&
      payload["disk_gb"].get<int64_t>() < lim.disk_gb_min_code_server) {
    if (b.contains("disk_gb"))
      return fail(invalid("disk_gb", "code-server needs at least " +
                                         std::to_string(lim.disk_gb_min_code_server) + " GiB"));
    payload["disk_gb"] = lim.disk_gb_min_code_server;
  }
  return {};
}

// Game: the game, variant and version from the catalog, the EULA, the world
// and server.properties overrides.
Result<void> game_fields(const json& b, const catalog::Catalog& c, const std::string& version,
                         json& payload) {
  auto game = body::string_field(b, "game");
  if (!game) return fail(game.error());
  auto variant = body::string_field(b, "variant");
  if (!variant) return fail(variant.error());
  const auto* g = c.game(*game);
  if (!g) return fail(invalid("game", "unknown game \"" + *game + "\""));
  const auto* v = g->find(*variant);
  if (!v) return fail(invalid("variant", "unknown variant \"" + *variant + "\""));
  if (!v->find(version))
    return fail(invalid("version", *variant + " has no version \"" + version + "\""));
  auto eula = b.value("eula", json(false));
  if (!eula.is_boolean() || !eula.get<bool>())
    return fail(
        Error::make(codes::kEulaRequired, "the Minecraft EULA must be accepted (\"eula\": true)"));
  auto world = body::string_field(b, "world", false);
  if (!world) return fail(world.error());
  payload["game"] = *game;
  payload["variant"] = *variant;
  payload["version"] = version;
  payload["eula"] = true;
  payload["world"] = world->empty() ? "world" : *world;
  if (b.contains("properties")) {
    if (!b["properties"].is_object()) return fail(invalid("properties", "must be an object"));
    payload["properties"] = b["properties"];
  }
  return {};
}

}  // namespace

Result<store::NewServer> parse_create_request(std::string_view text, const drivers::Limits& lim,
                                              const catalog::Catalog& c,
                                              std::string_view catalog_sha256) {
  auto b = body::object(
      text, {"type", "name", "runtime", "version", "enable_code_server", "memory_mb", "cpu_cores",
             "disk_gb", "game", "variant", "eula", "world", "properties"});
  if (!b) return fail(b.error());
  auto type_name = body::string_field(*b, "type");
  if (!type_name) return fail(type_name.error());
  auto type = store::parse_server_type(*type_name);
  if (!type) return fail(invalid("type", "must be dev or game"));
  const bool dev = *type == store::ServerType::kDev;
  auto name = body::string_field(*b, "name", false);
  if (!name) return fail(name.error());
  if (name->size() > kMaxNameBytes)
    return fail(invalid("name", "at most " + std::to_string(kMaxNameBytes) + " characters"));
  for (const auto& k : dev ? std::span<const std::string_view>(kGameOnly)
                           : std::span<const std::string_view>(kDevOnly))
    if (b->contains(k)) return fail(invalid(std::string(k), "not for a " + *type_name + " server"));
  // The driver's defaults and limits (Proxmox: proxmox.toml [limits]).
  auto memory = body::int_field(
      *b, "memory_mb", lim.memory_mb_default > 0 ? lim.memory_mb_default : (dev ? 1024 : 2048),
      payload::kMinMemoryMb, std::min<int64_t>(lim.memory_mb_max, payload::kMaxMemoryMb));
  if (!memory) return fail(memory.error());
  auto cpu = body::int_field(*b, "cpu_cores", lim.cores_default > 0 ? lim.cores_default : 1, 1,
                             lim.cores_max);
  if (!cpu) return fail(cpu.error());
  // disk_gb: sized by drivers that enforce it (lxc: the image); recorded by the others.
  auto disk = body::int_field(*b, "disk_gb", lim.disk_gb_default > 0 ? lim.disk_gb_default : 8, 1,
                              lim.disk_gb_max);
  if (!disk) return fail(disk.error());
  auto version = body::string_field(*b, "version");
  if (!version) return fail(version.error());
  json payload = {{"memory_mb", *memory},
                  {"cpu_cores", *cpu},
                  {"disk_gb", *disk},
                  {"catalog_sha256", std::string(catalog_sha256)}};
  store::NewServer ns;
  ns.type = *type;
  ns.name = *name;
  if (dev) {
    if (auto r = dev_fields(*b, lim, c, *version, payload); !r) return fail(r.error());
    ns.hostname_prefix = "dev-";
  } else {
    if (auto r = game_fields(*b, c, *version, payload); !r) return fail(r.error());
    ns.hostname_prefix = "mc-" + payload["variant"].get<std::string>() + "-";
    ns.port_count = 1;
  }
  // What the agent will be sent must pass the agent's rules now, not at the
  // provision step of a server already created (world names, property keys,
  // ids a catalog might carry). Its field names are the body's.
  auto check = agent_payload(payload, 1, ns.type,
                             dev ? std::nullopt : std::optional<int>(drivers::kGamePort));
  if (auto p = payload::validate_payload(check, std::nullopt); !p) return fail(p.error());
  ns.memory_mb = payload["memory_mb"].get<int64_t>();
  ns.disk_gb = payload["disk_gb"].get<int64_t>();
  ns.payload = payload.dump();
  return ns;
}

json agent_payload(const json& stored, int64_t vmid, store::ServerType type,
                   std::optional<int> game_port) {
  json agent = {{"vmid", vmid}, {"container_type", std::string(to_string(type))}};
  for (auto it = stored.begin(); it != stored.end(); ++it)
    if (it.key() != "cpu_cores" && it.key() != "disk_gb" && it.key() != "name")
      agent[it.key()] = it.value();
  if (type == store::ServerType::kGame && game_port) agent["ports"] = {{"game", *game_port}};
  return agent;
}

}  // namespace zlh::api::servers
