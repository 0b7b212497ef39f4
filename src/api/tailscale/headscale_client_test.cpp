// The Headscale client: the requests it makes (a recording transport) and
// the whole exchange with tests/fixtures/fake_headscale.py over libcurl, in
// each API form (0.25 names users, 0.26 numbers them, 0.28 expires by id).
#include "api/tailscale/headscale_client.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "fake_headscale.hpp"

namespace zlh::api::tailscale {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kKey = "hs-api-key-SECRET-77";

// Answers from a queue and records every call.
class RecordingTransport : public HttpTransport {
 public:
  Result<HttpReply> perform(const HttpCall& call) override {
    std::lock_guard lk(mu_);
    calls.push_back(call);
    if (replies.empty()) return HttpReply{200, "{}"};
    auto r = replies.front();
    replies.erase(replies.begin());
    return r;
  }
  std::mutex mu_;
  std::vector<HttpCall> calls;
  std::vector<Result<HttpReply>> replies;
};

HeadscaleClient client_for(const std::string& version, std::shared_ptr<HttpTransport> t,
                           const std::string& url = "http://hs.test") {
  return HeadscaleClient({url, kKey, *HeadscaleVersion::parse(version), 5s}, std::move(t));
}

std::string header(const HttpCall& c, const std::string& name) {
  for (const auto& [k, v] : c.headers)
    if (k == name) return v;
  return "";
}

const std::string kKey025 =
    R"({"preAuthKey":{"user":"zlh-u1","id":"4","key":"abc123","reusable":false,"ephemeral":false,"used":false,)"
    R"("expiration":"2030-01-01T00:00:00Z","createdAt":"2029-12-31T23:00:00Z","aclTags":["tag:zlh-dev"]}})";
const std::string kKey026 =
    R"({"preAuthKey":{"user":{"id":"1","name":"zlh-u1"},"id":"4","key":"abc123","reusable":false,)"
    R"("ephemeral":false,"used":false,"expiration":"2030-01-01T00:00:00Z","createdAt":"2029-12-31T23:00:00Z",)"
    R"("aclTags":[]}})";

TEST(HeadscaleClientRequests, Version025NamesTheUser) {
  auto t = std::make_shared<RecordingTransport>();
  t->replies = {HttpReply{200, kKey025}, HttpReply{200, "{}"}};
  auto c = client_for("0.25", t);
  HeadscaleUser u{"1", "zlh-u1"};
  auto exp = std::chrono::system_clock::from_time_t(1893456000);  // 2030-01-01
  auto k = c.create_preauth_key({u, false, false, exp, {"tag:zlh-dev"}});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->id, "4");
  EXPECT_EQ(k->key, "abc123");
  EXPECT_EQ(k->user, "zlh-u1");
  EXPECT_EQ(k->acl_tags, std::vector<std::string>{"tag:zlh-dev"});
  ASSERT_EQ(t->calls.size(), 1u);
  EXPECT_EQ(t->calls[0].method, "POST");
  EXPECT_EQ(t->calls[0].url, "http://hs.test/api/v1/preauthkey");
  EXPECT_EQ(header(t->calls[0], "Authorization"), std::string("Bearer ") + kKey);
  auto body = json::parse(t->calls[0].body);
  EXPECT_EQ(body["user"], "zlh-u1");
  EXPECT_EQ(body["reusable"], false);
  EXPECT_EQ(body["ephemeral"], false);
  EXPECT_EQ(body["expiration"], "2030-01-01T00:00:00Z");
  EXPECT_EQ(body["aclTags"], json::array({"tag:zlh-dev"}));
  ASSERT_TRUE(c.expire_preauth_key(u, *k));
  EXPECT_EQ(json::parse(t->calls[1].body), (json{{"user", "zlh-u1"}, {"key", "abc123"}}));
  (void)c.list_preauth_keys(u);
  EXPECT_EQ(t->calls[2].url, "http://hs.test/api/v1/preauthkey?user=zlh-u1");
}

