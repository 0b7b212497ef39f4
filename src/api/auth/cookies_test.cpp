#include "api/auth/cookies.hpp"

#include <gtest/gtest.h>

namespace zlh::api::auth {
namespace {

TEST(CookieParse, BrowserForm) {
  auto c = parse_cookie_header("zlh_session=abc.def.ghi; theme=dark; lang=en");
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c["zlh_session"], "abc.def.ghi");
  EXPECT_EQ(c["theme"], "dark");
  EXPECT_EQ(c["lang"], "en");
}

TEST(CookieParse, Lenient) {
  auto c = parse_cookie_header(
      " a = 1 ;b=\"quoted value\";;noequals; =novalue;c=;d=x=y;\te=\t2\t; f=\"");
  EXPECT_EQ(c["a"], "1");
  EXPECT_EQ(c["b"], "quoted value");
  EXPECT_EQ(c["c"], "");
  EXPECT_EQ(c["d"], "x=y");
  EXPECT_EQ(c["e"], "2");
  EXPECT_EQ(c["f"], "\"");  // a lone quote is not a quoted value
  EXPECT_EQ(c.count("noequals"), 0u);
  EXPECT_EQ(c.count(""), 0u);
  EXPECT_EQ(c.size(), 6u);
  EXPECT_TRUE(parse_cookie_header("").empty());
  EXPECT_TRUE(parse_cookie_header(";;; ;").empty());
}

TEST(CookieParse, FirstOccurrenceWinsAndNamesAreCaseSensitive) {
  auto c = parse_cookie_header("zlh_session=first; zlh_session=second; ZLH_SESSION=upper");
  EXPECT_EQ(c["zlh_session"], "first");
  EXPECT_EQ(c["ZLH_SESSION"], "upper");
}

TEST(CookieParse, FindCookieAgreesWithTheMap) {
  const char* headers[] = {
      "zlh_session=abc.def.ghi; theme=dark",
      " a = 1 ;b=\"quoted value\";;noequals; =novalue;c=;d=x=y;\te=\t2\t; f=\"",
      "zlh_session=first; zlh_session=second; ZLH_SESSION=upper",
      "",
      ";;; ;",
      "x=1; zlh_session=\"q\""};
  for (const char* h : headers) {
    auto m = parse_cookie_header(h);
    for (std::string_view name :
         {"zlh_session", "ZLH_SESSION", "a", "b", "c", "d", "e", "f", "noequals", "", "x"}) {
      auto it = m.find(name);
      auto v = find_cookie(h, name);
      ASSERT_EQ(v.has_value(), it != m.end()) << h << " / " << name;
      if (v) EXPECT_EQ(*v, it->second) << h << " / " << name;
    }
  }
  EXPECT_EQ(find_cookie("zlh_session=first; zlh_session=second", "zlh_session"), "first");
  EXPECT_FALSE(find_cookie("zlh_sessionx=1", "zlh_session"));
}

TEST(SetCookie, SessionCookieAttributes) {
  auto c = session_cookie("aaa.bbb.ccc", 43200, false);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, "zlh_session=aaa.bbb.ccc; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax");
  auto s = session_cookie("aaa.bbb.ccc", 60, true);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s,
            "__Host-zlh_session=aaa.bbb.ccc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
}

TEST(SetCookie, RefusesValuesThatWouldInjectAttributes) {
  for (std::string bad :
       {std::string("a; Domain=evil.example"), std::string("a b"), std::string("a,b"),
        std::string("a\"b"), std::string("a\\b"), std::string("a\r\nSet-Cookie: x=y"),
        std::string("\x7f"), std::string("\xc3\xa9"), std::string()}) {
    auto r = session_cookie(bad, 60, false);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, codes::kInvalid);
  }
  EXPECT_FALSE(session_cookie("a", 0, false));
  EXPECT_TRUE(session_cookie("eyJhbGciOiJIUzI1NiJ9.e30.abc-_DEF", 1, false));
}

TEST(SetCookie, ClearingForm) {
  EXPECT_EQ(clear_session_cookie(false),
            "zlh_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
            "SameSite=Lax");
  EXPECT_EQ(
      clear_session_cookie(true),
      "__Host-zlh_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
      "SameSite=Lax; Secure");
}

TEST(SetCookie, SecureFollowsThePublicUrlScheme) {
  EXPECT_TRUE(secure_for_public_url("https://zlh.example"));
  EXPECT_TRUE(secure_for_public_url("HTTPS://zlh.example/"));
  EXPECT_FALSE(secure_for_public_url("http://127.0.0.1:8080"));
  EXPECT_FALSE(secure_for_public_url("https:/x"));
  EXPECT_FALSE(secure_for_public_url(""));
  EXPECT_FALSE(secure_for_public_url("httpsx://a"));
}

