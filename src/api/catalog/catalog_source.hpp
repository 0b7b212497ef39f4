// The signed catalog zlh-api offers and pins servers to (docs/design.md §4.3).
// Thread-safety: load() may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "base/error.hpp"
#include "proto/catalog.hpp"

namespace zlh::api {

// The signed catalog from the artifact store (a directory or file:// URL),
// verified with the catalog key and cached by the bytes' sha256.
class CatalogSource {
 public:
  CatalogSource(std::string artifacts, std::string catalog_key_file)
      : artifacts_(std::move(artifacts)), key_file_(std::move(catalog_key_file)) {}
  struct Loaded {
    catalog::Catalog catalog;
    std::string sha256;
  };
  // E_UNAVAILABLE (no store, unreadable), E_BAD_SIGNATURE, E_INVALID.
  Result<std::shared_ptr<const Loaded>> load();

 private:
  std::string artifacts_, key_file_;
  std::mutex mu_;
  std::shared_ptr<const Loaded> cached_;
};

}  // namespace zlh::api
