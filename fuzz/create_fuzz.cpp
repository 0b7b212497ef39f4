// The API's create body (POST /api/servers), as the handler hands it to
// parse_create_request (api/servers/create_request.hpp) with a fixed
// catalog and one of three sets of driver limits (the last input byte).
//
// Invariants: no exception escapes; an error is E_INVALID naming a field or
// E_EULA_REQUIRED; an accepted body gives a stored payload that is a JSON
// object with sizes inside the limits and the catalog's runtime/game
// versions, and the payload.json the job runner builds from it is accepted
// by the agent's own rules (proto/payload.hpp): nothing the API accepts is
// refused later at the provision step. Parsing is deterministic.
#include "api/servers/create_request.hpp"
#include "fuzz_input.hpp"
#include "proto/payload.hpp"

namespace {

using namespace zlh;
using namespace zlh::api;

catalog::Entry entry(std::string v) {
  catalog::Entry e;
  e.version = std::move(v);
  e.channel = "stable";
  return e;
}

const catalog::Catalog& test_catalog() {
  static const catalog::Catalog c = [] {
    catalog::Catalog c;
    catalog::Item node;
    node.id = "node";
    node.versions = {entry("20.18.0"), entry("22.11.0")};
    catalog::Item python;
    python.id = "python";
    python.versions = {entry("3.12.7")};
    c.runtimes = {node, python};
    catalog::Item cs;
    cs.id = "code-server";
    cs.versions = {entry("4.139.1")};
    c.addons = {cs};
    catalog::Game mc;
    mc.id = "minecraft";
    catalog::Variant vanilla;
    vanilla.id = "vanilla";
    vanilla.versions = {entry("1.21.4")};
    catalog::Variant paper;
    paper.id = "paper";
    paper.versions = {entry("1.21.4"), entry("1.20.6")};
    mc.variants = {vanilla, paper};
    c.games = {mc};
    return c;
  }();
  return c;
}

drivers::Limits limits(uint8_t choice) {
  drivers::Limits l;      // local/proxmox defaults
  if (choice % 3 == 1) {  // lxc-like: sized disks, code-server minimum
    l.disk_gb_default = 4;
    l.disk_gb_max = 64;
    l.disk_gb_min_code_server = 3;
    l.memory_mb_max = 16384;
    l.cores_max = 2;
  } else if (choice % 3 == 2) {  // operator defaults set
    l.cores_default = 2;
    l.memory_mb_default = 4096;
    l.memory_mb_max = 1 << 30;  // above the agent's own ceiling
  }
  return l;
}

constexpr std::string_view kSha =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const drivers::Limits lim = limits(size ? data[size - 1] : 0);
  const auto& cat = test_catalog();
  Result<store::NewServer> r = fail(codes::kInternal, "not run");
  try {
    r = api::servers::parse_create_request(text, lim, cat, kSha);
  } catch (const std::exception& e) {
    fuzz::broken("parse_create_request threw", e.what());
  }
  if (!r) {
    const auto& e = r.error();
    ZLH_FUZZ_CHECK(e.is(codes::kInvalid) || e.is(codes::kEulaRequired), e.to_string());
    ZLH_FUZZ_CHECK(e.is(codes::kEulaRequired) || !e.field.empty(), e.to_string());
    return 0;
  }
  auto again = api::servers::parse_create_request(text, lim, cat, kSha);
  ZLH_FUZZ_CHECK(again && again->payload == r->payload && again->name == r->name, r->payload);
  ZLH_FUZZ_CHECK(r->owner_id == 0 && r->quota_servers == 0, "owner and quotas are the handler's");
  ZLH_FUZZ_CHECK(r->name.size() <= api::servers::kMaxNameBytes);
  auto stored = nlohmann::json::parse(r->payload, nullptr, false);
  ZLH_FUZZ_CHECK(stored.is_object(), r->payload);
  ZLH_FUZZ_CHECK(stored["catalog_sha256"] == kSha, r->payload);
  ZLH_FUZZ_CHECK(r->memory_mb >= payload::kMinMemoryMb && r->memory_mb <= lim.memory_mb_max &&
                     stored["memory_mb"] == r->memory_mb,
                 r->payload);
  ZLH_FUZZ_CHECK(
      r->disk_gb >= 1 && r->disk_gb <= lim.disk_gb_max && stored["disk_gb"] == r->disk_gb,
      r->payload);
  const int64_t cores = stored["cpu_cores"].get<int64_t>();
  ZLH_FUZZ_CHECK(cores >= 1 && cores <= lim.cores_max, r->payload);
  const bool dev = r->type == store::ServerType::kDev;
  std::optional<int> port;
  if (dev) {
    ZLH_FUZZ_CHECK(r->hostname_prefix == "dev-" && r->port_count == 0);
    const auto* rt = cat.runtime(stored["runtime"].get<std::string>());
    ZLH_FUZZ_CHECK(rt && rt->find(stored["version"].get<std::string>()), r->payload);
    if (stored["enable_code_server"] == true && lim.disk_gb_min_code_server > 0)
      ZLH_FUZZ_CHECK(r->disk_gb >= lim.disk_gb_min_code_server, r->payload);
  } else {
    ZLH_FUZZ_CHECK(r->port_count == 1 &&
                   r->hostname_prefix == "mc-" + stored["variant"].get<std::string>() + "-");
    const auto* g = cat.game(stored["game"].get<std::string>());
    const auto* v = g ? g->find(stored["variant"].get<std::string>()) : nullptr;
    ZLH_FUZZ_CHECK(v && v->find(stored["version"].get<std::string>()), r->payload);
    ZLH_FUZZ_CHECK(stored["eula"] == true, r->payload);
    port = 25565;
  }
  // The job runner's payload.json for this server: the agent accepts it.
  auto agent = api::servers::agent_payload(stored, 6001, r->type, port);
  auto p = payload::validate_payload(agent, 6001);
  ZLH_FUZZ_CHECK(p, agent.dump() + " → " + p.error().to_string());
  ZLH_FUZZ_CHECK(p->memory_mb == r->memory_mb);
  return 0;
}
