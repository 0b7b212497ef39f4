#include "fake_headscale.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "base/fs.hpp"
#include "base/process.hpp"
#include "fixture_process.hpp"
#include "http/client.hpp"

namespace zlh::testing {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string script() {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  return std::string(src ? src : ZLH_DEFAULT_SOURCE_DIR) + "/tests/fixtures/fake_headscale.py";
}

}  // namespace

Result<std::unique_ptr<FakeHeadscale>> FakeHeadscale::start(const Options& o) {
  std::string port_file = o.work_dir + "/fake_headscale.port";
  ::unlink(port_file.c_str());
  process::SpawnOptions so;
  so.argv = {"python3", "-u",   script(), "--version", o.version,     "--api-key", o.api_key,
             "--host",  o.host, "--port", "0",         "--port-file", port_file};
  so.env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  int log = ::open((o.work_dir + "/fake_headscale.log").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  so.stdout_fd = log;
  so.stderr_fd = log;
  auto pid = process::spawn(so);
  if (log >= 0) ::close(log);
  if (!pid) return std::unexpected(pid.error());
  std::unique_ptr<FakeHeadscale> f(new FakeHeadscale());
  f->host_ = o.host;
  f->pid_ = *pid;
  auto p =
      wait_port_file(f->pid_, port_file, "fake_headscale.py", o.work_dir + "/fake_headscale.log");
  if (!p) return std::unexpected(p.error());
  f->port_ = std::atoi(p->c_str());
  return f;
}

FakeHeadscale::~FakeHeadscale() { stop_child(pid_, 5s); }

json FakeHeadscale::requests() const {
  auto r = http::request("GET", url() + "/_fake/requests", {}, {}, 5s);
  if (!r || r->status != 200) return json::array();
  return json::parse(r->body, nullptr, false).value("requests", json::array());
}

json FakeHeadscale::state() const {
  auto r = http::request("GET", url() + "/_fake/state", {}, {}, 5s);
  if (!r || r->status != 200) return json::object();
  return json::parse(r->body, nullptr, false);
}

void FakeHeadscale::fail_next(const std::string& op, int status, const std::string& message,
                              int times) const {
  (void)http::request(
      "POST", url() + "/_fake/fail", {},
      json{{"op", op}, {"status", status}, {"message", message}, {"times", times}}.dump(), 5s);
}

void FakeHeadscale::use_key(const std::string& id) const {
  (void)http::request("POST", url() + "/_fake/use", {}, json{{"id", id}}.dump(), 5s);
}

}  // namespace zlh::testing
