#include "agent/runtimes/catalog_client.hpp"

namespace zlh::agent::runtimes {

Result<TrustedCatalog> CatalogClient::load(const std::string& pinned_sha256) {
  if (base_.empty())
    return fail(codes::kUnavailable, "no artifact server configured (--artifacts)");
  if (!key_)
    return fail(codes::kBadSignature,
                "no catalog key configured (--catalog-key): refusing an unsigned catalog");
  auto body = fetch_small(fetcher_, join_url(base_, "catalog.json"), 16 << 20);
  if (!body) return fail(body.error().wrap("fetch catalog"));
  auto sig = fetch_small(fetcher_, join_url(base_, "catalog.json.sig"), 4096);
  if (!sig) {
    if (sig.error().is(codes::kNotFound))
      return fail(codes::kBadSignature, "catalog.json.sig is missing");
    return fail(sig.error().wrap("fetch catalog signature"));
  }
  if (auto v = catalog::verify_catalog_signature(*body, *sig, *key_); !v) return fail(v.error());
  TrustedCatalog out;
  out.sha256 = crypto::sha256_hex(*body);
  if (!pinned_sha256.empty() && pinned_sha256 != out.sha256)
    return fail(codes::kConflict, "the catalog changed since it was shown (catalog_sha256 " +
                                      pinned_sha256.substr(0, 12) + "… ≠ " +
                                      out.sha256.substr(0, 12) + "…)");
  auto c = catalog::parse_catalog(*body);
  if (!c) return fail(c.error().wrap("catalog"));
  out.catalog = std::move(*c);
  return out;
}

}  // namespace zlh::agent::runtimes