TEST(HeadscaleClientRequests, Version026NumbersTheUser) {
  auto t = std::make_shared<RecordingTransport>();
  t->replies = {HttpReply{200, kKey026}, HttpReply{200, "{}"}};
  auto c = client_for("0.26", t);
  HeadscaleUser u{"1", "zlh-u1"};
  auto k = c.create_preauth_key({u, false, false, std::chrono::system_clock::now() + 1h, {}});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->user, "zlh-u1");  // from the User object
  auto body = json::parse(t->calls[0].body);
  EXPECT_TRUE(body["user"].is_number_unsigned());
  EXPECT_EQ(body["user"], 1);
  EXPECT_EQ(body["aclTags"], json::array());
  ASSERT_TRUE(c.expire_preauth_key(u, *k));
  EXPECT_EQ(json::parse(t->calls[1].body), (json{{"user", 1}, {"key", "abc123"}}));
  (void)c.list_preauth_keys(u);
  EXPECT_EQ(t->calls[2].url, "http://hs.test/api/v1/preauthkey?user=1");
}

TEST(HeadscaleClientRequests, Version028ExpiresByIdAndFiltersTheList) {
  auto t = std::make_shared<RecordingTransport>();
  t->replies = {HttpReply{200, R"({"preAuthKeys":[
      {"user":{"id":"1","name":"zlh-u1"},"id":"4","key":"hskey-auth-aa-***","used":false},
      {"user":{"id":"2","name":"zlh-u2"},"id":"5","key":"hskey-auth-bb-***","used":false},
      {"user":null,"id":"6","key":"hskey-auth-cc-***","aclTags":["tag:x"]}]})"},
                HttpReply{200, "{}"}};
  auto c = client_for("0.28", t);
  HeadscaleUser u{"1", "zlh-u1"};
  auto keys = c.list_preauth_keys(u);
  ASSERT_TRUE(keys) << keys.error().message;
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id, "4");
  EXPECT_EQ(t->calls[0].url, "http://hs.test/api/v1/preauthkey");
  ASSERT_TRUE(c.expire_preauth_key(u, (*keys)[0]));  // the masked key is not needed
  EXPECT_EQ(json::parse(t->calls[1].body), (json{{"id", 4}}));
}

TEST(HeadscaleClientRequests, ErrorsCarryHeadscalesReasonAndNeverTheKey) {
  auto t = std::make_shared<RecordingTransport>();
  t->replies = {HttpReply{500, R"({"code":2,"message":"user not found","details":[]})"},
                HttpReply{401, "Unauthorized"},
                fail(codes::kUpstream, "Failed to connect to hs.test port 443"),
                HttpReply{400, std::string(R"({"code":3,"message":"bad key )") + kKey + R"("})"},
                HttpReply{200, "<html>not json</html>"},
                fail(codes::kTimeout, "no answer within 5000 ms")};
  auto c = client_for("0.26", t);
  HeadscaleUser u{"9", "zlh-u9"};
  auto now = std::chrono::system_clock::now();
  auto e1 = c.create_preauth_key({u, false, false, now, {}});
  ASSERT_FALSE(e1);
  EXPECT_EQ(e1.error().code, codes::kUpstream);
  EXPECT_EQ(e1.error().message, "create pre-auth key: headscale answered 500: user not found");
  auto e2 = c.create_preauth_key({u, false, false, now, {}});
  ASSERT_FALSE(e2);
  EXPECT_NE(e2.error().message.find("401"), std::string::npos);
  EXPECT_NE(e2.error().message.find("API key"), std::string::npos);
  auto e3 = c.find_user("zlh-u9");
  ASSERT_FALSE(e3);
  EXPECT_EQ(e3.error().code, codes::kUpstream);
  EXPECT_NE(e3.error().message.find("Failed to connect"), std::string::npos);
  auto e4 = c.create_user("zlh-u9");
  ASSERT_FALSE(e4);
  EXPECT_EQ(e4.error().message.find(kKey), std::string::npos) << e4.error().message;
  EXPECT_NE(e4.error().message.find("<redacted>"), std::string::npos);
  auto e5 = c.find_user("zlh-u9");
  ASSERT_FALSE(e5);
  EXPECT_EQ(e5.error().code, codes::kUpstream);
  auto e6 = c.find_user("zlh-u9");
  ASSERT_FALSE(e6);
  EXPECT_EQ(e6.error().code, codes::kTimeout);
}

TEST(HeadscaleClientRequests, EnsureUserCreatesOnlyWhenMissing) {
  auto t = std::make_shared<RecordingTransport>();
  t->replies = {HttpReply{200, R"({"users":[{"id":"3","name":"zlh-u3"}]})"}};
  auto c = client_for("0.26", t);
  auto u = c.ensure_user("zlh-u3");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id, "3");
  ASSERT_EQ(t->calls.size(), 1u);
  EXPECT_EQ(t->calls[0].url, "http://hs.test/api/v1/user?name=zlh-u3");
  // Missing: created. A filter the server ignores does not confuse the match.
  t->replies = {HttpReply{200, R"({"users":[{"id":"1","name":"other"}]})"},
                HttpReply{200, R"({"user":{"id":"4","name":"zlh-u4"}})"}};
  auto v = c.ensure_user("zlh-u4");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->id, "4");
  EXPECT_EQ(json::parse(t->calls.back().body), (json{{"name", "zlh-u4"}}));
  // A lost race: the create fails, the winner is found.
  t->replies = {HttpReply{200, R"({"users":[]})"},
                HttpReply{500, R"({"message":"UNIQUE constraint failed"})"},
                HttpReply{200, R"({"users":[{"id":"5","name":"zlh-u5"}]})"}};
  auto w = c.ensure_user("zlh-u5");
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->id, "5");
}

