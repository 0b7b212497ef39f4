#include "agent/addons/addons.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "http/client.hpp"

namespace zlh::agent::addons {

using supervisor::ServiceState;

using namespace std::chrono_literals;

namespace {
constexpr std::string_view kComponent = "addons";

std::string replace_all(std::string s, std::string_view from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

bool known(const std::string& id) {
  for (const char* a : kAddons)
    if (id == a) return true;
  return false;
}
}  // namespace

AddonManager::AddonManager(std::string root, runtimes::RuntimeManager& installer,
                           runtimes::CatalogClient& catalog, supervisor::Supervisor& sup,
                           devenv::DevEnvironment& devenv, std::string listen_host,
                           std::optional<int64_t> vmid)
    : root_(std::move(root)),
      listen_host_(std::move(listen_host)),
      installer_(installer),
      catalog_(catalog),
      sup_(sup),
      devenv_(devenv),
      vmid_(vmid) {}

Result<supervisor::ServiceSpec> AddonManager::code_server_spec(const nlohmann::json& marker,
                                                               const std::string& prefix) {
  auto user = devenv_.ensure_user();
  if (!user) return fail(user.error());
  int port = marker.value("port", 0);
  if (port <= 0) port = 6000;
  std::string data = fs::join(root_, "opt/zlh/services/code-server/data");
  if (auto r = fs::make_dirs(data, 0700); !r) return fail(r.error());
  if (!user->is_current_user) ::chown(data.c_str(), user->uid, user->gid);
  std::string bind = listen_host_ + ":" + std::to_string(port);
  auto base = devenv_.dev_service("code-server");
  if (!base) return fail(base.error());
  supervisor::ServiceSpec spec = std::move(*base);
  for (const auto& a : marker.value("launch", nlohmann::json::array())) {
    std::string v = a.get<std::string>();
    v = replace_all(v, "{bind}", bind);
    v = replace_all(v, "{data}", data);
    v = replace_all(v, "{workspace}", user->workspace);
    v = replace_all(v, "{prefix}", prefix);
    spec.argv.push_back(v);
  }
  if (spec.argv.empty())
    return fail(codes::kInvalid, "code-server has no launch line in the catalog");
  if (spec.argv[0].find('/') != std::string::npos && spec.argv[0][0] != '/')
    spec.argv[0] = fs::join(prefix, spec.argv[0]);
  spec.pty = false;
  spec.stop_signal = "TERM";
  spec.stop_timeout_s = 10;
  spec.term_timeout_s = 5;
  spec.port = port;
  return spec;
}

Result<void> AddonManager::tailscale_up(const std::string& prefix, const TailscaleOptions& ts) {
  std::string run = fs::join(root_, "run/zlh");
  std::string sock = fs::join(run, "tailscaled.sock");
  // The key goes through a file only root can read, removed right after.
  std::string key_file = fs::join(run, ".tailscale-authkey-" + crypto::random_hex(6));
  if (auto r = fs::write_file_atomic(key_file, ts.authkey, 0600); !r) return r;
  process::SpawnOptions so;
  so.argv = {fs::join(prefix, "bin/tailscale"),
             "--socket=" + sock,
             "up",
             "--login-server=" + ts.login_server,
             "--auth-key=file:" + key_file,
             "--hostname=dev-" + (vmid_ ? std::to_string(*vmid_) : std::string("0")),
             "--accept-dns=false"};
  so.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
  auto r = process::run(so, 120s, 64 * 1024);
  ::unlink(key_file.c_str());
  if (!r) return fail(r.error().wrap("tailscale up"));
  if (r->exit_code != 0) {
    std::string out = r->output.substr(0, 300);
    // tailscale does not print the key, but be sure it never reaches a log.
    out = replace_all(out, ts.authkey, "<redacted>");
    return fail(codes::kUpstream, "tailscale up failed: " + out);
  }
  return {};
}

Result<nlohmann::json> AddonManager::enable(const std::string& id, const std::string& want_version,
                                            const std::optional<TailscaleOptions>& ts,
                                            const std::atomic<bool>* cancel) {
  if (!known(id)) return fail(codes::kNotFound, "no addon " + id);
  if (id == "tailscale" && (!ts || ts->login_server.empty() || ts->authkey.empty()))
    return std::unexpected(Error::invalid("authkey", "tailscale needs login_server and authkey"));
  std::string version = want_version;
  if (version.empty()) {
    auto cat = catalog_.load();
    if (!cat) return fail(cat.error());
    const auto* item = cat->catalog.addon(id);
    const auto* entry = item ? item->default_entry("stable") : nullptr;
    if (!entry)
      return fail(codes::kNotFound, "addon " + id + " has no stable version in the catalog");
    version = entry->version;
  }
  auto inst = installer_.install(id, version, "", nullptr, cancel);
  if (!inst) return fail(inst.error());
  auto marker = installer_.marker(id, version);
  std::string prefix = fs::join(root_, "opt/zlh/services/" + id + "/current");

  if (id == "code-server") {
    auto spec = code_server_spec(marker, prefix);
    if (!spec) return fail(spec.error());
    if (auto r = sup_.start(*spec); !r) return fail(r.error());
    // Dev provisioning waits for code-server to answer its health probe.
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!healthy(id)) {
      if (std::chrono::steady_clock::now() > deadline || (cancel && cancel->load()))
        return fail(codes::kTimeout, "code-server did not become healthy");
      auto v = sup_.service(id);
      if (v && v->state == ServiceState::kCrashed)
        return fail(codes::kUnavailable, "code-server keeps crashing");
      std::this_thread::sleep_for(100ms);
    }
  } else {
    supervisor::ServiceSpec spec;
    spec.name = "tailscaled";
    std::string run = fs::join(root_, "run/zlh");
    std::string state = fs::join(root_, "opt/zlh/services/tailscale/data");
    if (auto r = fs::make_dirs(state, 0700); !r) return fail(r.error());
    spec.argv = {fs::join(prefix, "bin/tailscaled"),
                 "--state=" + fs::join(state, "tailscaled.state"),
                 "--socket=" + fs::join(run, "tailscaled.sock")};
    struct stat st {};
    if (::stat("/dev/net/tun", &st) != 0) spec.argv.push_back("--tun=userspace-networking");
    spec.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    spec.pty = false;
    spec.cwd = state;
    if (auto r = sup_.start(spec); !r) return fail(r.error());
    if (!sup_.wait_for_state("tailscaled", ServiceState::kRunning, 30s))
      return fail(codes::kUnavailable, "tailscaled did not start");
    if (auto r = tailscale_up(prefix, *ts); !r) return fail(r.error());
  }
  log::info(kComponent, "addon enabled", {{"addon", id}, {"version", version}});
  return nlohmann::json{{"addon", id}, {"version", version}, {"path", inst->path}};
}

Result<void> AddonManager::disable(const std::string& id) {
  if (!known(id)) return fail(codes::kNotFound, "no addon " + id);
  std::string svc = id == "tailscale" ? "tailscaled" : id;
  if (sup_.has(svc)) {
    (void)sup_.stop(svc);
    sup_.remove(svc);
  }
  log::info(kComponent, "addon disabled", {{"addon", id}});
  return {};
}

bool AddonManager::healthy(const std::string& id) const {
  if (id != "code-server") {
    auto v = sup_.service("tailscaled");
    return v && v->state == ServiceState::kRunning;
  }
  auto v = sup_.service(id);
  if (!v || v->state != ServiceState::kRunning || v->port <= 0) return false;
  auto cur = runtimes::read_link(fs::join(root_, "opt/zlh/services/code-server/current"));
  std::string health = installer_.marker(id, cur).value("health", "");
  if (health.empty()) health = "/healthz";
  std::string host = listen_host_ == "0.0.0.0" ? "127.0.0.1" : listen_host_;
  auto r =
      http::request("GET", "http://" + host + ":" + std::to_string(v->port) + health, {}, {}, 2s);
  return r && r->status >= 200 && r->status < 400;
}

nlohmann::json AddonManager::list() const {
  nlohmann::json out = nlohmann::json::array();
  for (const char* id : kAddons) {
    std::string cur =
        runtimes::read_link(fs::join(root_, std::string("opt/zlh/services/") + id + "/current"));
    std::string svc = std::string(id) == "tailscale" ? "tailscaled" : id;
    auto v = sup_.service(svc);
    nlohmann::json j = {{"id", id},
                        {"installed", cur.empty() ? nlohmann::json(nullptr) : nlohmann::json(cur)},
                        {"enabled", v.has_value()},
                        {"state", v ? nlohmann::json(std::string(supervisor::to_string(v->state)))
                                    : nlohmann::json("disabled")},
                        {"pid", v && v->pid ? nlohmann::json(v->pid) : nlohmann::json(nullptr)},
                        {"port", v && v->port ? nlohmann::json(v->port) : nlohmann::json(nullptr)}};
    j["health"] = v ? (healthy(id) ? "ok" : "failing") : "unknown";
    out.push_back(j);
  }
  return out;
}

}  // namespace zlh::agent::addons
