#include "fake_proxmox.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

#include "base/fs.hpp"
#include "base/process.hpp"
#include "fixture_process.hpp"
#include "http/client.hpp"

namespace zlh::testing {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* kPath = "PATH=/usr/local/bin:/usr/bin:/bin";

std::string script() {
  const char* src = std::getenv("ZLH_SOURCE_DIR");
  return std::string(src ? src : ZLH_DEFAULT_SOURCE_DIR) + "/tests/fixtures/fake_proxmox.py";
}

std::string bin_dir() {
  const char* bin = std::getenv("ZLH_BIN_DIR");
  return bin ? bin : ZLH_DEFAULT_BIN_DIR;
}

Result<std::string> run_openssl(const std::vector<std::string>& args) {
  process::SpawnOptions so;
  so.argv = {"openssl"};
  so.argv.insert(so.argv.end(), args.begin(), args.end());
  so.env = {kPath};
  auto r = process::run(so, 30s);
  if (!r) return fail(r.error().wrap("openssl"));
  if (r->exit_code != 0)
    return fail(codes::kIo, "openssl " + args[0] + " exited with " + std::to_string(r->exit_code) +
                                ": " + r->output);
  return r->output;
}

// Makes a self-signed EC certificate for CN pve.test valid for `host`;
// returns its SHA-256 fingerprint ("AB:CD:…").
Result<std::string> make_cert(const std::string& cert, const std::string& key,
                              const std::string& host) {
  if (auto r =
          run_openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-days", "2", "-subj", "/CN=pve.test", "-addext",
                       "subjectAltName=IP:" + host, "-keyout", key, "-out", cert});
      !r)
    return fail(r.error().wrap("make certificate"));
  auto out = run_openssl({"x509", "-noout", "-fingerprint", "-sha256", "-in", cert});
  if (!out) return fail(out.error().wrap("certificate fingerprint"));
  // "sha256 Fingerprint=AB:CD:…" (OpenSSL 3) or "SHA256 Fingerprint=…" (1.1).
  auto eq = out->find('=');
  if (eq == std::string::npos) return fail(codes::kIo, "openssl x509: no fingerprint in " + *out);
  std::string fp;
  for (char c : out->substr(eq + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c)) || c == ':')
      fp += char(std::toupper(static_cast<unsigned char>(c)));
    else if (c == '\n')
      break;
  }
  if (fp.size() != 32 * 3 - 1) return fail(codes::kIo, "openssl x509: odd fingerprint " + *out);
  return fp;
}

}  // namespace

Result<std::unique_ptr<FakeProxmox>> FakeProxmox::start(const Options& o) {
  struct stat st {};
  if (o.work_dir.empty() || ::stat(o.work_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(Error::invalid("work_dir", "work_dir " + o.work_dir + " is not a directory"));
  if (o.real_cts && o.api_key.empty())
    return fail(Error::invalid("api_key", "real_cts needs api_key"));
  std::unique_ptr<FakeProxmox> f(new FakeProxmox());
  f->host_ = o.host;
  f->work_dir_ = o.work_dir;
  f->token_ = o.token;
  f->tls_ = o.tls;

  const std::string port_file = o.work_dir + "/fake_proxmox.port";
  ::unlink(port_file.c_str());
  process::SpawnOptions so;
  so.argv = {"python3", "-u", script()};
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--nodes", o.nodes}, {"--templates", o.templates}, {"--data", o.work_dir + "/cts"},
      {"--host", o.host},   {"--port-file", port_file},   {"--log", f->log_file()}};
  for (const auto& [flag, value] : flags) so.argv.insert(so.argv.end(), {flag, value});
  if (o.tls) {
    f->cert_file_ = o.work_dir + "/fake_proxmox.crt";
    const std::string key = o.work_dir + "/fake_proxmox.key";
    auto fp = make_cert(f->cert_file_, key, o.host);
    if (!fp) return fail(fp.error().wrap("fake proxmox"));
    f->fingerprint_ = *fp;
    so.argv.insert(so.argv.end(), {"--cert", f->cert_file_, "--key", key});
  }
  if (o.real_cts) {
    so.argv.insert(so.argv.end(),
                   {"--ct-bin", o.ct_bin.empty() ? bin_dir() + "/zlh-fake-ct" : o.ct_bin,
                    "--agent-bin", o.agent_bin.empty() ? bin_dir() + "/zlh-agent" : o.agent_bin,
                    "--api-key", o.api_key, "--dev-user", o.dev_user});
    if (!o.catalog_key.empty()) so.argv.insert(so.argv.end(), {"--catalog-key", o.catalog_key});
    if (!o.artifacts.empty()) so.argv.insert(so.argv.end(), {"--artifacts", o.artifacts});
  }
  // The token through the environment: a command line is world-readable (ps).
  so.env = {kPath, "FAKE_PVE_TOKEN=" + o.token};
  // Tracebacks and anything else the script prints land beside its own log.
  int log = ::open(f->log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  so.stdout_fd = log;
  so.stderr_fd = log;
  auto pid = process::spawn(so);
  if (log >= 0) ::close(log);
  if (!pid) return std::unexpected(pid.error());
  f->pid_ = *pid;

  auto p = wait_port_file(f->pid_, port_file, "fake_proxmox.py", f->log_file());
  if (!p) return std::unexpected(p.error());
  std::istringstream in(*p);
  in >> f->port_ >> f->control_port_;
  if (f->port_ > 0 && f->control_port_ > 0) return f;
  return fail(codes::kInternal, "fake_proxmox.py wrote an odd port file: " + *p);
}

// The fake stops every real container before it exits: give it time.
FakeProxmox::~FakeProxmox() { stop_child(pid_, 30s); }

std::string FakeProxmox::url() const {
  return std::string(tls_ ? "https://" : "http://") + host_ + ":" + std::to_string(port_);
}

std::string FakeProxmox::control_url() const {
  return "http://" + host_ + ":" + std::to_string(control_port_);
}

json FakeProxmox::state() const {
  auto r = http::request("GET", control_url() + "/_fake/state", {}, {}, 10s);
  if (!r || r->status != 200) return json::object();
  return json::parse(r->body, nullptr, false);
}

void FakeProxmox::configure(const json& settings) const {
  auto r = http::request("POST", control_url() + "/_fake/config", {}, settings.dump(), 10s);
  if (!r)
    std::cerr << "fake proxmox: configure: " << r.error().to_string() << "\n";
  else if (r->status != 200)
    std::cerr << "fake proxmox: configure refused (" << r->status << "): " << r->body << "\n";
}

}  // namespace zlh::testing
