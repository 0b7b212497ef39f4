// How a game server's JVM is launched: heap from memory_mb, and the
// command line for a server jar or for what a Forge/NeoForge installer
// produced (docs/design.md §9).
//
// Heap: a JVM needs memory beyond its heap (metaspace, code cache, thread
// stacks, direct buffers, GC bookkeeping), so the container's memory_mb is
// not all heap. headroom = clamp(memory_mb / 4, 256, 2048) MiB and
// heap = max(128, memory_mb - headroom) MiB; -Xms equals -Xmx (the memory
// is the container's anyway, and a fixed heap avoids resize pauses).
//   512 → 256, 1024 → 768, 2048 → 1536, 4096 → 3072, 16384 → 14336.
//
// Launch kinds:
//   kJar      java -Xms -Xmx -jar <jar> nogui
//   kArgFiles java -Xms -Xmx [@user_jvm_args.txt] @<unix_args.txt> nogui
//             (modern Forge/NeoForge; the user's file comes after our -Xmx,
//             so a heap set there by the user wins)
// No shell is involved: these are argv vectors.
//
// Thread-safety: pure functions, except find_installed_launch() which
// reads a directory (no writes).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace zlh::agent::game {

int64_t heap_mb(int64_t memory_mb);

struct Launch {
  enum class Kind { kJar, kArgFiles };
  Kind kind = Kind::kJar;
  std::string jar;             // kJar: relative to the server dir
  std::string unix_args;       // kArgFiles: relative to the server dir
  bool user_jvm_args = false;  // kArgFiles: @user_jvm_args.txt exists

  nlohmann::json to_json() const;
  static Result<Launch> from_json(const nlohmann::json& j);  // E_INVALID
  bool operator==(const Launch&) const = default;
};

// The server's argv; `java` is the absolute path of the java binary.
std::vector<std::string> java_argv(const std::string& java, int64_t memory_mb,
                                   const Launch& launch);

// What an installer (`java -jar installer.jar --installServer`) left in
// `server_dir`:
//  1. libraries/**/unix_args.txt (regular files, symlinks are not followed,
//     depth ≤ 12): the most recently modified one (a reinstall of another
//     version leaves the old one behind), ties broken by the higher path as
//     a version → kArgFiles, with user_jvm_args when user_jvm_args.txt is a
//     regular file in server_dir;
//  2. else a *.jar in server_dir itself other than the installer and
//     minecraft_server*.jar (the vanilla jar older installers fetch): the
//     most recently modified one → kJar.
// E_NOT_FOUND (listing what was there) when neither exists.
Result<Launch> find_installed_launch(const std::string& server_dir,
                                     const std::string& installer_name);

}  // namespace zlh::agent::game
