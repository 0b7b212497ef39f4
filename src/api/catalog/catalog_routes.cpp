#include "api/catalog/catalog_routes.hpp"

#include "api/catalog/catalog_view.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

void add_catalog_routes(http::Router& r, CatalogSource& source) {
  for (std::string kind : {"dev", "game"}) {
    r.add_sync("GET", "/api/catalog/" + kind, [&source, kind](Request& req) {
      std::string channel = req.query_param("channel").value_or("stable");
      if (!catalog::valid_channel(channel))
        return Response::error(Error::invalid("channel", "channel must be dev, beta or stable"));
      auto cat = source.load();
      if (!cat) return Response::error(cat.error());
      return Response::json(200, kind == "dev"
                                     ? dev_catalog_view((*cat)->catalog, channel, (*cat)->sha256)
                                     : game_catalog_view((*cat)->catalog, channel, (*cat)->sha256));
    });
  }
}

}  // namespace zlh::api
