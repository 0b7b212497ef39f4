#include "api/app/openapi.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/authz/authz.hpp"
#include "version.hpp"

namespace zlh::api {

using http::Request;
using http::Response;

void add_openapi_route(http::Router& r) {
  http::RouteOptions pub;
  pub.is_public = true;
  // Every route of this table, generated from it, so it cannot drift.
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& rt : r.routes()) {
    std::vector<std::string> methods{rt.method == "WS" ? "get" : rt.method};
    if (rt.is_proxy) methods = rt.methods;  // a proxy route for any method is not described
    for (std::string m : methods) {
      std::transform(m.begin(), m.end(), m.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      nlohmann::json op = {
          {"responses",
           {{"default", {{"description", "JSON; errors are {error:{code,message}}"}}}}}};
      if (!rt.options.is_public)
        op["security"] = nlohmann::json::array(
            {{{"bearer", nlohmann::json::array()}}, {{"cookie", nlohmann::json::array()}}});
      if (rt.method == "WS") op["description"] = "WebSocket upgrade";
      // Who may call it (api/authz/rules.cpp): member, owner or a permission.
      std::string upper = m;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char ch) { return std::toupper(ch); });
      if (const authz::Rule* rule = authz::find_rule(upper, rt.pattern))
        op["x-zlh-access"] =
            rule->need == authz::Need::kMember ? std::string("member")
            : rule->need == authz::Need::kOwner
                ? std::string("owner")
                : std::string("permission:") + std::string(store::to_string(rule->permission));
      paths[rt.pattern][m] = op;
    }
  }
  paths["/api/openapi.json"]["get"] = {
      {"responses", {{"200", {{"description", "this document"}}}}}};
  nlohmann::json doc = {
      {"openapi", "3.0.3"},
      {"info", {{"title", "zlh-api"}, {"version", kVersion}}},
      {"paths", paths},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
          {"cookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "zlh_session"}}}}}}}};
  r.add_sync(
      "GET", "/api/openapi.json", [doc](Request&) { return Response::json(200, doc); }, pub);
}

}  // namespace zlh::api
