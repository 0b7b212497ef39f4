// zlh-api's Headscale/Tailscale routes (docs/design.md §10.6) through the real
// binary with the local driver, a real dev container (the tiny tool
// runtime), a tailscale stand-in addon that records what `tailscale up`
// received, and tests/fixtures/fake_headscale.py as Headscale.
//
// vmid window: dev vmids 16000–19999 (a random 200-wide slice), which no
// other test uses (api/relay: 20000–45599, api_stress: 7000–15999, local
// driver: 40000–64999, agent-only tests: 5001, 5002, 6001).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "fake_headscale.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// tailscale and tailscaled in one script: records argv (one per line) next
// to the addon's state, and what the --auth-key=file: file held; `tailscale
// up` fails while a file "fail-up" is there, and waits while "hold-up" is.
constexpr const char* kStandin = R"(#!/bin/sh
name=$(basename "$0")
dir=$(dirname "$0")/../../data
mkdir -p "$dir"
: > "$dir/$name.args"
for a in "$@"; do
  case "$a" in
    --auth-key=file:*) cat "${a#--auth-key=file:}" > "$dir/$name.key-received"; echo "--auth-key=file:<path>" >> "$dir/$name.args" ;;
    *) echo "$a" >> "$dir/$name.args" ;;
  esac
done
if [ "$name" = tailscale ] && [ -e "$dir/hold-up" ]; then
  : > "$dir/up-waiting"
  while [ -e "$dir/hold-up" ]; do sleep 0.05; done
fi
if [ "$name" = tailscale ] && [ -e "$dir/fail-up" ]; then
  echo "backend error: invalid key: unable to validate API key" >&2
  exit 1
fi
if [ "$name" = tailscaled ]; then
  trap 'exit 0' TERM
  while :; do sleep 1; done
fi
exit 0
)";

