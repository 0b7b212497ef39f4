// The IDE origin's pure rules: --ide-origin parsing and Host matching, the
// cookie and ticket text helpers (docs/ide.md).
#include <gtest/gtest.h>

#include "api/ide/ide_origin.hpp"
#include "api/ide/ide_proxy.hpp"

namespace zlh::api {
namespace {

TEST(IdeOrigin, PerServerOriginsFromTheTemplate) {
  auto o = IdeOrigin::parse("http://{vmid}.localhost:8081", "http://127.0.0.1:8080");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->per_server());
  EXPECT_FALSE(o->secure());
  EXPECT_EQ(o->origin(6001), "http://6001.localhost:8081");
  EXPECT_EQ(o->host(6001), "6001.localhost:8081");
  EXPECT_TRUE(o->host_matches("6001.localhost:8081", 6001));
  EXPECT_TRUE(o->host_matches("6001.LOCALHOST:8081", 6001));
  EXPECT_FALSE(o->host_matches("6002.localhost:8081", 6001));
  EXPECT_FALSE(o->host_matches("6001.localhost", 6001));
  EXPECT_FALSE(o->host_matches("127.0.0.1:8081", 6001));
  EXPECT_FALSE(o->host_matches("", 6001));

  auto p = IdeOrigin::parse("https://{vmid}.ide.example.com/", "https://zlh.example.com");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->secure());
  EXPECT_EQ(p->origin(5000), "https://5000.ide.example.com");
  EXPECT_TRUE(p->host_matches("5000.ide.example.com", 5000));
  EXPECT_TRUE(p->host_matches("5000.ide.example.com:443", 5000))
      << "the default port may be written";
  EXPECT_FALSE(p->host_matches("5000.ide.example.com:80", 5000));
  auto q = IdeOrigin::parse("http://{vmid}.ide.test:80", "http://zlh.test");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->host_matches("7.ide.test", 7));
  EXPECT_TRUE(q->host_matches("7.ide.test:80", 7));
}

TEST(IdeOrigin, AFixedHostIsAllowedButShared) {
  auto o = IdeOrigin::parse("https://ide.example.net", "https://zlh.example.com");
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->per_server());
  EXPECT_EQ(o->origin(1), "https://ide.example.net");
  EXPECT_EQ(o->origin(2), "https://ide.example.net");
}

TEST(IdeOrigin, RefusesWhatIsNotASeparateOrigin) {
  const std::string portal = "https://zlh.example.com";
  for (const char* bad :
       {"ide.example.com", "ftp://{vmid}.x.com", "https://{vmid}.x.com/ide",
        "https://{vmid}.x.com?a", "https://u@{vmid}.x.com", "https://{vmid}.{vmid}.x.com",
        "https://{vmid}.x.com:0", "https://{vmid}.x.com:99999", "https://{vmid}.x.com:8a",
        "https://{vmid}..x.com", "https://bad_host.com", "https://", "https://zlh.example.com",
        "https://ZLH.example.com:8443", "https://{vmid}.zlh.example.com",
        "https://a.zlh.example.com"}) {
    auto o = IdeOrigin::parse(bad, portal);
    EXPECT_FALSE(o) << bad;
    if (!o) {
      EXPECT_EQ(o.error().field, "ide-origin") << bad;
    }
  }
  EXPECT_TRUE(IdeOrigin::parse("https://{vmid}.example-ide.net", portal));
  // The portal on a bare address: any other name is another host.
  EXPECT_TRUE(IdeOrigin::parse("http://{vmid}.localhost:8081", "http://127.0.0.1:8080"));
  EXPECT_FALSE(IdeOrigin::parse("http://127.0.0.1:8081", "http://127.0.0.1:8080"));
}

TEST(IdePieces, PlatformCookiesNeverCross) {
  EXPECT_EQ(ide::strip_platform_cookies("zlh_session=a; theme=dark; zlh_ide=b;x=1"),
            "theme=dark; x=1");
  EXPECT_EQ(ide::strip_platform_cookies("zlh_ide=b"), "");
  EXPECT_EQ(ide::strip_platform_cookies(" zlh_session = a ; zlh_idea=1"), "zlh_idea=1");
  EXPECT_TRUE(ide::sets_platform_cookie("zlh_ide=planted; Path=/"));
  EXPECT_TRUE(ide::sets_platform_cookie(" zlh_session =x"));
  EXPECT_FALSE(ide::sets_platform_cookie("ide-pref=dark; Path=/"));
  EXPECT_FALSE(ide::sets_platform_cookie("garbage"));
}

TEST(IdePieces, TicketLeavesTheUrlAndTheCookieIsScoped) {
  EXPECT_EQ(ide::without_ticket("/dev/1/ide/?zlh_ticket=abc"), "/dev/1/ide/");
  EXPECT_EQ(ide::without_ticket("/dev/1/ide/?folder=/w&zlh_ticket=abc&x=1"),
            "/dev/1/ide/?folder=/w&x=1");
  EXPECT_EQ(ide::without_ticket("/dev/1/ide/?zlh_ticket"), "/dev/1/ide/");
  EXPECT_EQ(ide::without_ticket("/dev/1/ide/x"), "/dev/1/ide/x");
  EXPECT_EQ(ide::without_ticket("/dev/1/ide/?zlh_tickets=1"), "/dev/1/ide/?zlh_tickets=1");
  EXPECT_EQ(ide::ide_cookie("v", 6001, false),
            "zlh_ide=v; Path=/dev/6001/; HttpOnly; SameSite=Lax");
  EXPECT_EQ(ide::ide_cookie("v", 6001, true),
            "zlh_ide=v; Path=/dev/6001/; HttpOnly; SameSite=Lax; Secure");
}

TEST(IdePieces, PreviewablePorts) {
  EXPECT_TRUE(ide::previewable_port(1024));
  EXPECT_TRUE(ide::previewable_port(3000));
  EXPECT_TRUE(ide::previewable_port(65535));
  EXPECT_FALSE(ide::previewable_port(18888));
  EXPECT_FALSE(ide::previewable_port(1023));
  EXPECT_FALSE(ide::previewable_port(80));
  EXPECT_FALSE(ide::previewable_port(65536));
  EXPECT_FALSE(ide::previewable_port(-1));
}

}  // namespace
}  // namespace zlh::api
