#include "api/options.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>

#include "common/config.hpp"
#include "common/fs.hpp"
#include "common/http_server.hpp"
#include "common/log.hpp"
#include "version.hpp"

namespace zlh::api {

namespace {
std::string absolute(const std::string& p) {
  if (p.empty() || p.front() == '/') return p;
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}
}  // namespace

Result<ParseOutcome> parse_options(int argc, const char* const* argv, const std::string& self_dir) {
  Options o;
  CLI::App app{"zlh-api: the zlh control plane", "zlh-api"};
  app.set_version_flag("--version", std::string(kVersion));
  app.add_option("--listen", o.listen, "HOST:PORT to listen on")->capture_default_str();
  app.add_option("--data", o.data, "data directory (SQLite db, keys, containers)")->capture_default_str();
  app.add_option("--config", o.config, "TOML config file (default <data>/api.toml)");
  app.add_option("--driver", o.driver, "local or proxmox")->capture_default_str();
  app.add_option("--artifacts", o.artifacts, "artifact store: a directory (served at /artifacts/) or a URL");
  app.add_option("--catalog-key", o.catalog_key, "public key that signs the catalog (default <data>/keys/catalog.pub)");
  app.add_option("--agent-bin", o.agent_bin, "local driver: the zlh-agent to run (default: beside zlh-api)");
  app.add_option("--portal", o.portal, "built portal directory served at /");
  app.add_option("--public-url", o.public_url, "public origin, e.g. https://zlh.example.com");
  app.add_option("--log-format", o.log_format, "json or text")->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--game-vmid-lo", o.game_vmid_lo)->capture_default_str();
  app.add_option("--game-vmid-hi", o.game_vmid_hi)->capture_default_str();
  app.add_option("--dev-vmid-lo", o.dev_vmid_lo)->capture_default_str();
  app.add_option("--dev-vmid-hi", o.dev_vmid_hi)->capture_default_str();
  app.add_option("--port-lo", o.port_lo, "first port of the game port pool")->capture_default_str();
  app.add_option("--port-hi", o.port_hi, "last port of the game port pool")->capture_default_str();
  app.add_option("--poll-interval", o.poll_interval_s, "seconds between status poller cycles")
      ->capture_default_str();
  app.add_option("--poll-workers", o.poll_workers, "concurrent agent status calls of the poller")
      ->capture_default_str();
  app.add_option("--poll-timeout", o.poll_timeout_s, "seconds one agent status call may take")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code != 0) return fail(codes::kInvalid, e.what());
    return ParseOutcome{std::nullopt, 0};
  }
  bool explicit_config = !o.config.empty();
  std::string cfg = explicit_config ? o.config : fs::join(absolute(o.data), "api.toml");
  if (auto r = config::apply_toml(app, cfg, explicit_config); !r) return fail(r.error());
  o.config = cfg;

  auto bad = [](const char* field, const std::string& msg) -> Result<ParseOutcome> {
    return std::unexpected(Error::invalid(field, msg));
  };
  if (auto hp = http::split_host_port(o.listen); !hp) return bad("listen", "--listen: " + hp.error().message);
  if (o.driver != "local" && o.driver != "proxmox") return bad("driver", "--driver must be local or proxmox");
  if (o.driver == "proxmox") return bad("driver", "--driver proxmox is not part of this build yet");
  log::Format f;
  if (!log::parse_format(o.log_format, &f)) return bad("log-format", "--log-format must be json or text");
  if (log::Level l; !log::parse_level(o.log_level, &l))
    return bad("log-level", "--log-level must be debug, info, warn or error");
  if (o.game_vmid_lo < 1 || o.game_vmid_hi < o.game_vmid_lo || o.dev_vmid_lo < 1 || o.dev_vmid_hi < o.dev_vmid_lo ||
      o.game_vmid_hi > 65535 || o.dev_vmid_hi > 65535)
    return bad("vmid", "vmid ranges must be non-empty and within 1..65535");
  if (!(o.game_vmid_hi < o.dev_vmid_lo || o.dev_vmid_hi < o.game_vmid_lo))
    return bad("vmid", "the game and dev vmid ranges overlap");
  if (o.port_lo < 1 || o.port_hi > 65535 || o.port_hi < o.port_lo) return bad("port", "bad port pool");
  if (!(o.poll_interval_s >= 0.05 && o.poll_interval_s <= 3600))
    return bad("poll-interval", "--poll-interval must be 0.05..3600 seconds");
  if (o.poll_workers < 1 || o.poll_workers > 256)
    return bad("poll-workers", "--poll-workers must be 1..256");
  if (!(o.poll_timeout_s >= 0.05 && o.poll_timeout_s <= 60))
    return bad("poll-timeout", "--poll-timeout must be 0.05..60 seconds");
  if (!o.public_url.empty() && !o.public_url.starts_with("http://") && !o.public_url.starts_with("https://"))
    return bad("public-url", "--public-url must start with http:// or https://");
  while (!o.public_url.empty() && o.public_url.back() == '/') o.public_url.pop_back();

  o.data = absolute(o.data);
  if (o.artifacts_is_dir()) o.artifacts = absolute(o.artifacts);
  o.catalog_key = o.catalog_key.empty() ? fs::join(o.data, "keys/catalog.pub") : absolute(o.catalog_key);
  o.agent_bin = o.agent_bin.empty() ? fs::join(self_dir, "zlh-agent") : absolute(o.agent_bin);
  o.portal = absolute(o.portal);
  if (o.public_url.empty()) o.public_url = "http://" + o.listen;
  return ParseOutcome{o, 0};
}

}  // namespace zlh::api