// ---- against fake_headscale.py over libcurl --------------------------------

class FakeHeadscaleTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-hsfake-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto f = testing::FakeHeadscale::start({GetParam(), kKey, "127.0.0.1", dir_});
    ASSERT_TRUE(f) << f.error().message;
    fake_ = std::move(*f);
  }
  void TearDown() override {
    fake_.reset();
    std::filesystem::remove_all(dir_);
  }
  HeadscaleClient client(const std::string& version, const std::string& key = kKey) {
    return HeadscaleClient({fake_->url(), key, *HeadscaleVersion::parse(version), 5s},
                           std::make_shared<CurlTransport>());
  }
  std::string dir_;
  std::unique_ptr<testing::FakeHeadscale> fake_;
};

TEST_P(FakeHeadscaleTest, UsersKeysListAndExpire) {
  auto c = client(GetParam());
  auto u = c.ensure_user("zlh-u1");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->name, "zlh-u1");
  auto again = c.ensure_user("zlh-u1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, u->id);
  auto other = c.ensure_user("zlh-u2");
  ASSERT_TRUE(other);
  EXPECT_NE(other->id, u->id);
  EXPECT_EQ(fake_->state()["users"].size(), 2u);

  auto exp = std::chrono::system_clock::now() + 2h;
  auto k1 = c.create_preauth_key({*u, false, false, exp, {"tag:zlh-dev"}});
  ASSERT_TRUE(k1) << k1.error().message;
  EXPECT_FALSE(k1->key.empty());
  EXPECT_FALSE(k1->reusable);
  EXPECT_FALSE(k1->ephemeral);
  EXPECT_EQ(k1->acl_tags, std::vector<std::string>{"tag:zlh-dev"});
  EXPECT_EQ(k1->expiration, rfc3339(exp));
  EXPECT_EQ(k1->user, "zlh-u1");
  auto k2 = c.create_preauth_key({*other, false, false, exp, {}});
  ASSERT_TRUE(k2);
  // The recorded body is what Headscale's API documents.
  json first_create;
  for (const auto& r : fake_->requests())
    if (r["method"] == "POST" && r["path"] == "/api/v1/preauthkey") {
      first_create = r["body"];
      break;
    }
  EXPECT_EQ(first_create["reusable"], false);
  EXPECT_EQ(first_create["ephemeral"], false);
  EXPECT_EQ(first_create["expiration"], rfc3339(exp));
  EXPECT_EQ(first_create["aclTags"], json::array({"tag:zlh-dev"}));
  if (GetParam() == "0.25")
    EXPECT_EQ(first_create["user"], "zlh-u1");
  else
    EXPECT_EQ(first_create["user"], std::stoi(u->id));

  auto list = c.list_preauth_keys(*u);
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 1u);  // only this user's key
  EXPECT_EQ((*list)[0].id, k1->id);
  EXPECT_FALSE((*list)[0].used);

  ASSERT_TRUE(c.expire_preauth_key(*u, (*list)[0]));
  auto after = c.list_preauth_keys(*u);
  ASSERT_TRUE(after);
  EXPECT_LT((*after)[0].expiration.substr(0, 19), rfc3339(exp).substr(0, 19));
  // Another user's key is not this user's to expire (before 0.28 Headscale checks).
  if (GetParam() != "0.28") {
    auto cross = c.expire_preauth_key(*u, *k2);
    ASSERT_FALSE(cross);
    EXPECT_EQ(cross.error().code, codes::kUpstream);
  }
  for (const auto& r : fake_->requests()) EXPECT_TRUE(r["authorized"].get<bool>()) << r.dump();
}

