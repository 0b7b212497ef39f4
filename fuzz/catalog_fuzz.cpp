// The signed artifact catalog (proto/catalog.hpp): parse_catalog and its
// validation, the version order and the signature check, as the agent and
// zlh-api read catalog.json from the artifact store.
//
// Invariants: no exception escapes; an error is E_INVALID naming its place;
// an accepted catalog's raw JSON validates again to the same shape, every
// version is found by find(), default_entry() honours its channel, and
// compare_versions is a consistent order on its versions (reflexive,
// antisymmetric, transitive); the catalog's own signature verifies and a
// bit flipped in the bytes does not.
#include <vector>

#include "base/crypto.hpp"
#include "fuzz_input.hpp"
#include "proto/catalog.hpp"

namespace catalog = zlh::catalog;
namespace crypto = zlh::crypto;

namespace {

int sign(int v) { return v < 0 ? -1 : v > 0 ? 1 : 0; }

void check_order(const std::vector<catalog::Entry>& versions) {
  const size_t n = std::min<size_t>(versions.size(), 12);
  for (size_t i = 0; i < n; ++i) {
    const auto& a = versions[i].version;
    ZLH_FUZZ_CHECK(catalog::compare_versions(a, a) == 0, a);
    for (size_t j = 0; j < n; ++j) {
      const auto& b = versions[j].version;
      int ab = sign(catalog::compare_versions(a, b));
      ZLH_FUZZ_CHECK(ab == -sign(catalog::compare_versions(b, a)), a + " vs " + b);
      for (size_t k = 0; k < n; ++k) {
        const auto& c = versions[k].version;
        if (ab <= 0 && sign(catalog::compare_versions(b, c)) <= 0)
          ZLH_FUZZ_CHECK(sign(catalog::compare_versions(a, c)) <= 0, a + " <= " + b + " <= " + c);
      }
    }
  }
}

void check_item(const catalog::Item& item) {
  for (const auto& e : item.versions) {
    ZLH_FUZZ_CHECK(item.find(e.version) == &e, e.version);
    ZLH_FUZZ_CHECK(catalog::safe_relative_path(e.artifact), e.artifact);
    ZLH_FUZZ_CHECK(catalog::valid_channel(e.channel), e.channel);
  }
  for (const char* ch : catalog::kChannels) {
    const catalog::Entry* d = item.default_entry(ch);
    if (d)
      ZLH_FUZZ_CHECK(catalog::channel_rank(d->channel) >= catalog::channel_rank(ch), d->channel);
  }
  check_order(item.versions);
}

const crypto::Ed25519KeyPair& keys() {
  static const crypto::Ed25519KeyPair k = crypto::ed25519_generate();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  zlh::Result<catalog::Catalog> c = zlh::fail(zlh::codes::kInternal, "not run");
  try {
    c = catalog::parse_catalog(text);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("parse_catalog threw", e.what());
  }
  if (!c) {
    ZLH_FUZZ_CHECK(c.error().is(zlh::codes::kInvalid), c.error().to_string());
    return 0;
  }
  auto again = catalog::validate_catalog(c->raw);
  ZLH_FUZZ_CHECK(again, again.error().to_string());
  ZLH_FUZZ_CHECK(again->runtimes.size() == c->runtimes.size() &&
                 again->addons.size() == c->addons.size() &&
                 again->games.size() == c->games.size());
  for (const auto& r : c->runtimes) {
    ZLH_FUZZ_CHECK(c->runtime(r.id) == &r, r.id);
    check_item(r);
  }
  for (const auto& a : c->addons) check_item(a);
  for (const auto& g : c->games) {
    ZLH_FUZZ_CHECK(c->game(g.id) == &g, g.id);
    for (const auto& v : g.variants) {
      ZLH_FUZZ_CHECK(g.find(v.id) == &v, v.id);
      for (const auto& e : v.versions) ZLH_FUZZ_CHECK(v.find(e.version) == &e);
      check_order(v.versions);
    }
  }

  std::string sig = catalog::sign_catalog(text, keys().sec);
  ZLH_FUZZ_CHECK(catalog::verify_catalog_signature(text, sig, keys().pub), "own signature refused");
  std::string flipped(text);
  flipped[size / 2] ^= 0x01;
  auto bad = catalog::verify_catalog_signature(flipped, sig, keys().pub);
  ZLH_FUZZ_CHECK(!bad && bad.error().is(zlh::codes::kBadSignature), "changed bytes verified");
  return 0;
}