TEST(Credentials, BearerWinsOverCookie) {
  auto c = select_credential("Bearer tok.en.x", "zlh_session=cookie.tok.en");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, CredentialKind::kBearer);
  EXPECT_EQ(c->token, "tok.en.x");
  auto lower = select_credential("bearer   t", std::nullopt);
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->token, "t");
}

TEST(Credentials, CookieAndNone) {
  auto c = select_credential(std::nullopt, "x=1; zlh_session=cookie.tok.en");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, CredentialKind::kCookie);
  EXPECT_EQ(c->token, "cookie.tok.en");
  auto empty = select_credential(std::nullopt, "zlh_session=");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->kind, CredentialKind::kNone);
  auto none = select_credential(std::nullopt, std::nullopt);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->kind, CredentialKind::kNone);
  EXPECT_TRUE(none->token.empty());
}

TEST(Credentials, MalformedAuthorizationIsUnauthorizedNotCookieFallback) {
  for (const char* bad :
       {"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Bearertoken", "", "Token abc"}) {
    auto r = select_credential(std::string_view(bad), "zlh_session=cookie.tok.en");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, codes::kUnauthorized);
  }
}

TEST(Csrf, CookieAuthenticatedStateChangesNeedTheHeader) {
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE", "get", "PROPFIND"}) {
    auto r = check_csrf(m, CredentialKind::kCookie, std::nullopt);
    ASSERT_FALSE(r) << m;
    EXPECT_EQ(r.error().code, codes::kForbidden);
    EXPECT_EQ(http_status_for(r.error().code), 403);
    EXPECT_FALSE(check_csrf(m, CredentialKind::kCookie, "0"));
    EXPECT_FALSE(check_csrf(m, CredentialKind::kCookie, "true"));
    EXPECT_FALSE(check_csrf(m, CredentialKind::kCookie, ""));
    EXPECT_FALSE(check_csrf(m, CredentialKind::kCookie, "11"));
    EXPECT_TRUE(check_csrf(m, CredentialKind::kCookie, "1"));
    EXPECT_TRUE(check_csrf(m, CredentialKind::kCookie, " 1 "));
    // Bearer tokens cannot be sent cross-site by a browser on their own.
    EXPECT_TRUE(check_csrf(m, CredentialKind::kBearer, std::nullopt));
    EXPECT_TRUE(check_csrf(m, CredentialKind::kNone, std::nullopt));
  }
}

TEST(Csrf, SafeMethodsPassWithoutTheHeader) {
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) {
    EXPECT_FALSE(is_state_changing(m));
    EXPECT_TRUE(check_csrf(m, CredentialKind::kCookie, std::nullopt)) << m;
  }
  EXPECT_TRUE(is_state_changing("POST"));
  EXPECT_TRUE(is_state_changing("get"));
}

}  // namespace
}  // namespace zlh::api::auth

namespace zlh::api::auth {
namespace {

// L8: on https the session cookie carries the __Host- prefix, and only that
// one is a credential (a sibling host could plant a plain zlh_session).
TEST(Cookies, HttpsUsesTheHostPrefixAndOnlyThatCounts) {
  auto c = session_cookie("tok.en", 60, true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->rfind("__Host-zlh_session=tok.en; Path=/;", 0), 0u) << *c;
  EXPECT_NE(c->find("; Secure"), std::string::npos);
  EXPECT_EQ(c->find("Domain"), std::string::npos);
  EXPECT_EQ(clear_session_cookie(true).rfind("__Host-zlh_session=;", 0), 0u);
  EXPECT_EQ(session_cookie("t", 60, false)->rfind("zlh_session=t;", 0), 0u);

  auto planted = select_credential(std::nullopt, "zlh_session=planted", true);
  ASSERT_TRUE(planted);
  EXPECT_EQ(planted->kind, CredentialKind::kNone);
  auto real = select_credential(std::nullopt, "zlh_session=planted; __Host-zlh_session=real", true);
  ASSERT_TRUE(real);
  EXPECT_EQ(real->kind, CredentialKind::kCookie);
  EXPECT_EQ(real->token, "real");
  auto plain = select_credential(std::nullopt, "__Host-zlh_session=x; zlh_session=y", false);
  EXPECT_EQ(plain->token, "y");
}

}  // namespace
}  // namespace zlh::api::auth
