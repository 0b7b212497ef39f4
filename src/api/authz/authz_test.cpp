// authz against a real store file: the decision for owner, member and
// stranger, owner-or-self, the cap on audited denials, and unruled().
#include "api/authz/authz.hpp"

#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::authz {
namespace {

using store::Permission;
using store::testing::SqliteStoreTest;

class Authz : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    ann = make_user("ann");
    bob = make_user("bob");
    cid = make_user("cid");
    store::NewServer n;
    n.owner_id = ann;
    n.name = "s";
    n.hostname_prefix = "dev-";
    auto c = store->create_server(n, std::vector<std::string>{"done"});
    ASSERT_TRUE(c) << c.error().to_string();
    server = c->server.id;
    store::PermSet p;
    p.add(Permission::kConsole);
    ASSERT_TRUE(store->add_member(server, bob, p, ann));
  }
  http::Request req(std::string method, std::string route, int64_t uid, int64_t target = 0) {
    http::Request r;
    r.method = std::move(method);
    r.route = std::move(route);
    r.log_user = std::to_string(uid);
    r.params["id"] = std::to_string(server);
    if (target) r.params["user_id"] = std::to_string(target);
    r.remote_addr = "192.0.2.1";
    return r;
  }
  int denials() {
    int n = 0;
    for (const auto& e : *store->list_audit(1000)) n += e.action == "authz.denied";
    return n;
  }
  int64_t ann = 0, bob = 0, cid = 0, server = 0;
};

TEST_F(Authz, OwnerMemberStranger) {
  const std::string files = "/api/servers/{id}/files/{rest...}";
  EXPECT_TRUE(authorize(*store, req("GET", files, ann)));
  auto m = authorize(*store, req("GET", files, bob));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, codes::kForbidden);
  EXPECT_NE(m.error().message.find("files.read"), std::string::npos);
  EXPECT_TRUE(authorize(*store, req("GET", "/api/servers/{id}/console", bob)));
  EXPECT_TRUE(authorize(*store, req("HEAD", "/api/servers/{id}", bob)));  // any member
  EXPECT_EQ(authorize(*store, req("GET", files, cid)).error().code, codes::kNotFound);
  EXPECT_EQ(authorize(*store, req("GET", "/api/servers/{id}/nope", ann)).error().code,
            codes::kInternal);
  EXPECT_EQ(denials(), 1);  // the member's 403; not the stranger's 404
}

TEST_F(Authz, OwnerOrSelf) {
  const std::string one = "/api/servers/{id}/members/{user_id}";
  EXPECT_TRUE(authorize(*store, req("DELETE", one, bob, bob)));
  EXPECT_EQ(authorize(*store, req("DELETE", one, bob, ann)).error().code, codes::kForbidden);
  EXPECT_EQ(authorize(*store, req("PATCH", one, bob, bob)).error().code, codes::kForbidden);
  EXPECT_TRUE(authorize(*store, req("DELETE", one, ann, bob)));
}

TEST_F(Authz, DenialsAreAuditedUpToACapPerUserAndMinute) {
  const std::string backups = "/api/servers/{id}/backups";
  for (int i = 0; i < 45; ++i)
    EXPECT_EQ(authorize(*store, req("GET", backups, bob)).error().code, codes::kForbidden);
  EXPECT_EQ(denials(), 30);  // a minute's worth, on the store's clock
  clock.advance(std::chrono::minutes(2));
  EXPECT_FALSE(authorize(*store, req("GET", backups, bob)));
  EXPECT_EQ(denials(), 31);
}

TEST_F(Authz, UnruledListsServerRoutesWithoutARule) {
  http::Router r;
  r.add_sync("GET", "/api/servers/{id}", [](http::Request&) { return http::Response{}; });
  r.add_sync("POST", "/api/servers/{id}/brand-new",
             [](http::Request&) { return http::Response{}; });
  r.add_sync("GET", "/api/catalog", [](http::Request&) { return http::Response{}; });
  EXPECT_EQ(unruled(r), std::vector<std::string>{"POST /api/servers/{id}/brand-new"});
}

}  // namespace
}  // namespace zlh::api::authz
