// The provisioning step "game" (docs/design.md §9): puts a catalog game server
// into <root>/opt/zlh/server.
//
// install():
//  1. refuses a payload without "eula": true (E_EULA_REQUIRED; /config
//     already did, this is the last line before anything is written);
//  2. loads the signed catalog (pinned by the payload's catalog_sha256) and
//     finds game / variant / version (E_NOT_FOUND naming what is missing);
//  3. installs the Java the entry names (java_select.hpp) through the
//     runtime pipeline (verified, idempotent), as the service user;
//  4. unless game.json (record.hpp) already records this very artifact:
//     stops a running server, removes the record, fetches the artifact
//     through the verified ArtifactCache and
//       kind "jar":       copies it to server.jar (temp file + rename);
//       kind "installer": copies it to installer.jar, runs
//                         `java -jar installer.jar --installServer` once in
//                         the server dir as the service user (process::run,
//                         installer_timeout, cancelled by `stop`), then finds
//                         the launch (launch.hpp: unix_args.txt or a jar) and
//                         deletes installer.jar. A failing installer leaves
//                         no record and fails with E_UNAVAILABLE carrying the
//                         tail of its output; the next attempt runs it again;
//     then writes the record (atomically: the "done" marker);
//  5. every time: creates the variant's mods dir, writes eula.txt
//     (eula=true — only because the payload says so) and server.properties
//     (properties.hpp: the user's file kept, the payload's properties
//     merged, then server-port = ports.game and level-name = world forced),
//     owned by the service user.
// So a repeat (an agent restarted mid-step, the same payload again) costs a
// catalog fetch and two small writes.
//
// The agent may run as root while the server dir belongs to the service
// user: files there are read without following symlinks and written by
// temp file + rename, ownership is set with lchown, so a user-planted
// symlink can neither leak nor redirect anything.
//
// Thread-safety: install() is called from the provisioner's single worker.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "agent/devenv/service.hpp"
#include "agent/game/record.hpp"
#include "agent/game/server.hpp"
#include "agent/provisioner.hpp"
#include "agent/runtimes/cache.hpp"
#include "agent/runtimes/catalog_client.hpp"
#include "agent/runtimes/manager.hpp"
#include "proto/payload.hpp"

namespace zlh::agent::game {

struct InstallerOptions {
  std::chrono::milliseconds installer_timeout = std::chrono::minutes(20);
};

class GameInstaller {
 public:
  GameInstaller(std::string root, runtimes::CatalogClient& catalog, runtimes::ArtifactCache& cache,
                runtimes::RuntimeManager& runtimes, devenv::DevEnvironment& devenv,
                GameServer& server, InstallerOptions o = {});

  Result<GameRecord> install(const payload::Payload& p, const std::atomic<bool>& stop,
                             const StepProgress& progress);

 private:
  // Step 3: the Java the entry names, through the runtime pipeline.
  Result<runtimes::Installed> install_java(const catalog::Catalog& cat, const payload::Payload& p,
                                           const catalog::Entry& e, const std::atomic<bool>& stop,
                                           const StepProgress& progress);
  // Step 4 when the record does not match: stops the server, drops the
  // record, fetches the artifact and puts it in place by kind; the launch.
  Result<Launch> fetch_server(const GameRecord& rec, const catalog::Entry& e,
                              const std::string& what, const devenv::DevUser& user,
                              const std::atomic<bool>& stop, const StepProgress& progress);
  Result<Launch> run_installer(const GameRecord& rec, const devenv::DevUser& user,
                               const std::atomic<bool>& stop);
  Result<void> write_configuration(const payload::Payload& p, const GameRecord& rec,
                                   const devenv::DevUser& user);

  std::string root_, server_dir_;
  runtimes::CatalogClient& catalog_;
  runtimes::ArtifactCache& cache_;
  runtimes::RuntimeManager& runtimes_;
  devenv::DevEnvironment& devenv_;
  GameServer& server_;
  InstallerOptions opts_;
};

inline constexpr const char* kInstallerJar = "installer.jar";

}  // namespace zlh::agent::game