// Headscale's timestamp form: 2026-01-02T03:04:05Z.
std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class TailscaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("tailscale");
    data_ = dir_ + "/data";
    store_ = dir_ + "/store";
    keys_ = dir_ + "/keys";
    make_tool_store(dir_, store_, keys_, /*sign=*/false);
    ASSERT_FALSE(HasFatalFailure());
    std::string ts = dir_ + "/tailscale.tar.gz";
    write_archive(ts, {ArchiveEntry::file("ts/bin/tailscale", kStandin, 0755),
                       ArchiveEntry::file("ts/bin/tailscaled", kStandin, 0755)});
    auto add = zlhctl({"catalog", "add", "--store", store_, "--kind", "addon", "--id", "tailscale",
                       "--version", "1.78.1", "--file", ts, "--channel", "stable", "--strip", "1",
                       "--launch", "bin/tailscaled"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    ASSERT_EQ(
        zlhctl({"catalog", "sign", "--store", store_, "--key", keys_ + "/catalog.key"}).exit_code,
        0);
    vmid_lo_ = 16000 + int(crypto::random_bytes(1)[0] % 20) * 200;
    addr_ = unique_loopback();
    api_key_ = "hs-api-key-" + crypto::random_hex(16);
    key_file_ = dir_ + "/headscale.key";
    ASSERT_TRUE(fs::write_file_atomic(key_file_, api_key_ + "\n", 0600));
  }
  void TearDown() override {
    stop_api();
    for (pid_t p : agents_under(data_)) ::kill(p, SIGKILL);
    if (auto* d = opendir((data_ + "/containers").c_str())) {
      while (auto* e = readdir(d))
        if (e->d_name[0] != '.') kill_services(data_ + "/containers/" + e->d_name);
      closedir(d);
    }
    fake_.reset();
    // The Headscale API key (and every key handed out) never reaches zlh-api's output.
    std::string out = fs::read_file(dir_ + "/api.log", 1 << 24).value_or("") +
                      fs::read_file(dir_ + "/api.out", 1 << 24).value_or("");
    EXPECT_EQ(out.find(api_key_), std::string::npos)
        << "the Headscale API key is in zlh-api's output";
    for (const auto& k : secrets_)
      EXPECT_EQ(out.find(k), std::string::npos) << "a pre-auth key is in zlh-api's output";
    remove_unless_failed(dir_);
  }

  void start_fake(const std::string& version) {
    auto f = FakeHeadscale::start({version, api_key_, "127.0.0.1", dir_});
    ASSERT_TRUE(f) << f.error().message;
    fake_ = std::move(*f);
  }
  // With the fake configured unless `headscale` is false.
  void start_api(const std::string& version, bool headscale = true) {
    std::vector<std::string> extra = {"--dev-vmid-lo", std::to_string(vmid_lo_), "--dev-vmid-hi",
                                      std::to_string(vmid_lo_ + 199)};
    if (headscale) {
      extra.insert(extra.end(),
                   {"--headscale-url", fake_->url(), "--headscale-api-key-file", key_file_,
                    "--headscale-version", version, "--headscale-key-ttl", "2h",
                    "--headscale-acl-tags", "tag:zlh-dev", "--log-level", "debug"});
    }
    api_ = std::make_unique<ApiProcess>(dir_, store_, keys_, extra);
    ASSERT_TRUE(api_->start()) << fs::read_file(dir_ + "/api.log", 1 << 16).value_or("");
  }
  void stop_api() { api_.reset(); }
  std::string url(const std::string& p) { return api_->url(p); }
  http::ClientResponse call(const std::string& m, const std::string& p, const std::string& token,
                            const std::string& body = "", http::Headers extra = {}) {
    http::Headers h = extra;
    if (!token.empty()) h.add("Authorization", "Bearer " + token);
    if (!body.empty() && (body.front() == '{' || body.front() == '[') && !h.get("Content-Type"))
      h.add("Content-Type", "application/json");  // JSON routes refuse other types (415)
    auto r = http::request(m, url(p), h, body, 5min);
    EXPECT_TRUE(r) << m << " " << p << ": " << (r ? "" : r.error().message);
    return r ? *r : http::ClientResponse{};
  }
  std::string user(const std::string& name) {
    auto r = call(
        "POST", "/api/auth/register", "",
        json{{"email", name + "@example.com"}, {"username", name}, {"password", "password-" + name}}
            .dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }
  int64_t user_id(const std::string& token) {
    return json::parse(call("GET", "/api/auth/me", token).body)["user"]["id"].get<int64_t>();
  }
  json server(int64_t id, const std::string& token) {
    return json::parse(call("GET", "/api/servers/" + std::to_string(id), token).body, nullptr,
                       false);
  }
  int64_t create_dev(const std::string& token) {
    auto r = call("POST", "/api/servers", token,
                  json{{"type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}}.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body, nullptr, false).value("id", int64_t(0));
  }
  // The server's vmid once it is ready (0 on failure).
  int wait_ready(int64_t id, const std::string& token) {
    bool done = eventually(
        [&] {
          auto s = server(id, token);
          return s.value("state", "") == "ready" || s.value("state", "") == "error";
        },
        90s);
    auto s = server(id, token);
    EXPECT_TRUE(done && s.value("state", "") == "ready") << s.dump();
    return s.value("vmid", 0);
  }
  std::string addon_data(int vmid) {
    return data_ + "/containers/" + std::to_string(vmid) + "/opt/zlh/services/tailscale/data/";
  }
  static json error_of(const http::ClientResponse& r) {
    return json::parse(r.body, nullptr, false).value("error", json::object());
  }
  std::vector<json> fake_requests(const std::string& method, const std::string& path) {
    std::vector<json> out;
    for (auto& r : fake_->requests())
      if (r["method"] == method && r["path"] == path) out.push_back(r);
    return out;
  }

  std::string dir_, data_, store_, keys_, addr_, api_key_, key_file_;
  std::vector<std::string> secrets_;  // keys handed out, to look for in the logs
  int vmid_lo_ = 16000;
  std::unique_ptr<ApiProcess> api_;
  std::unique_ptr<FakeHeadscale> fake_;
};

TEST_F(TailscaleTest, ContainerKeyToTheAgentDeviceKeyOnceToTheOwner) {
  start_fake("0.26");
  ASSERT_FALSE(HasFatalFailure());
  start_api("0.26");
  ASSERT_FALSE(HasFatalFailure());
  std::string alice = user("alice"), bob = user("bob");
  int64_t alice_id = user_id(alice);
  int64_t id = create_dev(alice);
  int vmid = wait_ready(id, alice);
  ASSERT_GT(vmid, 0);
  std::string path = "/api/servers/" + std::to_string(id) + "/tailscale";

  // Not yours: 404, and nothing reaches Headscale or the agent.
  auto theirs = call("POST", path, bob);
  EXPECT_EQ(theirs.status, 404) << theirs.body;
  EXPECT_EQ(error_of(theirs)["code"], "E_NOT_FOUND");
  EXPECT_EQ(call("DELETE", path, bob).status, 404);
  EXPECT_EQ(call("POST", "/api/servers/999999/tailscale", alice).status, 404);
  // A cookie without the CSRF header is refused before anything happens.
  http::Headers cookie;
  cookie.add("Cookie", "zlh_session=" + alice);
  EXPECT_EQ(call("POST", path, "", "", cookie).status, 403);
  EXPECT_TRUE(fake_->requests().empty()) << fake_->requests().dump();
  EXPECT_TRUE(fake_->state()["users"].empty());
  EXPECT_FALSE(fs::read_file(addon_data(vmid) + "tailscale.args"));
  // Unknown body fields are refused.
  EXPECT_EQ(call("POST", path, alice, R"({"reusable":true})").status, 400);

  auto t0 = std::chrono::system_clock::now();
  http::Headers csrf = cookie;
  csrf.add("X-ZLH-CSRF", "1");
  auto r = call("POST", path, "", "", csrf);
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  std::string device_key = body["device"]["authkey"];
  ASSERT_FALSE(device_key.empty());
  secrets_.push_back(device_key);
  std::string host = "dev-" + std::to_string(vmid);
  EXPECT_EQ(body["hostname"], host);
  EXPECT_EQ(body["login_server"], fake_->url());
  EXPECT_EQ(body["headscale_user"], "zlh-u" + std::to_string(alice_id));
  EXPECT_EQ(body["instructions"]["tailscale_up"],
            "tailscale up --login-server " + fake_->url() + " --authkey " + device_key);
  EXPECT_EQ(body["instructions"]["ssh"], "ssh dev@<tailscale ip of " + host + ">");
  EXPECT_NE(body["instructions"]["vscode"].get<std::string>().find("Remote-SSH"),
            std::string::npos);
  std::string constraints = body["constraints"].dump();
  for (const char* c : {"no MagicDNS", "no exit nodes", "no DNS takeover"})
    EXPECT_NE(constraints.find(c), std::string::npos) << c;
  EXPECT_EQ(body["container"]["version"], "1.78.1");

  // Headscale: one user for alice, two single-use keys in it.
  json st = fake_->state();
  ASSERT_EQ(st["users"].size(), 1u);
  EXPECT_EQ(st["users"][0]["name"], "zlh-u" + std::to_string(alice_id));
  ASSERT_EQ(st["keys"].size(), 2u);
  json container_key, dev_key;
  for (auto& k : st["keys"]) (k["key"] == device_key ? dev_key : container_key) = k;
  ASSERT_TRUE(dev_key.is_object() && container_key.is_object()) << st.dump();
  secrets_.push_back(container_key["key"]);
  EXPECT_EQ(container_key["aclTags"], json::array({"tag:zlh-dev"}));
  EXPECT_EQ(dev_key["aclTags"], json::array());
  EXPECT_EQ(body["device"]["key_id"], dev_key["id"]);
  auto creates = fake_requests("POST", "/api/v1/preauthkey");
  ASSERT_EQ(creates.size(), 2u);
  for (auto& c : creates) {
    json b = c["body"];
    EXPECT_EQ(b["user"], std::stoll(st["users"][0]["id"].get<std::string>()))
        << b.dump();  // 0.26: the numeric id
    EXPECT_EQ(b["reusable"], false);
    EXPECT_EQ(b["ephemeral"], false);
    // now + 2h (--headscale-key-ttl), to the second.
    std::string lo = rfc3339(t0 + 2h - 5s), hi = rfc3339(t0 + 2h + 120s);
    std::string exp = b["expiration"];
    EXPECT_TRUE(exp >= lo && exp <= hi) << exp << " not in [" << lo << ", " << hi << "]";
  }

  // The agent's tailscale up got the container's key, never the device's.
  std::string data = addon_data(vmid);
  auto received = fs::read_file(data + "tailscale.key-received");
  ASSERT_TRUE(received) << "tailscale up did not run";
  EXPECT_EQ(*received, container_key["key"].get<std::string>());
  EXPECT_NE(*received, device_key);
  std::string args = fs::read_file(data + "tailscale.args").value_or("");
  EXPECT_NE(args.find("up\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--login-server=" + fake_->url() + "\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--hostname=" + host + "\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--accept-dns=false\n"), std::string::npos) << args;
  EXPECT_EQ(args.find(device_key), std::string::npos);

  // The audit names the action and the key ids, never a key.
  auto admin = call("POST", "/api/auth/login", "",
                    json{{"identifier", "admin"}, {"password", "admin-password-1"}}.dump());
  ASSERT_EQ(admin.status, 200);
  auto audit = call("GET", "/api/admin/audit?limit=1000", json::parse(admin.body)["token"]);
  ASSERT_EQ(audit.status, 200);
  bool found = false;
  json entries =
      json::parse(audit.body)["entries"];  // kept: ranging over a temporary's member dangles
  for (auto& e : entries)
    if (e["action"] == "server.tailscale_enable") {
      found = true;
      EXPECT_EQ(e["target"], "server:" + std::to_string(id));
      EXPECT_EQ(e["detail"]["device_key_id"], dev_key["id"]);
      EXPECT_EQ(e["detail"]["container_key_id"], container_key["id"]);
    }
  EXPECT_TRUE(found) << audit.body;
  EXPECT_EQ(audit.body.find(device_key), std::string::npos);
  EXPECT_EQ(audit.body.find(container_key["key"].get<std::string>()), std::string::npos);

  // DELETE: the container's key was used by its node; the device's unused
  // one is expired, and the addon is stopped.
  fake_->use_key(container_key["id"]);
  auto del = call("DELETE", path, alice);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(json::parse(del.body)["expired_keys"], 1);
  auto expires = fake_requests("POST", "/api/v1/preauthkey/expire");
  ASSERT_EQ(expires.size(), 1u);
  EXPECT_EQ(expires[0]["body"]["key"], device_key);
  EXPECT_EQ(expires[0]["body"]["user"], std::stoll(st["users"][0]["id"].get<std::string>()));
  // Asked of the agent directly, with a token from the API's own key.
  std::string ip = server(id, alice)["ip"];
  auto addons = http::request("GET", "http://" + ip + ":18888/addons",
                              bearer_from(data_ + "/keys", vmid, "GET", "/addons"), {}, 10s);
  ASSERT_TRUE(addons && addons->status == 200) << (addons ? addons->body : addons.error().message);
  json list = json::parse(addons->body)["addons"];
  for (auto& a : list)
    if (a["id"] == "tailscale") {
      EXPECT_EQ(a["state"], "disabled") << a.dump();
    }
  // A second DELETE has nothing left to expire.
  auto again = call("DELETE", path, alice);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["expired_keys"], 0);
}

// A member holding "ide" enables Tailscale with keys in their own Headscale
// user; removing the member expires those keys (docs/sharing.md).
TEST_F(TailscaleTest, RemovingAMemberExpiresTheKeysTheyMade) {
  start_fake("0.25");
  ASSERT_FALSE(HasFatalFailure());
  start_api("0.25");
  ASSERT_FALSE(HasFatalFailure());
  std::string alice = user("alice"), bob = user("bob");
  int64_t id = create_dev(alice);
  ASSERT_GT(wait_ready(id, alice), 0);
  const std::string srv = "/api/servers/" + std::to_string(id);
  ASSERT_EQ(
      call("POST", srv + "/members", alice, R"({"username":"bob","permissions":["ide"]})").status,
      201);
  auto r = call("POST", srv + "/tailscale", bob);
  ASSERT_EQ(r.status, 200) << r.body;
  secrets_.push_back(json::parse(r.body)["device"]["authkey"]);
  json st = fake_->state();
  ASSERT_EQ(st["users"].size(), 1u);
  EXPECT_EQ(st["users"][0]["name"], "zlh-u" + std::to_string(user_id(bob)));
  for (auto& k : st["keys"]) secrets_.push_back(k["key"]);
  EXPECT_TRUE(fake_requests("POST", "/api/v1/preauthkey/expire").empty());

  auto del = call("DELETE", srv + "/members/" + std::to_string(user_id(bob)), alice);
  ASSERT_EQ(del.status, 200) << del.body;
  auto expires = fake_requests("POST", "/api/v1/preauthkey/expire");
  EXPECT_EQ(expires.size(), 2u) << "the container's and the device's key, both unused";
  EXPECT_EQ(call("POST", srv + "/tailscale", bob).status, 404);
}

TEST_F(TailscaleTest, Headscale025NamesUsersAndEachCustomerHasItsOwn) {
  start_fake("0.25");
  ASSERT_FALSE(HasFatalFailure());
  start_api("0.25");
  ASSERT_FALSE(HasFatalFailure());
  std::string alice = user("alice"), bob = user("bob");
  int64_t a = create_dev(alice), b = create_dev(bob);
  ASSERT_GT(wait_ready(a, alice), 0);
  ASSERT_GT(wait_ready(b, bob), 0);
  for (auto& [id, token] : {std::pair{a, alice}, std::pair{b, bob}}) {
    auto r = call("POST", "/api/servers/" + std::to_string(id) + "/tailscale", token);
    ASSERT_EQ(r.status, 200) << r.body;
    secrets_.push_back(json::parse(r.body)["device"]["authkey"]);
  }
  std::string ua = "zlh-u" + std::to_string(user_id(alice)),
              ub = "zlh-u" + std::to_string(user_id(bob));
  // 0.25: the key request names the user.
  auto creates = fake_requests("POST", "/api/v1/preauthkey");
  ASSERT_EQ(creates.size(), 4u);
  EXPECT_EQ(creates[0]["body"]["user"], ua);
  EXPECT_EQ(creates[1]["body"]["user"], ua);
  EXPECT_EQ(creates[2]["body"]["user"], ub);
  EXPECT_EQ(creates[3]["body"]["user"], ub);
  // Each customer's keys (and so nodes) live in its own Headscale user.
  json st = fake_->state();
  ASSERT_EQ(st["users"].size(), 2u);
  std::map<std::string, std::string> name_of;
  for (auto& u : st["users"]) name_of[u["id"].get<std::string>()] = u["name"].get<std::string>();
  std::map<std::string, int> per_user;
  for (auto& k : st["keys"]) {
    per_user[name_of[k["user_id"].get<std::string>()]]++;
    secrets_.push_back(k["key"]);
  }
  EXPECT_EQ(per_user[ua], 2);
  EXPECT_EQ(per_user[ub], 2);
}

TEST_F(TailscaleTest, FailuresAre502WithTheReasonAndLeaveNoLiveKey) {
  start_fake("0.26");
  ASSERT_FALSE(HasFatalFailure());
  start_api("0.26");
  ASSERT_FALSE(HasFatalFailure());
  std::string alice = user("alice");
  int64_t id = create_dev(alice);
  int vmid = wait_ready(id, alice);
  ASSERT_GT(vmid, 0);
  std::string path = "/api/servers/" + std::to_string(id) + "/tailscale";

  fake_->fail_next("create_preauthkey", 500, "pre-auth key quota reached for this user");
  auto r = call("POST", path, alice);
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(error_of(r)["code"], "E_UPSTREAM");
  EXPECT_NE(
      error_of(r)["message"].get<std::string>().find("pre-auth key quota reached for this user"),
      std::string::npos)
      << r.body;
  fake_->fail_next("list_users", 503, "headscale is restarting");
  auto r2 = call("POST", path, alice);
  EXPECT_EQ(r2.status, 502) << r2.body;
  EXPECT_NE(error_of(r2)["message"].get<std::string>().find("headscale is restarting"),
            std::string::npos)
      << r2.body;
  EXPECT_TRUE(fake_->state()["keys"].empty());
  EXPECT_FALSE(fs::read_file(addon_data(vmid) + "tailscale.args"));

  // The agent's tailscale up fails: 502 with its reason, and both keys are
  // expired again (neither may linger).
  std::string data = addon_data(vmid);
  ASSERT_TRUE(fs::make_dirs(data));
  ASSERT_TRUE(fs::write_file_atomic(data + "fail-up", ""));
  auto t0 = rfc3339(std::chrono::system_clock::now() + 60s);
  auto up = call("POST", path, alice);
  EXPECT_EQ(up.status, 502) << up.body;
  EXPECT_EQ(error_of(up)["code"], "E_UPSTREAM");
  EXPECT_NE(error_of(up)["message"].get<std::string>().find("unable to validate API key"),
            std::string::npos)
      << up.body;
  json after = fake_->state()["keys"];
  ASSERT_EQ(after.size(), 2u);
  for (auto& k : after) {
    secrets_.push_back(k["key"]);
    EXPECT_LT(k["expiration"].get<std::string>().substr(0, 19), t0.substr(0, 19)) << k.dump();
  }
  EXPECT_EQ(fake_requests("POST", "/api/v1/preauthkey/expire").size(), 2u);

  // Headscale and the agent back: the same request works. While it runs
  // (tailscale up held), another change of this server is refused.
  ASSERT_EQ(::unlink((data + "fail-up").c_str()), 0);
  ASSERT_TRUE(fs::write_file_atomic(data + "hold-up", ""));
  http::ClientResponse ok;
  std::thread first([&] { ok = call("POST", path, alice); });
  bool waiting = eventually([&] { return fs::read_file(data + "up-waiting").has_value(); }, 30s);
  auto second = call("POST", path, alice);
  auto del = call("DELETE", path, alice);
  ::unlink((data + "hold-up").c_str());
  first.join();
  ASSERT_TRUE(waiting) << "tailscale up never started";
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(del.status, 409) << del.body;
  ASSERT_EQ(ok.status, 200) << ok.body;
  secrets_.push_back(json::parse(ok.body)["device"]["authkey"]);
  json keys = fake_->state()["keys"];
  for (auto& k : keys) secrets_.push_back(k["key"]);
}

TEST_F(TailscaleTest, NotConfiguredIs503AndBadFlagsStopTheStart) {
  start_api("", /*headscale=*/false);
  ASSERT_FALSE(HasFatalFailure());
  std::string alice = user("alice"), bob = user("bob");
  int64_t id = create_dev(alice);  // provisioning is enough: nothing reaches the agent
  std::string path = "/api/servers/" + std::to_string(id) + "/tailscale";
  auto r = call("POST", path, alice);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(error_of(r)["code"], "E_UNAVAILABLE");
  EXPECT_NE(error_of(r)["message"].get<std::string>().find("Headscale is not configured"),
            std::string::npos);
  EXPECT_EQ(call("POST", path, bob).status, 404);  // ownership first

  // Bad Headscale flags: zlh-api refuses to start and says which.
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {bin_dir() + "/zlh-api", "--listen", addr_ + ":8081", "--data",
                                     dir_ + "/bad"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv);
  };
  auto bad_url = run({"--headscale-url", "hs.example.com", "--headscale-version", "0.26",
                      "--headscale-api-key-file", key_file_});
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_NE(bad_url.err.find("--headscale-url"), std::string::npos) << bad_url.err;
  auto no_version =
      run({"--headscale-url", "https://hs.example.com", "--headscale-api-key-file", key_file_});
  EXPECT_EQ(no_version.exit_code, 2);
  EXPECT_NE(no_version.err.find("--headscale-version"), std::string::npos) << no_version.err;
  auto bad_tags = run({"--headscale-url", "https://hs.example.com", "--headscale-version", "0.26",
                       "--headscale-api-key-file", key_file_, "--headscale-acl-tags", "Dev"});
  EXPECT_EQ(bad_tags.exit_code, 2);
  EXPECT_NE(bad_tags.err.find("--headscale-acl-tags"), std::string::npos) << bad_tags.err;
  auto no_key = run({"--headscale-url", "https://hs.example.com", "--headscale-version", "0.26",
                     "--headscale-api-key-file", dir_ + "/absent.key"});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("headscale-api-key-file"), std::string::npos) << no_key.err;
  for (auto* res : {&bad_url, &no_version, &bad_tags, &no_key}) {
    EXPECT_EQ(res->err.find(api_key_), std::string::npos);
    EXPECT_EQ(res->out.find(api_key_), std::string::npos);
  }
}

}  // namespace
}  // namespace zlh::testing
