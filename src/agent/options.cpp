#include "agent/options.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>

#include "base/config.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "http/server.hpp"
#include "version.hpp"

namespace zlh::agent {

std::optional<int64_t> vmid_from_hostname(std::string_view hostname) {
  size_t end = hostname.size();
  size_t start = end;
  while (start > 0 && std::isdigit(uint8_t(hostname[start - 1]))) --start;
  if (start == end || end - start > 9) return std::nullopt;
  int64_t v = 0;
  std::from_chars(hostname.data() + start, hostname.data() + end, v);
  return v;
}

Result<ParseOutcome> parse_options(int argc, const char* const* argv, const std::string& hostname) {
  Options o;
  int64_t vmid = -1;
  CLI::App app{"zlh-agent: runs inside every zlh container", "zlh-agent"};
  app.set_version_flag("--version", std::string(kVersion));
  app.add_option("--root", o.root, "filesystem prefix")->capture_default_str();
  app.add_option("--listen", o.listen, "HOST:PORT to listen on")->capture_default_str();
  app.add_option("--listen-fd", o.listen_fd,
                 "inherited listening socket (instead of binding --listen)");
  app.add_option("--config", o.config, "TOML config file (default <root>/etc/zlh/agent.toml)");
  app.add_option("--vmid", vmid, "container id (default: trailing digits of the hostname)");
  app.add_option("--artifacts", o.artifacts,
                 "artifact server base URL (http://, https://, file://)");
  app.add_option("--catalog-key", o.catalog_key, "Ed25519 public key that signs catalog.json");
  app.add_option("--api-key", o.api_key, "Ed25519 public key of zlh-api (request tokens)");
  app.add_option("--dev-user", o.dev_user, "dev user name, '-' = current user")
      ->capture_default_str();
  app.add_option("--log-format", o.log_format, "json or text")->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--max-upload-bytes", o.max_upload_bytes,
                 "largest file /files/upload and /files/write accept")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    ParseOutcome out;
    out.exit_code = code;
    if (code != 0) return fail(codes::kInvalid, e.what());
    return out;
  }

  bool explicit_config = !o.config.empty();
  // --root may itself come from the file only when --config is explicit.
  std::string cfg = explicit_config ? o.config : fs::join(o.root, "etc/zlh/agent.toml");
  if (auto r = config::apply_toml(app, cfg, explicit_config); !r) return fail(r.error());
  o.config = cfg;

  if (o.root.empty() || o.root.front() != '/')
    return std::unexpected(Error::invalid("root", "--root must be an absolute path"));
  while (o.root.size() > 1 && o.root.back() == '/') o.root.pop_back();
  if (auto hp = http::split_host_port(o.listen); !hp)
    return std::unexpected(Error::invalid("listen", "--listen: " + hp.error().message));
  if (o.listen_fd < -1 || o.listen_fd == 0 || o.listen_fd == 1 || o.listen_fd == 2)
    return std::unexpected(Error::invalid("listen-fd", "--listen-fd must be a descriptor above 2"));
  log::Format f;
  if (!log::parse_format(o.log_format, &f))
    return std::unexpected(Error::invalid("log-format", "--log-format must be json or text"));
  if (log::Level l; !log::parse_level(o.log_level, &l))
    return std::unexpected(
        Error::invalid("log-level", "--log-level must be debug, info, warn or error"));
  if (o.max_upload_bytes == 0)
    return std::unexpected(
        Error::invalid("max-upload-bytes", "--max-upload-bytes must be positive"));
  if (o.dev_user.empty())
    return std::unexpected(Error::invalid("dev-user", "--dev-user must not be empty"));
  if (!o.artifacts.empty() && !o.artifacts.starts_with("http://") &&
      !o.artifacts.starts_with("https://") && !o.artifacts.starts_with("file://"))
    return std::unexpected(
        Error::invalid("artifacts", "--artifacts must be an http://, https:// or file:// URL"));

  if (vmid >= 0) {
    o.vmid = vmid;
  } else if (vmid != -1) {
    return std::unexpected(Error::invalid("vmid", "--vmid must not be negative"));
  } else {
    o.vmid = vmid_from_hostname(hostname);
  }
  ParseOutcome out;
  out.options = std::move(o);
  return out;
}

}  // namespace zlh::agent
