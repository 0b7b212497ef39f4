#include "api/relay/forwarding.hpp"

#include <gtest/gtest.h>

namespace zlh::api::relay {
namespace {

TEST(AgentTarget, KeepsTheRestAndTheQuery) {
  EXPECT_EQ(agent_target("/api/servers/7/files/read", "path=a%20b", 3), "/files/read?path=a%20b");
  EXPECT_EQ(agent_target("/api/servers/7/files/list", "", 3), "/files/list");
  EXPECT_EQ(agent_target("/api/servers/7/mods", "", 3), "/mods");
  EXPECT_EQ(agent_target("/api/servers/7/mods/fabric-api%2B1.0/disable", "", 3),
            "/mods/fabric-api%2B1.0/disable");
  EXPECT_EQ(agent_target("/api/servers/7//files//read/", "", 3), "/files/read");
  // The traversal in the query is the agent's resolver's to refuse.
  EXPECT_EQ(agent_target("/api/servers/7/files/read", "path=../../etc/passwd", 3),
            "/files/read?path=../../etc/passwd");
}

TEST(AgentTarget, NoSegmentEscapesItsRoute) {
  for (const char* p :
       {"/api/servers/7/files/../status", "/api/servers/7/files/%2e%2e/status",
        "/api/servers/7/files/%2E%2E/status", "/api/servers/7/files/./read",
        "/api/servers/7/files/a%2Fb", "/api/servers/7/files/a%5Cb", "/api/servers/7/files/%00",
        "/api/servers/7/files/%zz", "/api/servers/7/mods/%2e%2e%2fstatus"}) {
    auto t = agent_target(p, "", 3);
    ASSERT_FALSE(t) << p << " → " << *t;
    EXPECT_EQ(t.error().code, codes::kBadPath) << p;
  }
  EXPECT_FALSE(agent_target("/api/servers/7", "", 3));
}

TEST(Headers, OnlyContentHeadersGoToTheAgent) {
  for (auto n : {"Authorization", "Cookie", "Content-Length", "Transfer-Encoding", "Connection",
                 "X-ZLH-CSRF", "X-Forwarded-For", "Host"})
    EXPECT_FALSE(header_to_agent(n)) << n;
  for (auto n : {"content-type", "Range", "If-Range", "Accept"})
    EXPECT_TRUE(header_to_agent(n)) << n;
}

TEST(Headers, AnswerHeadersPassBackWithoutFraming) {
  for (auto n : {"Content-Type", "Content-Range", "Content-Disposition", "Accept-Ranges",
                 "X-ZLH-Restart-Required", "etag", "Last-Modified", "Retry-After"})
    EXPECT_TRUE(header_to_client(n)) << n;
  for (auto n : {"Set-Cookie", "Server", "Content-Length", "Transfer-Encoding", "X-Powered-By"})
    EXPECT_FALSE(header_to_client(n)) << n;
}

TEST(ErrorFromAgent, KeepsTheAgentsCodeMessageAndField) {
  auto e =
      error_from_agent(400, R"({"error":{"code":"E_BADPATH","message":"path escapes the root"}})");
  EXPECT_EQ(e.code, codes::kBadPath);
  EXPECT_EQ(e.message, "path escapes the root");
  e = error_from_agent(400, R"({"error":{"code":"E_INVALID","message":"m","field":"path"}})");
  EXPECT_EQ(e.field, "path");
  EXPECT_EQ(error_from_agent(413, R"({"error":{"code":"E_TOO_LARGE","message":"big"}})").code,
            codes::kTooLarge);
  EXPECT_EQ(error_from_agent(502, "<html>bad gateway</html>").code, codes::kUpstream);
  EXPECT_EQ(error_from_agent(400, R"({"error":{"code":5}})").code, codes::kUpstream);
  EXPECT_EQ(error_from_agent(400, R"({"error":"x"})").code, codes::kUpstream);
  // The agent refusing the API's token is not the user's 401.
  EXPECT_EQ(
      error_from_agent(401, R"({"error":{"code":"E_UNAUTHORIZED","message":"bad token"}})").code,
      codes::kUpstream);
  EXPECT_TRUE(agent_refused_api(401));
  EXPECT_FALSE(agent_refused_api(403));
}

TEST(ErrorFromAgent, AnUnknownCodeIsUpstreamWithTheCodeInTheMessage) {
  auto e = error_from_agent(
      418, R"({"error":{"code":"E_TEAPOT","message":"short and stout","field":"spout"}})");
  EXPECT_EQ(e.code, codes::kUpstream);
  EXPECT_EQ(e.message, "E_TEAPOT: short and stout");
  EXPECT_EQ(e.field, "spout");
}

}  // namespace
}  // namespace zlh::api::relay
