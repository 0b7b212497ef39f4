#include "api/catalog/catalog_source.hpp"

#include "base/crypto.hpp"
#include "base/fs.hpp"

namespace zlh::api {

Result<std::shared_ptr<const CatalogSource::Loaded>> CatalogSource::load() {
  std::string dir = artifacts_;
  if (dir.starts_with("file://")) dir = dir.substr(7);
  if (dir.empty() || dir.find("://") != std::string::npos)
    return fail(codes::kUnavailable,
                "the catalog is only read from a directory store in this build");
  auto text = fs::read_file(fs::join(dir, "catalog.json"), 16 << 20);
  if (!text) return fail(codes::kUnavailable, "catalog.json: " + text.error().message);
  std::string sha = crypto::sha256_hex(*text);
  {
    std::lock_guard lk(mu_);
    if (cached_ && cached_->sha256 == sha) return cached_;
  }
  auto sig = fs::read_file(fs::join(dir, "catalog.json.sig"), 4096);
  if (!sig) return fail(codes::kBadSignature, "catalog.json.sig: " + sig.error().message);
  auto key = crypto::load_public_key(key_file_);
  if (!key) return fail(codes::kUnavailable, "catalog key: " + key.error().message);
  if (auto v = catalog::verify_catalog_signature(*text, *sig, *key); !v) return fail(v.error());
  auto c = catalog::parse_catalog(*text);
  if (!c) return fail(c.error());
  auto loaded = std::make_shared<Loaded>(Loaded{std::move(*c), sha});
  std::lock_guard lk(mu_);
  cached_ = loaded;
  return cached_;
}

}  // namespace zlh::api
