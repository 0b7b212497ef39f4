#include "agent/game/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/process.hpp"

namespace zlh::agent::game {
namespace {

GameRecord record() {
  GameRecord r;
  r.game = "minecraft";
  r.variant = "paper";
  r.version = "1.21.4";
  r.sha256 = std::string(64, 'a');
  r.kind = ServerKind::kJar;
  r.mods_dir = "plugins";
  r.java_version = "21.0.5";
  r.java_home = "/c/opt/zlh/runtimes/java/21.0.5";
  r.java_bin = {"bin"};
  r.java_env = {{"JAVA_HOME", "{prefix}"}};
  r.ready = R"(Done \()";
  r.launch.jar = "server.jar";
  return r;
}

payload::Payload payload() {
  payload::Payload p;
  p.vmid = 5001;
  p.container_type = ContainerType::kGame;
  p.game = "minecraft";
  p.variant = "paper";
  p.version = "1.21.4";
  p.world = "world";
  p.memory_mb = 2048;
  p.ports = {{"game", 25570}};
  p.eula = true;
  return p;
}

devenv::DevUser user(bool current) {
  devenv::DevUser u;
  u.name = "dev";
  u.uid = 1000;
  u.gid = 1000;
  u.home = "/c/home/dev";
  u.workspace = "/c/home/dev/workspace";
  u.shell = "/bin/bash";
  u.is_current_user = current;
  return u;
}

TEST(ServerKind, WireNamesRoundTrip) {
  for (ServerKind k : {ServerKind::kJar, ServerKind::kInstaller})
    EXPECT_EQ(parse_server_kind(to_string(k)), k);
  EXPECT_EQ(to_string(ServerKind::kJar), "jar");
  EXPECT_EQ(to_string(ServerKind::kInstaller), "installer");
  EXPECT_FALSE(parse_server_kind("shell"));
  EXPECT_FALSE(parse_server_kind(""));
}

TEST(GameServerSpec, RunsTheRecordedJavaByItsVersionedPathAsTheServiceUser) {
  auto s = game_service_spec(record(), payload(), user(false), "/c");
  EXPECT_EQ(s.name, "workload");
  EXPECT_EQ(s.argv,
            (std::vector<std::string>{"/c/opt/zlh/runtimes/java/21.0.5/bin/java", "-Xms1536M",
                                      "-Xmx1536M", "-jar", "server.jar", "nogui"}));
  EXPECT_EQ(s.cwd, "/c/opt/zlh/server");
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.gid, 1000u);
  EXPECT_EQ(s.user, "dev");
  EXPECT_TRUE(s.pty);
  EXPECT_EQ(s.stop_command, "stop");
  EXPECT_EQ(s.stop_timeout_s, 30);
  EXPECT_EQ(s.term_timeout_s, 10);
  EXPECT_EQ(s.port, 25570);
  EXPECT_TRUE(s.restart_on_crash);
  // "-": the agent's own user, no uid switch.
  auto cur = game_service_spec(record(), payload(), user(true), "/c");
  EXPECT_FALSE(cur.uid.has_value());
  EXPECT_TRUE(cur.user.empty());
}

TEST(GameServerSpec, EnvironmentPutsThatJavaFirst) {
  auto s = game_service_spec(record(), payload(), user(false), "/c");
  auto path = process::env_lookup(s.env, "PATH");
  ASSERT_TRUE(path);
  EXPECT_TRUE(path->starts_with("/c/opt/zlh/runtimes/java/21.0.5/bin:")) << *path;
  EXPECT_EQ(process::env_lookup(s.env, "JAVA_HOME"), "/c/opt/zlh/runtimes/java/21.0.5");
  EXPECT_EQ(process::env_lookup(s.env, "HOME"), "/c/home/dev");
  EXPECT_EQ(process::env_lookup(s.env, "USER"), "dev");
  // A runtime entry without JAVA_HOME still gets one.
  auto r = record();
  r.java_env.clear();
  auto s2 = game_service_spec(r, payload(), user(false), "/c");
  EXPECT_EQ(process::env_lookup(s2.env, "JAVA_HOME"), "/c/opt/zlh/runtimes/java/21.0.5");
}

TEST(GameServerSpec, StopPolicyComesFromTheCatalogEntry) {
  auto r = record();
  r.stop_type = "command";
  r.stop_value = "end";
  EXPECT_EQ(game_service_spec(r, payload(), user(true), "/c").stop_command, "end");
  r.stop_type = "signal";
  r.stop_value = "INT";
  auto s = game_service_spec(r, payload(), user(true), "/c");
  EXPECT_TRUE(s.stop_command.empty());
  EXPECT_EQ(s.stop_signal, "INT");
  r.stop_value = "NOPE";  // unknown signal names fall back to TERM
  EXPECT_EQ(game_service_spec(r, payload(), user(true), "/c").stop_signal, "TERM");
}

TEST(GameServerSpec, ForgeArgumentFilesAndHeapFromMemory) {
  auto r = record();
  r.launch.kind = Launch::Kind::kArgFiles;
  r.launch.unix_args = "libraries/net/neoforged/neoforge/21.1.77/unix_args.txt";
  r.launch.user_jvm_args = true;
  auto p = payload();
  p.memory_mb = 4096;
  auto s = game_service_spec(r, p, user(true), "/c");
  EXPECT_EQ(s.argv, (std::vector<std::string>{
                        "/c/opt/zlh/runtimes/java/21.0.5/bin/java", "-Xms3072M", "-Xmx3072M",
                        "@user_jvm_args.txt",
                        "@libraries/net/neoforged/neoforge/21.1.77/unix_args.txt", "nogui"}));
}

TEST(GameRecord, JsonRoundTripAndRefusals) {
  auto r = record();
  r.launch.kind = Launch::Kind::kArgFiles;
  r.launch.unix_args = "libraries/a/unix_args.txt";
  r.installed_at = "2026-11-24T00:00:00Z";
  auto back = GameRecord::from_json(r.to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_json(), r.to_json());
  EXPECT_TRUE(back->same_install(r));
  auto other = r;
  other.sha256 = std::string(64, 'b');
  EXPECT_FALSE(other.same_install(r));

  auto j = r.to_json();
  j["java"]["home"] = "relative/java";
  EXPECT_FALSE(GameRecord::from_json(j));
  j = r.to_json();
  j["launch"] = {{"kind", "jar"}, {"jar", "../../etc/x.jar"}};
  EXPECT_FALSE(GameRecord::from_json(j));
  j = r.to_json();
  j.erase("sha256");
  EXPECT_FALSE(GameRecord::from_json(j));
  EXPECT_FALSE(GameRecord::from_json(nlohmann::json::array()));
}

// The catalog's backup block travels with the record; a record written
// before it existed (no "backup") or for an entry without one reads as none.
TEST(GameRecord, KeepsTheBackupBlock) {
  auto r = record();
  EXPECT_TRUE(r.to_json()["backup"].is_null());
  r.backup = catalog::BackupSpec{{"save-off", "save-all flush"}, "Saved the game", {"save-on"}, 90};
  auto back = GameRecord::from_json(r.to_json());
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->backup);
  EXPECT_EQ(back->backup->pause, r.backup->pause);
  EXPECT_EQ(back->backup->timeout_s, 90);

  auto j = r.to_json();
  j.erase("backup");
  auto old = GameRecord::from_json(j);
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->backup);
  j["backup"] = {{"pause", {"save-off\nstop"}}, {"saved", "x"}};
  EXPECT_FALSE(GameRecord::from_json(j));
}

}  // namespace
}  // namespace zlh::agent::game
