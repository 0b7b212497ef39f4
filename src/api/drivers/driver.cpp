#include "api/drivers/driver.hpp"

#include <nlohmann/json.hpp>

#include "base/enum_names.hpp"
#include "http/client.hpp"

namespace zlh::api::drivers {

std::string_view to_string(PowerState s) {
  static constexpr EnumNames<PowerState, 3> kNames{{"running", "stopped", "missing"}};
  static_assert(kNames.covers(PowerState::kMissing));
  return kNames.name(s);
}

Result<void> check_vmid(int vmid) {
  if (vmid < kMinVmid || vmid > kMaxVmid)
    return fail(
        Error::invalid("vmid", "vmid must be between 1 and 65535, got " + std::to_string(vmid)));
  return {};
}

Result<void> check_spec(const ContainerSpec& spec) {
  if (spec.memory_mb <= 0) return fail(Error::invalid("memory_mb", "memory_mb must be positive"));
  if (spec.cpu_cores <= 0) return fail(Error::invalid("cpu_cores", "cpu_cores must be positive"));
  if (spec.disk_gb < 0) return fail(Error::invalid("disk_gb", "disk_gb must not be negative"));
  if (spec.game_port < 0 || spec.game_port > 65535)
    return fail(Error::invalid("game_port", "game_port must be a port number"));
  const AgentConfig& a = spec.agent;
  // Relative paths would be resolved against whatever directory the agent
  // happens to start in.
  // An agent without the API's key answers 401 to everything (docs/design.md §15:
  // the token is never optional).
  if (a.api_public_key_file.empty() || a.api_public_key_file.front() != '/')
    return fail(
        Error::invalid("api_public_key_file", "api_public_key_file must be an absolute path"));
  if (!a.catalog_public_key_file.empty() && a.catalog_public_key_file.front() != '/')
    return fail(
        Error::invalid("catalog_public_key_file", "catalog_public_key_file must be absolute"));
  if (!a.artifacts_url.empty() && !a.artifacts_url.starts_with("http://") &&
      !a.artifacts_url.starts_with("https://") && !a.artifacts_url.starts_with("file://"))
    return fail(
        Error::invalid("artifacts_url", "artifacts_url must be http://, https:// or file://"));
  if (a.dev_user.empty()) return fail(Error::invalid("dev_user", "dev_user must not be empty"));
  return {};
}

std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline) {
  auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
}

bool agent_healthy(const std::string& address, std::chrono::milliseconds timeout) {
  auto r = http::request("GET", "http://" + address + ":" + std::to_string(kAgentPort) + "/health",
                         {}, {}, timeout);
  if (!r || r->status != 200) return false;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  return j.is_object() && j.contains("ok") && j["ok"] == true;
}

}  // namespace zlh::api::drivers
