// Real Node.js from the demo store (`zlhctl demo-store`, built from the npm
// registry by the demo_store fixture): installed by the agent, and `node`
// resolving to the catalog's version in every kind of shell.
#include <dirent.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/fs.hpp"
#include "harness.hpp"
#include "proto/catalog.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string demo_dir() {
  const char* d = std::getenv("ZLH_DEMO_STORE");
  return d ? d : "build/demo";
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto text = fs::read_file(demo_dir() + "/artifacts/catalog.json");
    ASSERT_TRUE(text) << "demo store missing at " << demo_dir()
                      << " (the demo_store fixture builds it)";
    auto cat = catalog::parse_catalog(*text);
    ASSERT_TRUE(cat) << cat.error().message;
    const auto* node = cat->runtime("node");
    ASSERT_NE(node, nullptr);
    for (const auto& v : node->versions) versions_.push_back(v.version);
    std::sort(versions_.begin(), versions_.end(),
              [](auto& a, auto& b) { return catalog::compare_versions(a, b) < 0; });
    ASSERT_GE(versions_.size(), 2u) << "the demo store has at least two Node.js majors";
    dir_ = make_temp_dir("node");
    root_ = dir_ + "/root";
    ASSERT_TRUE(fs::make_dirs(root_));
    keys_ = dir_ + "/keys";
    ASSERT_EQ(run_command({bin_dir() + "/zlhctl", "keygen", "--out", keys_}).exit_code, 0);
    agent_ = std::make_unique<AgentProcess>(
        root_,
        std::vector<std::string>{"--vmid", "6001", "--api-key", keys_ + "/api.pub", "--dev-user",
                                 "-", "--artifacts", "file://" + demo_dir() + "/artifacts",
                                 "--catalog-key", demo_dir() + "/keys/catalog.pub"});
    ASSERT_TRUE(agent_->wait_healthy());
  }
  void TearDown() override {
    agent_.reset();
    remove_unless_failed(dir_);
  }
  http::Headers auth(const std::string& m, const std::string& t) {
    return bearer_from(keys_, 6001, m, t);
  }
  json status() {
    return json::parse(http::request("GET", agent_->url("/status"), auth("GET", "/status"))->body);
  }
  std::string home() { return root_ + "/home/dev"; }
  std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  std::vector<std::string> versions_;
  std::string dir_, root_, keys_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(NodeTest, NodeResolvesToTheCatalogVersionInEveryShell) {
  const std::string v = versions_.front();
  json payload = {{"vmid", 6001}, {"container_type", "dev"}, {"runtime", "node"}, {"version", v}};
  ASSERT_EQ(http::request("POST", agent_->url("/config"), auth("POST", "/config"), payload.dump())
                ->status,
            202);
  ASSERT_TRUE(eventually(
      [&] {
        auto s = status();
        return s["state"] == "running" || s["state"] == "error";
      },
      5min));
  ASSERT_EQ(status()["state"], "running") << status().dump();

  std::string want = "v" + v;
  // Login shell (reads ~/.profile, which sources the generated profile).
  EXPECT_EQ(trim(run_command({"/usr/bin/env", "-i", "HOME=" + home(), "/bin/bash", "-l", "-c",
                              "node --version"})
                     .out),
            want);
  // Interactive non-login shell (reads ~/.bashrc).
  EXPECT_EQ(trim(run_command({"/usr/bin/env", "-i", "HOME=" + home(), "/bin/bash", "-i", "-c",
                              "node --version"})
                     .out),
            want);
  // Non-interactive `bash -c` in the environment the agent gives its processes (BASH_ENV).
  EXPECT_EQ(trim(run_command({"/usr/bin/env", "-i", "HOME=" + home(),
                              "BASH_ENV=" + root_ + "/etc/profile.d/zlh.sh", "/bin/bash", "-c",
                              "node --version"})
                     .out),
            want);
  // npm is part of the runtime.
  auto npm = run_command(
      {"/usr/bin/env", "-i", "HOME=" + home(), "/bin/bash", "-l", "-c", "npm --version"});
  EXPECT_EQ(npm.exit_code, 0) << npm.err;
  EXPECT_FALSE(trim(npm.out).empty());
}

TEST_F(NodeTest, UpgradeAndRollbackChangeWhatNodeIs) {
  const std::string older = versions_.front(), newer = versions_.back();
  auto r1 =
      http::request("POST", agent_->url("/runtimes/install"), auth("POST", "/runtimes/install"),
                    json{{"runtime", "node"}, {"version", older}}.dump(), 10min);
  ASSERT_EQ(r1->status, 200) << r1->body;
  auto r2 =
      http::request("POST", agent_->url("/runtimes/install"), auth("POST", "/runtimes/install"),
                    json{{"runtime", "node"}, {"version", newer}}.dump(), 10min);
  ASSERT_EQ(r2->status, 200) << r2->body;
  auto node_version = [&] {
    return trim(run_command({"/usr/bin/env", "-i", "HOME=" + home(), "/bin/bash", "-l", "-c",
                             "node --version"})
                    .out);
  };
  EXPECT_EQ(node_version(), "v" + newer);
  ASSERT_EQ(http::request("POST", agent_->url("/runtimes/node/rollback"),
                          auth("POST", "/runtimes/node/rollback"))
                ->status,
            200);
  EXPECT_EQ(node_version(), "v" + older);
}

}  // namespace
}  // namespace zlh::testing
