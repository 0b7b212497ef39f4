// zlhctl catalog import minecraft (docs/catalog.md "Importing Minecraft"):
// resolves one Minecraft server jar from its publisher's public API,
// downloads it into the store while hashing it, checks it against the hash
// the publisher lists, and then goes through the same path as `catalog add`
// and `catalog sign`.
//
//   vanilla  Mojang's version manifest -> the version's JSON (its sha1 is in
//            the manifest and checked) -> downloads.server {url, sha1, size}
//   paper    PaperMC downloads API v2: latest build of the PaperMC build
//            channel (default | experimental), downloads.application sha256
//   purpur   Purpur API v2: builds.latest, that build's md5
//   fabric   Fabric meta: latest stable loader for the version, latest stable
//            installer, the server launcher jar. Fabric publishes no hash: the
//            sha256 of the first download is recorded (trust on first use).
// Every variant's `java` is javaVersion.majorVersion of Mojang's version
// JSON (the Minecraft version's own statement), never guessed from V.
//
// The entry: game "minecraft", variant, version V, kind "jar", java, ready
// "Done \(", stop command "stop", the backup block (save-off / save-all flush
// / "Saved the game" / save-on), mods_dir "plugins" (paper, purpur) or "mods"
// (fabric).
//
// Guarantees: the jar is streamed to a hidden temporary directory inside the
// store (never whole in memory) and removed whatever happens; a hash or size
// mismatch is E_HASH_MISMATCH and leaves neither a file nor a catalog change.
// Importing a version that is already in the catalog with the same sha256 is
// a success that changes nothing (the catalog is re-signed); with another
// sha256 it is refused (E_HASH_MISMATCH). Metadata bodies are capped
// (E_TOO_LARGE), every transfer has a connect, stall and total timeout
// (E_TIMEOUT). Other errors: E_INVALID (flags), E_NOT_FOUND (unknown version
// or no build), E_UPSTREAM (HTTP status, connection, malformed JSON), and
// those of catalog_add / catalog_sign.
// Thread-safety: one import per call; concurrent imports into one store are
// serialized by the store lock where they write.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::ctl {

inline constexpr const char* kDefaultMojangUrl = "https://piston-meta.mojang.com";
inline constexpr const char* kDefaultPaperUrl = "https://api.papermc.io";
inline constexpr const char* kDefaultPurpurUrl = "https://api.purpurmc.org";
inline constexpr const char* kDefaultFabricUrl = "https://meta.fabricmc.net";

// ---- HTTP seam ----------------------------------------------------------------

using ChunkSink = std::function<Result<void>(std::string_view chunk)>;

// GET `url`, handing the 200 body to `sink` chunk by chunk. Redirects are
// followed (http(s) only; never from https down to http). More than
// `max_bytes` is E_TOO_LARGE; past `timeout` (or 60 s below 1 KiB/s, or 15 s
// to connect) E_TIMEOUT; HTTP 404 E_NOT_FOUND; any other status or transport
// failure E_UPSTREAM; a sink error aborts the transfer and is returned.
class HttpGet {
 public:
  virtual ~HttpGet() = default;
  virtual Result<void> get(const std::string& url, uint64_t max_bytes, std::chrono::seconds timeout,
                           const ChunkSink& sink) = 0;
};

// libcurl, one easy handle per call. Safe from several threads.
// `user_agent` empty: "zlhctl/<version>". PaperMC asks API clients for a
// User-Agent naming the software and a contact; operators pass theirs.
class CurlGet : public HttpGet {
 public:
  explicit CurlGet(std::string user_agent = {});
  Result<void> get(const std::string& url, uint64_t max_bytes, std::chrono::seconds timeout,
                   const ChunkSink& sink) override;

 private:
  std::string user_agent_;
};

// ---- what the APIs say (pure; unit-tested) ------------------------------------

// A download and the hash its publisher lists ("sha1" | "sha256" | "md5" |
// "" for none, hex lowercase). size 0: not listed.
struct UpstreamJar {
  std::string url;
  std::string file_name;
  std::string algo;
  std::string digest;
  uint64_t size = 0;
  std::string describe;  // "Mojang", "PaperMC build 123 (default)", ...
};

// Mojang's manifest: the version's JSON url and its sha1. E_NOT_FOUND when V
// is not listed.
struct ManifestRef {
  std::string url;
  std::string sha1;
};
Result<ManifestRef> manifest_version(const nlohmann::json& manifest, const std::string& version);

// The version JSON: javaVersion.majorVersion as a string ("21"; "8" when the
// JSON has no javaVersion, as for versions older than 1.17's launcher
// metadata) and downloads.server (vanilla's jar).
struct MojangVersion {
  std::string java;
  UpstreamJar server;  // url empty when the version has no server download
};
Result<MojangVersion> parse_mojang_version(const nlohmann::json& v, const std::string& version);

// The highest build number of `channel` in the PaperMC builds response.
Result<UpstreamJar> pick_paper_build(const nlohmann::json& builds, const std::string& base,
                                     const std::string& version, const std::string& channel);

// builds.latest of the Purpur version response.
Result<std::string> purpur_latest_build(const nlohmann::json& v);
// The build response's md5 (the build must have result SUCCESS when given).
Result<UpstreamJar> purpur_build_jar(const nlohmann::json& b, const std::string& base,
                                     const std::string& version, const std::string& build);

// The first stable entry of Fabric meta's loader (for V) and installer lists,
// or the first entry when none is stable. The jar has no listed hash.
Result<UpstreamJar> pick_fabric(const nlohmann::json& loaders, const nlohmann::json& installers,
                                const std::string& base, const std::string& version);

// The catalog's backup block for Minecraft (contract of issue 23).
nlohmann::ordered_json minecraft_backup_block();

// ---- the command ----------------------------------------------------------------

struct ImportOptions {
  std::string store;
  std::string key;  // catalog.key, as for `catalog sign`
  std::string variant;
  std::string version;
  std::string channel = "stable";         // the catalog channel of the entry
  std::string paper_channel = "default";  // PaperMC build channel: default | experimental
  std::string mojang_url = kDefaultMojangUrl;
  std::string paper_url = kDefaultPaperUrl;
  std::string purpur_url = kDefaultPurpurUrl;
  std::string fabric_url = kDefaultFabricUrl;
  uint64_t max_jar_bytes = uint64_t(512) << 20;
};

struct ImportResult {
  std::string artifact;  // relative to the store
  std::string sha256;
  uint64_t size = 0;
  std::string java;
  std::string source;      // "sha1 <hex> from Mojang", ...
  bool verified = false;   // the publisher lists a hash and it matched (not fabric)
  bool unchanged = false;  // already in the catalog with this sha256
  std::string catalog_sha256;
  std::vector<std::string> notes;
};

// Progress lines ("fetching ..."), for the operator; may be empty.
using ImportLog = std::function<void(std::string_view)>;

Result<ImportResult> import_minecraft(const ImportOptions& opt, HttpGet& http,
                                      const ImportLog& log = {});

}  // namespace zlh::ctl
