// The runtime system end to end: a store made by zlhctl, the real agent
// installing from it over file://, and the generated dev environment.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <future>
#include <nlohmann/json.hpp>

#include "archive_builder.hpp"
#include "base/fs.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

std::string tool_script(const std::string& version) {
  return "#!/bin/sh\necho \"tool " + version + "\"\n";
}

class RuntimesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("rt");
    keys_ = dir_ + "/keys";
    store_ = dir_ + "/store";
    root_ = dir_ + "/root";
    ASSERT_EQ(ctl({"keygen", "--out", keys_}).exit_code, 0);
    auto init = ctl({"catalog", "init", "--store", store_});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    ASSERT_TRUE(fs::make_dirs(root_));
    add_tool("1.0.0");
    add_tool("2.0.0");
    sign();
  }

  void TearDown() override { remove_unless_failed(dir_); }
  CommandResult ctl(std::vector<std::string> args) { return zlhctl(std::move(args)); }
  void add_runtime(const std::string& id, const std::string& version, const std::string& archive,
                   const std::string& expect) {
    auto r = ctl({"catalog",   "add",
                  "--store",   store_,
                  "--kind",    "runtime",
                  "--id",      id,
                  "--version", version,
                  "--file",    archive,
                  "--channel", "stable",
                  "--strip",   "1",
                  "--bin",     "bin",
                  "--env",     "TOOL_HOME={prefix}",
                  "--verify",  "bin/tool --version",
                  "--expect",  expect});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }
  // A runtime "tool" whose bin/tool prints "tool <printed>".
  void add_tool(const std::string& version, std::string printed = "", std::string id = "tool") {
    if (printed.empty()) printed = version;
    std::string archive = dir_ + "/" + id + "-" + version + ".tar.gz";
    write_archive(archive,
                  {ArchiveEntry::dir(id + "-" + version + "/"),
                   ArchiveEntry::dir(id + "-" + version + "/bin/"),
                   ArchiveEntry::file(id + "-" + version + "/bin/tool", tool_script(printed), 0755),
                   ArchiveEntry::file(id + "-" + version + "/README", "hello\n")});
    add_runtime(id, version, archive, "tool " + version);
  }
  void sign() {
    auto r = ctl({"catalog", "sign", "--store", store_, "--key", keys_ + "/catalog.key"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::unique_ptr<AgentProcess> start() {
    auto a = std::make_unique<AgentProcess>(
        root_, std::vector<std::string>{"--vmid", "6001", "--api-key", keys_ + "/api.pub",
                                        "--dev-user", "-", "--artifacts", "file://" + store_,
                                        "--catalog-key", keys_ + "/catalog.pub"});
    EXPECT_TRUE(a->wait_healthy()) << *fs::read_file(a->log_path());
    return a;
  }
  http::Headers auth(const std::string& m, const std::string& t) {
    return bearer_from(keys_, 6001, m, t);
  }
  http::ClientResponse call(AgentProcess& a, const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto r = http::request(method, a.url(path), auth(method, path), body, 10min);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : http::ClientResponse{};
  }
  http::ClientResponse install(AgentProcess& a, const std::string& id, const std::string& version) {
    return call(a, "POST", "/runtimes/install", json{{"runtime", id}, {"version", version}}.dump());
  }
  json status(AgentProcess& a) { return json::parse(call(a, "GET", "/status").body); }
  std::string code(const http::ClientResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
  }
  std::string rt(const std::string& rel) { return root_ + "/opt/zlh/runtimes/" + rel; }
  std::string current(const std::string& id) {
    char buf[256];
    ssize_t n = readlink(rt(id + "/current").c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, size_t(n)) : "";
  }
  // Runs `cmd` in a login shell with the dev home, as a dev console would.
  std::string login_shell(const std::string& cmd) {
    auto r = run_command(
        {"/usr/bin/env", "-i", "HOME=" + root_ + "/home/dev", "/bin/bash", "-l", "-c", cmd});
    return r.out;
  }
  std::vector<std::string> list_dir(const std::string& p) {
    std::vector<std::string> out;
    if (DIR* d = opendir(p.c_str())) {
      while (auto* e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          out.push_back(e->d_name);
      closedir(d);
    }
    return out;
  }

  std::string dir_, keys_, store_, root_;
};

TEST_F(RuntimesTest, DevPayloadInstallsVerifiesAndRuns) {
  auto a = start();
  json payload = {
      {"vmid", 6001}, {"container_type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}};
  auto r = call(*a, "POST", "/config", payload.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(eventually(
      [&] {
        auto s = status(*a);
        return s["state"] == "running" || s["state"] == "error";
      },
      60s));
  auto s = status(*a);
  ASSERT_EQ(s["state"], "running") << s.dump();
  EXPECT_EQ(s["provisioning_complete"], true);
  EXPECT_EQ(s["progress"], 1.0);
  EXPECT_TRUE(exists(rt("tool/1.0.0/bin/tool")));
  EXPECT_EQ(current("tool"), "1.0.0");
  EXPECT_TRUE(exists(root_ + "/home/dev/workspace"));
  // The one environment: the runtime's bin dir first, then the system PATH.
  auto profile = *fs::read_file(root_ + "/etc/profile.d/zlh.sh");
  EXPECT_NE(profile.find(rt("tool/current/bin")), std::string::npos) << profile;
  EXPECT_NE(profile.find("TOOL_HOME"), std::string::npos);
  EXPECT_EQ(login_shell("tool"), "tool 1.0.0\n");
  auto list = json::parse(call(*a, "GET", "/runtimes").body);
  ASSERT_EQ(list["runtimes"].size(), 1u);
  EXPECT_EQ(list["runtimes"][0]["current"], "1.0.0");
}

TEST_F(RuntimesTest, OneByteTamperedArtifactIsHashMismatchAndNothingInstalled) {
  std::string artifact = store_ + "/runtimes/tool/1.0.0/tool-1.0.0.tar.gz";
  auto bytes = *fs::read_file(artifact);
  bytes[bytes.size() / 2] ^= 0x01;
  ASSERT_TRUE(fs::write_file_atomic(artifact, bytes));
  auto a = start();
  auto r = install(*a, "tool", "1.0.0");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(code(r), "E_HASH_MISMATCH");
  EXPECT_FALSE(exists(rt("tool/1.0.0")));
  EXPECT_FALSE(exists(rt("tool/current")));
  EXPECT_TRUE(list_dir(root_ + "/opt/zlh/cache").empty());  // no entry, no temporary
  // The untouched version still installs.
  EXPECT_EQ(install(*a, "tool", "2.0.0").status, 200);
}

TEST_F(RuntimesTest, CatalogChangedAfterSigningIsBadSignature) {
  auto cat = *fs::read_file(store_ + "/catalog.json");
  cat += " ";  // one byte more, same meaning
  ASSERT_TRUE(fs::write_file_atomic(store_ + "/catalog.json", cat));
  auto a = start();
  auto r = install(*a, "tool", "1.0.0");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(code(r), "E_BAD_SIGNATURE");
  EXPECT_FALSE(exists(rt("tool/1.0.0")));
  // A dev payload fails the same way, with the reason in /status.
  json payload = {
      {"vmid", 6001}, {"container_type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}};
  ASSERT_EQ(call(*a, "POST", "/config", payload.dump()).status, 202);
  ASSERT_TRUE(eventually([&] { return status(*a)["state"] == "error"; }, 30s));
  EXPECT_NE(status(*a)["error"].get<std::string>().find("signature"), std::string::npos);
}

TEST_F(RuntimesTest, PinnedCatalogMismatchIsRefused) {
  auto a = start();
  json payload = {{"vmid", 6001},
                  {"container_type", "dev"},
                  {"runtime", "tool"},
                  {"version", "1.0.0"},
                  {"catalog_sha256", std::string(64, '0')}};
  ASSERT_EQ(call(*a, "POST", "/config", payload.dump()).status, 202);
  ASSERT_TRUE(eventually([&] { return status(*a)["state"] == "error"; }, 30s));
  EXPECT_NE(status(*a)["error"].get<std::string>().find("catalog changed"), std::string::npos);
  EXPECT_FALSE(exists(rt("tool/1.0.0")));
}

TEST_F(RuntimesTest, HostileArchivesAreRefusedWithNothingOutside) {
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/sentinel", "untouched"));
  struct Case {
    std::string name;
    std::vector<ArchiveEntry> entries;
  };
  std::string outside = dir_ + "/pwned";
  std::vector<Case> cases = {
      {"absolute path",
       {ArchiveEntry::file("evil-1/bin/tool", tool_script("1")), ArchiveEntry::file(outside, "x")}},
      {"dot-dot",
       {ArchiveEntry::file("evil-1/bin/tool", tool_script("1")),
        ArchiveEntry::file("evil-1/../../../../pwned", "x")}},
      {"symlink out",
       {ArchiveEntry::file("evil-1/bin/tool", tool_script("1")),
        ArchiveEntry::symlink("evil-1/etc", "/etc")}},
      {"symlink up",
       {ArchiveEntry::file("evil-1/bin/tool", tool_script("1")),
        ArchiveEntry::symlink("evil-1/up", "../../../..")}},
      {"write through symlink",
       {ArchiveEntry::symlink("evil-1/d", dir_), ArchiveEntry::file("evil-1/d/pwned", "x")}},
      {"hardlink out",
       {ArchiveEntry::file("evil-1/bin/tool", tool_script("1")),
        ArchiveEntry::hardlink("evil-1/passwd", "/etc/passwd")}},
      {"device",
       {ArchiveEntry::file("evil-1/bin/tool", tool_script("1")),
        ArchiveEntry{ArchiveEntry::kCharDevice, "evil-1/null", "", 0666}}},
  };
  int n = 0;
  for (const auto& c : cases) {
    std::string version = "1.0." + std::to_string(n++);
    std::string archive = dir_ + "/evil-" + version + ".tar.gz";
    write_archive(archive, c.entries);
    add_runtime("evil", version, archive, "tool");
  }
  sign();
  auto a = start();
  for (int i = 0; i < n; ++i) {
    std::string version = "1.0." + std::to_string(i);
    auto r = install(*a, "evil", version);
    EXPECT_EQ(code(r), "E_BAD_ARCHIVE") << cases[size_t(i)].name << ": " << r.body;
    EXPECT_FALSE(exists(rt("evil/" + version))) << cases[size_t(i)].name;
  }
  EXPECT_FALSE(exists(outside));
  EXPECT_EQ(*fs::read_file(dir_ + "/sentinel"), "untouched");
  EXPECT_FALSE(exists(rt("evil/current")));
  EXPECT_TRUE(list_dir(rt(".staging")).empty());
}

TEST_F(RuntimesTest, VerifyMismatchIsVerifyFailed) {
  add_tool("3.0.0", "2.9.9");  // prints the wrong version
  sign();
  auto a = start();
  auto r = install(*a, "tool", "3.0.0");
  EXPECT_EQ(code(r), "E_VERIFY_FAILED") << r.body;
  EXPECT_FALSE(exists(rt("tool/3.0.0")));
}

TEST_F(RuntimesTest, UpgradeUseRollbackRemove) {
  auto a = start();
  auto r1 = install(*a, "tool", "1.0.0");
  ASSERT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(json::parse(r1.body)["path"], rt("tool/1.0.0"));
  ASSERT_EQ(install(*a, "tool", "2.0.0").status, 200);
  EXPECT_EQ(current("tool"), "2.0.0");
  EXPECT_TRUE(exists(rt("tool/1.0.0/bin/tool")));  // the previous version is kept
  EXPECT_EQ(login_shell("tool"), "tool 2.0.0\n");

  auto u = call(*a, "POST", "/runtimes/tool/use", R"({"version":"1.0.0"})");
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(login_shell("tool"), "tool 1.0.0\n");
  auto rb = call(*a, "POST", "/runtimes/tool/rollback");
  ASSERT_EQ(rb.status, 200) << rb.body;
  EXPECT_EQ(json::parse(rb.body)["version"], "2.0.0");
  EXPECT_EQ(login_shell("tool"), "tool 2.0.0\n");

  auto active = call(*a, "DELETE", "/runtimes/tool/2.0.0");
  EXPECT_EQ(active.status, 409) << active.body;
  EXPECT_TRUE(exists(rt("tool/2.0.0")));
  EXPECT_EQ(call(*a, "DELETE", "/runtimes/tool/1.0.0").status, 200);
  EXPECT_FALSE(exists(rt("tool/1.0.0")));
  EXPECT_EQ(call(*a, "POST", "/runtimes/tool/rollback").status, 404);  // nothing to go back to
  EXPECT_EQ(call(*a, "DELETE", "/runtimes/tool/2.0.0?force=1").status, 200);
  EXPECT_FALSE(exists(rt("tool/2.0.0")));
  EXPECT_EQ(current("tool"), "");
  EXPECT_EQ(call(*a, "POST", "/runtimes/tool/use", R"({"version":"9.9.9"})").status, 404);
}

TEST_F(RuntimesTest, GuardAnswersWithoutTheNetworkAndConcurrentRequestsShareOneInstall) {
  auto a = start();
  std::vector<std::future<http::ClientResponse>> futs;
  for (int i = 0; i < 4; ++i)
    futs.push_back(std::async(std::launch::async, [&] { return install(*a, "tool", "1.0.0"); }));
  for (auto& f : futs) {
    auto r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["version"], "1.0.0");
  }
  auto log = *fs::read_file(a->log_path());
  size_t installs = 0;
  for (size_t pos = 0; (pos = log.find("\"runtime installed\"", pos)) != std::string::npos; ++pos)
    ++installs;
  EXPECT_EQ(installs, 1u);
  // The artifact server going away does not matter to an installed version.
  ASSERT_EQ(std::system(("rm -rf " + store_).c_str()), 0);
  auto again = install(*a, "tool", "1.0.0");
  EXPECT_EQ(again.status, 200) << again.body;
}

TEST_F(RuntimesTest, Kill9DuringALargeInstallLeavesNothingHalfInstalled) {
  // ~160 MB of incompressible data, uncompressed tar: the install takes long
  // enough to be interrupted in the middle.
  std::string archive = dir_ + "/big.tar";
  write_archive(archive,
                {ArchiveEntry::file("big-1/bin/tool", tool_script("1.0.0"), 0755),
                 ArchiveEntry::file("big-1/data1", random_bytes(80 << 20, 1)),
                 ArchiveEntry::file("big-1/data2", random_bytes(80 << 20, 2))},
                false);
  add_runtime("big", "1.0.0", archive, "tool 1.0.0");
  sign();
  auto a = start();
  auto pending = std::async(std::launch::async, [&] {
    return http::request("POST", a->url("/runtimes/install"), auth("POST", "/runtimes/install"),
                         R"({"runtime":"big","version":"1.0.0"})", 10min);
  });
  // Wait until the install is in the middle (downloading into the cache or extracting), then kill.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& n : list_dir(root_ + "/opt/zlh/cache"))
          if (n.starts_with(".tmp-")) return true;
        return !list_dir(rt(".staging")).empty();
      },
      60s));
  a->kill9();
  pending.wait();
  // Either nothing or the complete version.
  if (exists(rt("big/1.0.0"))) {
    EXPECT_TRUE(exists(rt("big/1.0.0/.zlh-runtime.json")));
  }
  a->restart();
  ASSERT_TRUE(a->wait_healthy());
  EXPECT_TRUE(list_dir(rt(".staging")).empty());
  for (const auto& n : list_dir(root_ + "/opt/zlh/cache"))
    EXPECT_FALSE(n.starts_with(".tmp-")) << n;
  auto r = install(*a, "big", "1.0.0");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(current("big"), "1.0.0");
  EXPECT_EQ(*fs::read_file(rt("big/1.0.0/data2"), 100 << 20), random_bytes(80 << 20, 2));
}

}  // namespace
}  // namespace zlh::testing
