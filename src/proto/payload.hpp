// payload.json (docs/design.md §3.5): validation and canonical form.
//
// validate_payload() is pure: it never touches the filesystem. It refuses
// unknown fields, wrong JSON types, unknown container types, missing
// runtime/version (dev) or game/variant/version (game), ids that could reach
// a path or a shell, and absurd sizes, each as E_INVALID naming the field
// (Error::field). A game payload without "eula": true is E_EULA_REQUIRED.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "proto/container_type.hpp"

namespace zlh::payload {

inline constexpr int64_t kMinMemoryMb = 256;
inline constexpr int64_t kMaxMemoryMb = 262144;  // 256 GiB

struct Payload {
  int64_t vmid = 0;
  ContainerType container_type = ContainerType::kDev;
  int64_t memory_mb = 0;
  std::string catalog_sha256;  // empty when not pinned
  // dev
  std::string runtime;
  std::string version;
  bool enable_code_server = false;
  // game
  std::string game;
  std::string variant;
  std::string world;
  std::map<std::string, int64_t> ports;
  bool eula = false;
  nlohmann::json properties = nlohmann::json::object();

  // The canonical JSON (sorted keys, defaults filled in) that is stored and
  // compared to decide "same payload again".
  nlohmann::json to_json() const;
};

// `agent_vmid`: the payload's vmid must equal it (a payload for another
// container is refused).
Result<Payload> validate_payload(const nlohmann::json& j, std::optional<int64_t> agent_vmid);

// Parses text then validates. Non-JSON or non-object bodies are E_INVALID.
Result<Payload> parse_payload(std::string_view text, std::optional<int64_t> agent_vmid);

}  // namespace zlh::payload
