#include "http/http.hpp"

#include <gtest/gtest.h>

namespace zlh::http {
namespace {

Router table() {
  Router r;
  auto nop = [](Request&) { return Response::text(200, ""); };
  r.add_sync("GET", "/health", nop);
  r.add_sync("GET", "/runtimes", nop);
  r.add_sync("POST", "/runtimes/install", nop);
  r.add_sync("POST", "/runtimes/{id}/use", nop);
  r.add_sync("DELETE", "/runtimes/{id}/{version}", nop);
  r.add_sync("GET", "/files/{path...}", nop);
  r.add_ws("/console", [](Request&) -> Result<std::shared_ptr<WsHandler>> {
    return fail(codes::kNotFound, "x");
  });
  return r;
}

TEST(SegmentReader, SkipsEmptySegmentsAndEndsOnce) {
  auto all = [](std::string_view path) {
    std::vector<std::string> out;
    SegmentReader r(path);
    while (auto seg = r.next()) out.emplace_back(*seg);
    EXPECT_FALSE(r.next().has_value());
    return out;
  };
  EXPECT_EQ(all("/a//b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(all("a/b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(all("/x/..%2F/y"), (std::vector<std::string>{"x", "..%2F", "y"}));
  EXPECT_TRUE(all("").empty());
  EXPECT_TRUE(all("///").empty());
}

TEST(Router, LiteralAndParams) {
  auto r = table();
  auto m = r.match("GET", "/health", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route->pattern, "/health");

  m = r.match("POST", "/runtimes/install", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route->pattern, "/runtimes/install");  // literal wins: registered first

  m = r.match("POST", "/runtimes/node/use", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.params.at("id"), "node");

  m = r.match("DELETE", "/runtimes/node/20.18.0", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.params.at("version"), "20.18.0");
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  auto r = table();
  EXPECT_EQ(r.match("GET", "/nope", false).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(r.match("GET", "/health/x", false).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(r.match("GET", "/health/", false).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(r.match("GET", "/runtimes/node", false).kind, Router::MatchKind::kNotFound);
  auto m = r.match("POST", "/health", false);
  EXPECT_EQ(m.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET");
  // HEAD is served by GET routes.
  EXPECT_EQ(r.match("HEAD", "/health", false).kind, Router::MatchKind::kFound);
}

TEST(Router, RestParameterAndWebSocketSeparation) {
  auto r = table();
  auto m = r.match("GET", "/files/a/b/c.txt", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.params.at("path"), "a/b/c.txt");
  m = r.match("GET", "/files/dir/", false);
  EXPECT_EQ(m.params.at("path"), "dir/");
  // A WebSocket route is not a plain route and vice versa.
  EXPECT_EQ(r.match("GET", "/console", false).kind, Router::MatchKind::kNotFound);
  EXPECT_EQ(r.match("GET", "/console", true).kind, Router::MatchKind::kFound);
  EXPECT_EQ(r.match("GET", "/health", true).kind, Router::MatchKind::kNotFound);
}

// Routes are looked up by their first segment, but the first route added
// that matches still wins, whether it starts with a literal or a parameter;
// the 405's Allow lists methods from both kinds.
TEST(Router, FirstAddedWinsAcrossLiteralAndParameterStarts) {
  Router r;
  Handler h = [](Request&, Responder) {};
  r.add("GET", "/a/{x}", h);
  r.add("GET", "/{y}/b", h);
  r.add("GET", "/a/b", h);
  r.add("PUT", "/{y}/c", h);
  r.add("POST", "/a/c", h);
  r.add("GET", "/", h);
  r.add("GET", "/{z}/d", h);
  r.add("GET", "/a/d", h);
  auto m = r.match("GET", "/a/b", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route->pattern, "/a/{x}");
  m = r.match("GET", "/q/b", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route->pattern, "/{y}/b");
  EXPECT_EQ(m.params.at("y"), "q");
  m = r.match("GET", "/a/d", false);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route->pattern, "/a/{x}");  // added before /{z}/d and /a/d
  m = r.match("DELETE", "/a/c", false);
  EXPECT_EQ(m.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, PUT, POST");  // in the order the routes were added
  EXPECT_EQ(r.match("GET", "/", false).route->pattern, "/");
  EXPECT_EQ(r.match("GET", "/zz/zz", false).kind, Router::MatchKind::kNotFound);
}

TEST(Url, DecodeAndQuery) {
  EXPECT_EQ(*url_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(*url_decode("a%20b+c", true), "a b c");
  EXPECT_FALSE(url_decode("%zz", false));
  EXPECT_FALSE(url_decode("%2", false));
  EXPECT_FALSE(url_decode("a%00b", false));
  EXPECT_EQ(*url_decode("%2e%2E%2f", false), "../");
  auto q = parse_query("path=a%2Fb&x=&y&path=c");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("path"), "c");
  EXPECT_EQ(q->at("x"), "");
  EXPECT_EQ(q->at("y"), "");
  EXPECT_EQ(url_encode("a b/ü"), "a%20b%2F%C3%BC");
}

TEST(Request, BearerAndHeaders) {
  Request req;
  req.headers.add("authorization", "Bearer  abc.def.ghi ");
  EXPECT_EQ(*req.bearer_token(), "abc.def.ghi");
  req.headers.set("Authorization", "Basic xyz");
  EXPECT_FALSE(req.bearer_token());
  req.headers.set("Authorization", "Bearer ");
  EXPECT_FALSE(req.bearer_token());
  req.query = "path=%2Fetc&n=1";
  EXPECT_EQ(*req.query_param("path"), "/etc");
  EXPECT_FALSE(req.query_param("nope"));
}

}  // namespace
}  // namespace zlh::http
