#include "api/drivers/local/local_record.hpp"

#include <nlohmann/json.hpp>

namespace zlh::api::drivers {

using nlohmann::json;

std::string to_json(const LocalRecord& r) {
  json j = {{"vmid", r.vmid},
            {"type", r.spec.type},
            {"memory_mb", r.spec.memory_mb},
            {"cpu_cores", r.spec.cpu_cores},
            {"agent",
             {{"api_public_key_file", r.spec.agent.api_public_key_file},
              {"catalog_public_key_file", r.spec.agent.catalog_public_key_file},
              {"artifacts_url", r.spec.agent.artifacts_url},
              {"dev_user", r.spec.agent.dev_user}}},
            {"agent_pid", r.agent_pid},
            {"agent_start_time", r.agent_start_time},
            {"boot_id", r.boot_id},
            {"created_at", r.created_at}};
  return j.dump(2) + "\n";
}

Result<LocalRecord> parse_record(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return fail(Error::invalid("record", "zlh-local.json is not a JSON object"));
  LocalRecord r;
  auto int_field = [&](const char* k, auto& out, bool required) -> Result<void> {
    if (!j.contains(k)) {
      if (required) return fail(Error::invalid(k, std::string("zlh-local.json: missing ") + k));
      return {};
    }
    if (!j[k].is_number_integer())
      return fail(Error::invalid(k, std::string("zlh-local.json: ") + k + " is not an integer"));
    out = j[k].get<std::remove_reference_t<decltype(out)>>();
    return {};
  };
  auto str_field = [&](const json& o, const char* k, std::string& out,
                       bool required) -> Result<void> {
    if (!o.contains(k)) {
      if (required) return fail(Error::invalid(k, std::string("zlh-local.json: missing ") + k));
      return {};
    }
    if (!o[k].is_string())
      return fail(Error::invalid(k, std::string("zlh-local.json: ") + k + " is not a string"));
    out = o[k].get<std::string>();
    return {};
  };
  if (auto e = int_field("vmid", r.vmid, true); !e) return fail(e.error());
  std::string type;
  if (auto e = str_field(j, "type", type, true); !e) return fail(e.error());
  auto parsed = parse_container_type(type);
  if (!parsed) return fail(Error::invalid("type", "zlh-local.json: type must be dev or game"));
  r.spec.type = *parsed;
  if (auto e = int_field("memory_mb", r.spec.memory_mb, false); !e) return fail(e.error());
  if (auto e = int_field("cpu_cores", r.spec.cpu_cores, false); !e) return fail(e.error());
  if (auto e = int_field("agent_pid", r.agent_pid, false); !e) return fail(e.error());
  if (auto e = int_field("agent_start_time", r.agent_start_time, false); !e) return fail(e.error());
  if (auto e = str_field(j, "boot_id", r.boot_id, false); !e) return fail(e.error());
  if (auto e = str_field(j, "created_at", r.created_at, false); !e) return fail(e.error());
  if (j.contains("agent")) {
    const json& a = j["agent"];
    if (!a.is_object())
      return fail(Error::invalid("agent", "zlh-local.json: agent is not an object"));
    AgentConfig& c = r.spec.agent;
    if (auto e = str_field(a, "api_public_key_file", c.api_public_key_file, false); !e)
      return fail(e.error());
    if (auto e = str_field(a, "catalog_public_key_file", c.catalog_public_key_file, false); !e)
      return fail(e.error());
    if (auto e = str_field(a, "artifacts_url", c.artifacts_url, false); !e) return fail(e.error());
    if (auto e = str_field(a, "dev_user", c.dev_user, false); !e) return fail(e.error());
  }
  return r;
}

}  // namespace zlh::api::drivers
