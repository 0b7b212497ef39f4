// Runs tests/fixtures/fake_headscale.py (a stand-in for Headscale's REST
// API) as a child process on a loopback port of its own, and talks to its
// /_fake/ control endpoints. Used by the Headscale client's unit test and
// by tailscale_test.cpp. The script is found under $ZLH_SOURCE_DIR (set by
// ctest), else the source tree this was built from.
//
// Thread-safety: one test thread per instance.
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.hpp"

namespace zlh::testing {

class FakeHeadscale {
 public:
  struct Options {
    std::string version = "0.26";  // the release whose API form it speaks
    std::string api_key;           // the bearer it accepts
    std::string host = "127.0.0.1";
    std::string work_dir;  // port file and log (must exist)
  };
  // Starts the fake and waits (10 s) until it listens. The script is found
  // under $ZLH_SOURCE_DIR/tests/fixtures.
  static Result<std::unique_ptr<FakeHeadscale>> start(const Options& o);
  ~FakeHeadscale();  // SIGTERM, then SIGKILL after 5 s; always reaped

  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }
  // Every /api/v1 request so far ({method, path, query, body, authorized}).
  nlohmann::json requests() const;
  // {users:[…], keys:[… with full keys and user_id]}.
  nlohmann::json state() const;
  // The next `times` calls of `op` answer `status` with {"message": message}.
  void fail_next(const std::string& op, int status, const std::string& message,
                 int times = 1) const;
  // Marks key `id` used, as a node joining with it would.
  void use_key(const std::string& id) const;

 private:
  FakeHeadscale() = default;
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace zlh::testing