TEST_P(FakeHeadscaleTest, TheWrongUserFormIsRefusedLikeHeadscaleDoes) {
  ASSERT_TRUE(client(GetParam()).ensure_user("zlh-u1"));
  std::string wrong = GetParam() == "0.25" ? "0.26" : "0.25";
  auto c = client(wrong);
  auto u = c.find_user("zlh-u1");
  ASSERT_TRUE(u && *u);
  auto k = c.create_preauth_key({**u, false, false, std::chrono::system_clock::now() + 1h, {}});
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, codes::kUpstream);
  if (GetParam() == "0.25")
    EXPECT_NE(k.error().message.find("invalid value for string field user"), std::string::npos)
        << k.error().message;
  else
    EXPECT_NE(k.error().message.find("invalid value for uint64 field user"), std::string::npos)
        << k.error().message;
  EXPECT_TRUE(fake_->state()["keys"].empty());
}

TEST_P(FakeHeadscaleTest, ABadBearerIsAnUpstreamErrorWithoutTheKey) {
  auto c = client(GetParam(), "not-the-key-123");
  auto u = c.ensure_user("zlh-u1");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, codes::kUpstream);
  EXPECT_NE(u.error().message.find("401"), std::string::npos) << u.error().message;
  EXPECT_EQ(u.error().message.find("not-the-key-123"), std::string::npos);
  EXPECT_TRUE(fake_->state()["users"].empty());
  auto reqs = fake_->requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_FALSE(reqs[0]["authorized"].get<bool>());
}

TEST_P(FakeHeadscaleTest, AnInjectedFailureSurfacesItsMessage) {
  auto c = client(GetParam());
  auto u = c.ensure_user("zlh-u1");
  ASSERT_TRUE(u);
  fake_->fail_next("create_preauthkey", 500, "quota of pre-auth keys reached");
  auto k = c.create_preauth_key({*u, false, false, std::chrono::system_clock::now() + 1h, {}});
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, codes::kUpstream);
  EXPECT_EQ(k.error().message,
            "create pre-auth key: headscale answered 500: quota of pre-auth keys reached");
  // Only the next one.
  EXPECT_TRUE(c.create_preauth_key({*u, false, false, std::chrono::system_clock::now() + 1h, {}}));
}

TEST(HeadscaleClientCurl, NothingListeningIsAnUpstreamError) {
  HeadscaleClient c({"http://127.0.0.1:1", kKey, *HeadscaleVersion::parse("0.26"), 2s},
                    std::make_shared<CurlTransport>());
  auto u = c.find_user("zlh-u1");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, codes::kUpstream);
  EXPECT_EQ(u.error().message.find(kKey), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Versions, FakeHeadscaleTest, ::testing::Values("0.25", "0.26", "0.28"), [](const auto& info) {
      return "v" + std::string(info.param == "0.25" ? "025" : info.param == "0.26" ? "026" : "028");
    });

}  // namespace
}  // namespace zlh::api::tailscale
