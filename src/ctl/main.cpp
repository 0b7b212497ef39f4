// zlhctl: operator tool (DESIGN.md §4.3).
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "ctl/keys.hpp"
#include "version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"zlhctl: zlh operator tool", "zlhctl"};
  app.set_version_flag("--version", std::string(zlh::kVersion));
  app.require_subcommand(1);

  std::string out_dir;
  bool force = false;
  auto* keygen = app.add_subcommand("keygen", "write api.key/api.pub and catalog.key/catalog.pub");
  keygen->add_option("--out", out_dir, "directory for the keys")->required();
  keygen->add_flag("--force", force, "overwrite existing keys");

  std::string key_path;
  int64_t vmid = -1, ttl = 300;
  auto* token = app.add_subcommand("token", "print a signed agent token (tests, debugging)");
  token->add_option("--key", key_path, "API signing key (api.key)")->required();
  token->add_option("--vmid", vmid, "container id the token is for")->required();
  token->add_option("--ttl", ttl, "lifetime in seconds (1..300)")->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (*keygen) {
    auto r = zlh::ctl::keygen(out_dir, force);
    if (!r) {
      std::cerr << "zlhctl keygen: " << r.error().message << "\n";
      return 1;
    }
    std::cout << "wrote " << out_dir << "/{api,catalog}.{key,pub}\n";
    return 0;
  }
  if (*token) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto t = zlh::ctl::make_token(key_path, vmid, ttl, now);
    if (!t) {
      std::cerr << "zlhctl token: " << t.error().message << "\n";
      return 1;
    }
    std::cout << *t << "\n";
    return 0;
  }
  return 1;
}
