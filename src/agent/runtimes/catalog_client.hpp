// Fetches and trusts the artifact catalog (docs/design.md §4.2, first two steps).
//
// load() fetches <base>/catalog.json and <base>/catalog.json.sig, verifies the
// Ed25519 signature over the exact bytes with the --catalog-key (nothing in
// the catalog is used before that: E_BAD_SIGNATURE), checks the payload's
// catalog_sha256 pin when given (E_CONFLICT: the catalog changed since the API
// showed it to the user — never a silent upgrade), then validates it.
// Thread-safety: load() is reentrant.
#pragma once

#include <optional>
#include <string>

#include "agent/runtimes/fetcher.hpp"
#include "base/crypto.hpp"
#include "proto/catalog.hpp"

namespace zlh::agent::runtimes {

struct TrustedCatalog {
  catalog::Catalog catalog;
  std::string sha256;  // of the exact catalog.json bytes
};

class CatalogClient {
 public:
  CatalogClient(Fetcher& fetcher, std::string base_url, std::optional<crypto::Ed25519PublicKey> key)
      : fetcher_(fetcher), base_(std::move(base_url)), key_(key) {}
  Result<TrustedCatalog> load(const std::string& pinned_sha256 = "");
  const std::string& base_url() const { return base_; }

 private:
  Fetcher& fetcher_;
  std::string base_;
  std::optional<crypto::Ed25519PublicKey> key_;
};

}  // namespace zlh::agent::runtimes
