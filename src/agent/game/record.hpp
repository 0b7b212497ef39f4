// opt/zlh-agent/state/game.json: what the "game" step installed, read by the
// "workload" step and every later start (docs/design.md §3.2, §9).
//
// It is written (atomically) only after the server files are complete —
// for an installer variant after the installer succeeded — and removed
// before they are replaced, so its presence with a given variant, version
// and artifact sha256 means "installed, nothing to do". It also keeps what
// starting the server needs without the catalog (the artifact server may be
// down when the agent restarts): the chosen Java, the ready pattern, the
// stop policy and how to launch.
//
// Thread-safety: read/write are reentrant; the provisioner's single worker
// is the only writer.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/game/launch.hpp"
#include "base/enum_names.hpp"
#include "base/error.hpp"
#include "proto/catalog.hpp"

namespace zlh::agent::game {

// How the catalog ships a server: the server jar itself, or an installer
// run once to lay the server out (installer.hpp, step 4).
enum class ServerKind { kJar, kInstaller };
inline constexpr EnumNames<ServerKind, 2> kServerKindNames{{"jar", "installer"}};
static_assert(kServerKindNames.covers(ServerKind::kInstaller));
inline std::string_view to_string(ServerKind k) { return kServerKindNames.name(k); }
// The catalog's and game.json's "kind"; nullopt for anything else.
inline std::optional<ServerKind> parse_server_kind(std::string_view s) {
  return kServerKindNames.parse(s);
}

struct GameRecord {
  std::string game, variant, version;
  std::string sha256;  // of the catalog artifact (server jar or installer)
  ServerKind kind = ServerKind::kJar;
  std::string mods_dir;
  std::string java_version;
  std::string java_home;              // absolute: <root>/opt/zlh/runtimes/java/<version>
  std::vector<std::string> java_bin;  // dirs relative to java_home
  std::map<std::string, std::string>
      java_env;                       // from the runtime's catalog entry ("{prefix}" kept)
  std::string ready;                  // regex; empty = kDefaultReady
  std::string stop_type = "command";  // "command" | "signal"
  std::string stop_value = "stop";
  Launch launch;
  // The catalog entry's backup block: how to pause saving while the
  // server's files are archived (docs/backups.md); none = not paused.
  std::optional<catalog::BackupSpec> backup;
  std::string installed_at;

  nlohmann::json to_json() const;
  static Result<GameRecord> from_json(const nlohmann::json& j);  // E_INVALID
  // Same artifact installed for the same game/variant/version.
  bool same_install(const GameRecord& o) const {
    return game == o.game && variant == o.variant && version == o.version && sha256 == o.sha256 &&
           kind == o.kind;
  }
};

std::string record_path(const std::string& root);
// E_NOT_FOUND when there is none, E_INVALID when it is corrupt.
Result<GameRecord> read_record(const std::string& root);
Result<void> write_record(const std::string& root, const GameRecord& r);
Result<void> remove_record(const std::string& root);

}  // namespace zlh::agent::game
