#include "api/catalog/catalog_routes.hpp"

#include "api/catalog/catalog_view.hpp"
#include "proto/container_type.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

namespace {
// The catalog as the portal's create form for `type` shows it.
nlohmann::json view_for(ContainerType type, const catalog::Catalog& c, const std::string& channel,
                        const std::string& sha256) {
  switch (type) {
    case ContainerType::kDev:
      return dev_catalog_view(c, channel, sha256);
    case ContainerType::kGame:
      return game_catalog_view(c, channel, sha256);
  }
  return nullptr;
}
}  // namespace

void add_catalog_routes(http::Router& r, CatalogSource& source) {
  for (ContainerType type : {ContainerType::kDev, ContainerType::kGame}) {
    r.add_sync(
        "GET", "/api/catalog/" + std::string(to_string(type)), [&source, type](Request& req) {
          std::string channel = req.query_param("channel").value_or("stable");
          if (!catalog::valid_channel(channel))
            return Response::error(
                Error::invalid("channel", "channel must be dev, beta or stable"));
          auto cat = source.load();
          if (!cat) return Response::error(cat.error());
          return Response::json(200, view_for(type, (*cat)->catalog, channel, (*cat)->sha256));
        });
  }
}

}  // namespace zlh::api
