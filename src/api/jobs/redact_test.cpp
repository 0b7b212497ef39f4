// L7: host paths never reach the errors users read.
#include <gtest/gtest.h>

#include "api/jobs/job_runner.hpp"

namespace zlh::api {
namespace {

TEST(RedactHostPaths, HostPathsGoContainerPathsAndNamesStay) {
  const std::vector<std::string> host = {"/var/lib/zlh", "/srv/zlh-artifacts/", "/"};
  EXPECT_EQ(
      redact_host_paths("mount /var/lib/zlh/lxc/zlh-6001/rootfs: No space left on device", host),
      "mount <host path>: No space left on device");
  EXPECT_EQ(redact_host_paths("open '/srv/zlh-artifacts/node/v20.tar.gz' failed; retry", host),
            "open '<host path>' failed; retry");
  EXPECT_EQ(redact_host_paths("a /var/lib/zlh b (/var/lib/zlh/x)", host),
            "a <host path> b (<host path>)");
  // Not under a host prefix, or merely starting like one: kept.
  EXPECT_EQ(redact_host_paths("/home/dev/workspace/app.js: syntax error", host),
            "/home/dev/workspace/app.js: syntax error");
  EXPECT_EQ(redact_host_paths("/var/lib/zlhx/y", host), "/var/lib/zlhx/y");
  EXPECT_EQ(redact_host_paths("addon code-server has no stable version in the catalog", host),
            "addon code-server has no stable version in the catalog");
  EXPECT_EQ(redact_host_paths("x", {}), "x");
}

}  // namespace
}  // namespace zlh::api
