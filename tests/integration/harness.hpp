// Integration-test harness: runs the real binaries from build/bin as child
// processes on loopback addresses of their own (127.78.x.y), like the local
// driver gives every container its own address.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/client.hpp"

namespace zlh::testing {

std::string bin_dir();  // ZLH_BIN_DIR or ./build/bin
std::string make_temp_dir(const std::string& tag);
std::string unique_loopback();  // a random 127.78.x.y whose ports 18888 and 6000 are free

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a program to completion (no shell), capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv);
// The built zlhctl with `args`.
CommandResult zlhctl(std::vector<std::string> args);
// "Authorization: Bearer <token>" with a token minted from keys_dir/api.key
// for `vmid`, good for one request (M5): `method` on `target` (the path and
// query exactly as sent), once.
http::Headers bearer_from(const std::string& keys_dir, int vmid, const std::string& method,
                          const std::string& target);
// SIGKILLs every service and shim recorded under <root>/run/zlh (what a
// container's end does to them), so tests leave no processes behind.
void kill_services(const std::string& root);
// Removes a test's temporary directory unless the test failed (then it is
// kept for inspection). Tests make large files (a 160 MB install): without
// this, repeated runs fill the disk.
void remove_unless_failed(const std::string& dir);

// A store at `store` with keys in `keys` (zlhctl keygen) and one tiny
// runtime "tool" 1.0.0 (bin/tool prints "tool 1.0.0"; its archive is built
// in work_dir). With sign, catalog.json is signed; without, the caller adds
// more entries and signs. Reports failures through gtest (check
// HasFatalFailure() after the call). Without fresh, the store and keys exist
// already and the runtime is added to them.
void make_tool_store(const std::string& work_dir, const std::string& store, const std::string& keys,
                     bool sign = true, bool fresh = true);
// The process exists and is not a zombie.
bool process_alive(pid_t pid);
// Live zlh-agent processes whose command line names `dir`.
std::vector<pid_t> agents_under(const std::string& dir);
// A "VmRSS"/"VmHWM"… field of /proc/<pid>/status in KiB, 0 when absent.
uint64_t proc_status_kib(pid_t pid, const std::string& key);
// A multipart/form-data body with one file part per {filename, data}.
std::string multipart_body(const std::string& boundary,
                           const std::vector<std::pair<std::string, std::string>>& files);

class AgentProcess {
 public:
  // Starts zlh-agent with `args` (plus --listen ADDR:18888 when add_listen);
  // stderr goes to log_path(). Does not wait.
  AgentProcess(std::string root, std::vector<std::string> args, bool add_listen = true);
  ~AgentProcess();  // SIGKILLs a still running agent

  bool wait_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void kill9();
  int terminate();  // SIGTERM, waits, returns the exit code (or 128+signal)
  void restart();   // starts again with the same arguments (appending to the log)
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  std::string url(const std::string& path) const { return "http://" + addr_ + ":18888" + path; }
  const std::string& log_path() const { return log_; }
  const std::string& root() const { return root_; }

 private:
  void spawn();
  std::string root_, addr_, log_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
};

// zlh-api on its own loopback address (port 8080) with a data dir under
// `dir`, the local driver, the store/keys given and (unless extra_args name
// one) --public-url set to its own address; stdout to <dir>/api.out,
// stderr (the JSON log) to <dir>/api.log. The destructor SIGKILLs the API,
// then every container agent and service it left (agents outlive the API by
// design). Test users get argon2 "minimal" parameters (ZLH_TEST_FAST_HASH).
class ApiProcess {
 public:
  ApiProcess(std::string dir, std::string store, std::string keys,
             std::vector<std::string> extra_args = {});
  ~ApiProcess();
  // Starts and waits for /healthz (false on timeout; the log says why).
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void stop(int sig);  // signals and reaps
  pid_t pid() const { return pid_; }
  const std::string& addr() const { return addr_; }
  std::string base() const { return "http://" + addr_ + ":8080"; }
  std::string url(const std::string& path) const { return base() + path; }
  std::string log() const;
  std::string data() const { return dir_ + "/data"; }
  // Starts without ZLH_ADMIN_PASSWORD, so zlh-api makes the first admin's
  // password itself (call before start()).
  void generate_admin_password() { admin_password_env_ = false; }

 private:
  std::string dir_, store_, keys_, addr_;
  std::vector<std::string> extra_;
  bool admin_password_env_ = true;
  pid_t pid_ = -1;
};

// zlh-api's REST API for tests, at `base` ("http://ADDR:8080"). A request
// that gets no answer is a gtest failure (and an empty response).
class ApiClient {
 public:
  explicit ApiClient(std::string base) : base_(std::move(base)) {}
  http::ClientResponse call(const std::string& method, const std::string& path,
                            const std::string& bearer = "", const std::string& body = "",
                            http::Headers extra = {}) const;
  // Registers <name>@example.com with password "password-<name>"; its token.
  std::string register_user(const std::string& name) const;
  // POST /api/servers for a dev server with `runtime`; its id (0 on failure).
  int64_t create_dev(const std::string& token, const std::string& runtime = "tool",
                     const std::string& version = "1.0.0") const;
  nlohmann::json server(int64_t id, const std::string& token) const;
  // Polls the server until its state is one of `states`; the last one seen.
  nlohmann::json wait_state(int64_t id, const std::string& token,
                            const std::set<std::string>& states,
                            std::chrono::milliseconds timeout = std::chrono::seconds(90)) const;

 private:
  std::string base_;
};

// Polls `pred` until true or the deadline passes.
template <typename F>
bool eventually(F pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    struct timespec ts {
      0, 10'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace zlh::testing
