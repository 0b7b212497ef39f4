// zlh-api's own secrets (docs/design.md §10.1): the JWT HMAC secret and the
// Ed25519 key pair that signs agent tokens (docs/design.md §3.3).
//
// Files (defaults under <data>/keys/, the layout `zlhctl keygen --out
// <data>/keys` writes, so an operator may pre-create them with keygen):
//   jwt.secret  base64 of 32 random bytes (any length >= 32 is accepted), 0600
//   api.key     crypto::format_secret_key (base64 of the 64-byte libsodium
//               secret key), 0600 — the same format and functions as keygen
//   api.pub     crypto::format_public_key (base64 of 32 bytes), 0644
//
// load_or_generate():
// - a missing secret file is generated when `generate` is set (else
//   E_NOT_FOUND naming the path); the keys directory is created 0700; every
//   file is written with fs::write_file_atomic (temp + fsync + rename), so a
//   crash leaves either no file or a complete one;
// - a secret file (jwt.secret, api.key) must be a regular file owned by the
//   current user (or root) with no permission bits for group or others, else
//   E_INVALID naming the path — it is not used, and not "fixed" silently;
// - api.pub missing next to an existing api.key is re-derived and written;
//   api.pub that does not match api.key is E_INVALID; api.pub present without
//   api.key is E_CONFLICT (generating a new key would silently orphan every
//   agent that trusts the old public key);
// - content errors are E_INVALID naming the path; read errors E_IO.
// Secret values never appear in errors, and this module does not log.
//
// Threading: call once at start-up. One zlh-api process per data directory:
// two processes generating at the same moment could each keep a different
// secret (the last rename wins on disk).
#pragma once

#include <string>
#include <vector>

#include "api/auth/jwt.hpp"
#include "base/crypto.hpp"
#include "base/error.hpp"

namespace zlh::api::auth {

struct SecretFiles {
  std::string jwt_secret;  // path of jwt.secret
  std::string api_key;     // path of api.key
  std::string api_pub;     // path of api.pub
  // Create missing files (false: operator-configured files, which must
  // exist; a missing api.pub beside a configured key is derived in memory).
  bool generate_jwt = true;
  bool generate_api_key = true;
};

// <data_dir>/keys/{jwt.secret,api.key,api.pub}, generated when missing.
SecretFiles default_secret_files(const std::string& data_dir);

// The files of --jwt-secret-file and --api-key-file (issue 25: every
// replica uses the same keys), each "" for its default under data_dir. A
// configured file is never generated. The public key of a configured
// "<dir>/<name>.key" (or any other name) is "<dir>/<name>.pub" (the name
// with ".key" replaced, else ".pub" appended).
SecretFiles configured_secret_files(const std::string& data_dir, const std::string& jwt_secret_file,
                                    const std::string& api_key_file);

// Raw bytes of a generated JWT secret.
inline constexpr size_t kGeneratedJwtSecretBytes = 32;

struct ApiSecrets {
  JwtKey jwt;
  crypto::Ed25519SecretKey api_key;  // signs agent tokens
  crypto::Ed25519PublicKey api_pub;  // handed to agents (--api-key)
  // Paths of the files this call created, for one start-up log line
  // (paths only; never the values).
  std::vector<std::string> generated;
};

Result<ApiSecrets> load_or_generate(const SecretFiles& files);

}  // namespace zlh::api::auth
