#include "api/tailscale/access.hpp"

namespace zlh::api::tailscale {

std::string headscale_user_name(std::string_view prefix, int64_t user_id) {
  return std::string(prefix) + std::to_string(user_id);
}

std::string container_hostname(int vmid) { return "dev-" + std::to_string(vmid); }

Result<void> check_server(const store::Server& s) {
  if (s.type != store::ServerType::kDev)
    return fail(codes::kConflict, "tailscale access is only offered for dev servers");
  if (s.state != store::ServerState::kReady)
    return fail(codes::kConflict,
                "the server is not ready (state " + std::string(store::to_string(s.state)) + ")");
  if (!s.vmid || s.ip.empty())
    return fail(codes::kConflict, "the server has no running container yet");
  return {};
}

nlohmann::json enable_response(const DeviceAccess& a) {
  const std::string host = container_hostname(a.vmid);
  const std::string ip_hint = "<tailscale ip of " + host + ">";
  const std::string up =
      "tailscale up --login-server " + a.login_server + " --authkey " + a.authkey;
  const std::string find_ip = "tailscale ip -4 " + host;
  const std::string ssh = "ssh dev@" + ip_hint;
  const std::string vscode =
      "VS Code: install the \"Remote - SSH\" extension, run \"Remote-SSH: Connect to Host...\" and "
      "enter dev@" +
      ip_hint;
  nlohmann::json constraints = nlohmann::json::array({
      "no MagicDNS: " + host + " does not resolve by name; use its 100.x address (" + find_ip + ")",
      "no exit nodes: the container does not route your internet traffic, and does not use an exit "
      "node",
      "no DNS takeover: the container runs tailscale with --accept-dns=false; zlh never changes "
      "your "
      "device's DNS",
  });
  std::string text = "1. On your device (shown once; the key works once and expires at " +
                     a.expiration + "):\n   " + up + "\n2. Find the container's address:\n   " +
                     find_ip + "\n3. Connect:\n   " + ssh + "\n4. " + vscode + "\n";
  return {{"server_id", a.server_id},
          {"hostname", host},
          {"login_server", a.login_server},
          {"headscale_user", a.headscale_user},
          {"device",
           {{"authkey", a.authkey},
            {"key_id", a.key_id},
            {"expires_at", a.expiration},
            {"reusable", false},
            {"ephemeral", false}}},
          {"container",
           {{"hostname", host},
            {"addon", "tailscale"},
            {"version",
             a.addon_version.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.addon_version)}}},
          {"instructions",
           {{"tailscale_up", up},
            {"find_ip", find_ip},
            {"ssh", ssh},
            {"vscode", vscode},
            {"text", text}}},
          {"constraints", constraints},
          {"shown_once", true}};
}

}  // namespace zlh::api::tailscale
