#include "agent/game/record.hpp"

#include <unistd.h>

#include <cerrno>

#include "base/fs.hpp"

namespace zlh::agent::game {

nlohmann::json GameRecord::to_json() const {
  return {{"game", game},
          {"variant", variant},
          {"version", version},
          {"sha256", sha256},
          {"kind", std::string(to_string(kind))},
          {"mods_dir", mods_dir},
          {"java",
           {{"version", java_version}, {"home", java_home}, {"bin", java_bin}, {"env", java_env}}},
          {"ready", ready},
          {"stop", {{"type", stop_type}, {"value", stop_value}}},
          {"launch", launch.to_json()},
          {"backup", backup ? catalog::to_json(*backup) : nlohmann::json(nullptr)},
          {"installed_at", installed_at}};
}

Result<GameRecord> GameRecord::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& what) {
    return std::unexpected(Error::invalid("game.json", "game.json: " + what));
  };
  if (!j.is_object()) return bad("not an object");
  try {
    GameRecord r;
    r.game = j.at("game").get<std::string>();
    r.variant = j.at("variant").get<std::string>();
    r.version = j.at("version").get<std::string>();
    r.sha256 = j.at("sha256").get<std::string>();
    auto kind = parse_server_kind(j.at("kind").get<std::string>());
    if (!kind) return bad("kind must be \"jar\" or \"installer\"");
    r.kind = *kind;
    r.mods_dir = j.value("mods_dir", "");
    const auto& java = j.at("java");
    r.java_version = java.at("version").get<std::string>();
    r.java_home = java.at("home").get<std::string>();
    r.java_bin = java.value("bin", std::vector<std::string>{"bin"});
    r.java_env = java.value("env", std::map<std::string, std::string>{});
    r.ready = j.value("ready", "");
    r.stop_type = j.at("stop").at("type").get<std::string>();
    r.stop_value = j.at("stop").at("value").get<std::string>();
    auto launch = Launch::from_json(j.at("launch"));
    if (!launch) return bad(launch.error().message);
    r.launch = *launch;
    if (auto b = j.find("backup"); b != j.end() && !b->is_null()) {
      auto spec = catalog::parse_backup_spec(*b, "backup");
      if (!spec) return bad(spec.error().message);
      r.backup = std::move(*spec);
    }
    r.installed_at = j.value("installed_at", "");
    if (r.java_home.empty() || r.java_home[0] != '/') return bad("java.home must be absolute");
    return r;
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
}

std::string record_path(const std::string& root) {
  return fs::join(root, "opt/zlh-agent/state/game.json");
}

Result<GameRecord> read_record(const std::string& root) {
  auto text = fs::read_file(record_path(root), 1 << 20);
  if (!text) return fail(text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded())
    return std::unexpected(Error::invalid("game.json", "game.json is not valid JSON"));
  return GameRecord::from_json(j);
}

Result<void> write_record(const std::string& root, const GameRecord& r) {
  if (auto d = fs::make_dirs(fs::join(root, "opt/zlh-agent/state"), 0700); !d) return d;
  return fs::write_file_atomic(record_path(root), r.to_json().dump(2) + "\n", 0600);
}

Result<void> remove_record(const std::string& root) {
  if (::unlink(record_path(root).c_str()) != 0) {
    if (errno == ENOENT) return {};
    return fail(Error::from_errno("remove " + record_path(root), errno));
  }
  return fs::fsync_dir(fs::join(root, "opt/zlh-agent/state"));
}

}  // namespace zlh::agent::game
