#include "api/catalog/catalog_view.hpp"

#include <algorithm>
#include <vector>

namespace zlh::api {

namespace {

std::vector<const catalog::Entry*> visible(const std::vector<catalog::Entry>& versions,
                                           std::string_view min_channel) {
  int min = catalog::channel_rank(min_channel);
  std::vector<const catalog::Entry*> out;
  for (const auto& e : versions)
    if (catalog::channel_rank(e.channel) >= min) out.push_back(&e);
  std::sort(out.begin(), out.end(), [](const catalog::Entry* a, const catalog::Entry* b) {
    return catalog::compare_versions(a->version, b->version) > 0;
  });
  return out;
}

nlohmann::json item_view(const catalog::Item& it, std::string_view min_channel) {
  const catalog::Entry* def = it.default_entry(min_channel);
  nlohmann::json versions = nlohmann::json::array();
  for (const auto* e : visible(it.versions, min_channel))
    versions.push_back({{"version", e->version}, {"default", e == def}, {"channel", e->channel}});
  return {
      {"id", it.id}, {"display", it.display.empty() ? it.id : it.display}, {"versions", versions}};
}

}  // namespace

nlohmann::json dev_catalog_view(const catalog::Catalog& c, std::string_view min_channel,
                                const std::string& catalog_sha256) {
  nlohmann::json runtimes = nlohmann::json::array(), addons = nlohmann::json::array();
  for (const auto& r : c.runtimes) {
    auto v = item_view(r, min_channel);
    if (!v["versions"].empty()) runtimes.push_back(std::move(v));
  }
  for (const auto& a : c.addons) {
    auto v = item_view(a, min_channel);
    if (!v["versions"].empty()) addons.push_back(std::move(v));
  }
  return {{"catalog_sha256", catalog_sha256},
          {"channel", std::string(min_channel)},
          {"runtimes", runtimes},
          {"addons", addons}};
}

nlohmann::json game_catalog_view(const catalog::Catalog& c, std::string_view min_channel,
                                 const std::string& catalog_sha256) {
  nlohmann::json games = nlohmann::json::array();
  for (const auto& g : c.games) {
    nlohmann::json variants = nlohmann::json::array();
    for (const auto& var : g.variants) {
      auto vis = visible(var.versions, min_channel);
      if (vis.empty()) continue;
      nlohmann::json versions = nlohmann::json::array();
      for (size_t i = 0; i < vis.size(); ++i) {
        const auto* e = vis[i];
        versions.push_back(
            {{"version", e->version},
             {"default",
              e->is_default || (i == 0 && std::none_of(vis.begin(), vis.end(),
                                                       [](auto* x) { return x->is_default; }))},
             {"channel", e->channel},
             {"java", e->java}});
      }
      variants.push_back({{"id", var.id}, {"mods", !var.mods_dir.empty()}, {"versions", versions}});
    }
    if (!variants.empty()) games.push_back({{"id", g.id}, {"variants", variants}});
  }
  return {
      {"catalog_sha256", catalog_sha256}, {"channel", std::string(min_channel)}, {"games", games}};
}

}  // namespace zlh::api
