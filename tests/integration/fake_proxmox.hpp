// Runs tests/fixtures/fake_proxmox.py (a stand-in for the Proxmox VE REST
// API, /api2/json; its docstring lists the endpoints, the behaviour copied
// from PVE and the /_fake/ control settings) as a child process on loopback
// ports of its own. Used by the proxmox driver's contract and integration
// tests.
//
// The fake serves the API on one port (HTTPS with a fresh self-signed
// certificate when tls is on, else plain HTTP) and its /_fake/ control
// endpoints on a second, plain-HTTP port, which state() and configure() use.
// With real_cts, every cloned container is run through zlh-fake-ct (the
// local driver), so a started container has a real zlh-agent on
// 127.77.<vmid/256>.<vmid%256>:18888; the fake stops all of them when it
// ends. Files, all under Options::work_dir: fake_proxmox.port,
// fake_proxmox.log (requests, tasks, zlh-fake-ct output), fake_proxmox.crt
// and .key, cts/<vmid>/ (a container's local-driver data).
//
// The script is found under $ZLH_SOURCE_DIR (set by ctest), else the source
// tree this was built from; zlh-agent and zlh-fake-ct default to
// $ZLH_BIN_DIR, else the build tree's bin/.
//
// Thread-safety: one test thread per instance; state() and configure() may
// be called while the code under test talks to the fake from other threads.
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.hpp"

namespace zlh::testing {

class FakeProxmox {
 public:
  struct Options {
    std::string work_dir;  // must exist: port file, log, CT data dir, cert
    std::string token = "zlh@pve!api=fake-secret-0123456789";  // USER@REALM!TOKENID=SECRET
    std::string nodes = "pve1=8192,pve2=8192,pve3=8192";       // node=maxmem MiB
    std::string templates = "pve1=9001,pve2=9002,pve3=9003";   // node=template vmid
    // Serve HTTPS with a self-signed certificate (openssl CLI, EC P-256,
    // CN pve.test, subjectAltName IP:<host>).
    bool tls = true;
    // Back cloned containers with zlh-fake-ct and real agents. api_key is
    // then required; agent_bin and ct_bin default to the bin dir.
    bool real_cts = false;
    std::string agent_bin, ct_bin, api_key, catalog_key, artifacts, dev_user = "-";
    std::string host = "127.0.0.1";
  };
  // Makes the certificate (tls), starts the fake and waits (10 s) until both
  // ports listen. E_INVALID (work_dir missing, real_cts without api_key),
  // E_IO (openssl or spawning failed), E_INTERNAL (the script exited; see
  // fake_proxmox.log), E_TIMEOUT.
  static Result<std::unique_ptr<FakeProxmox>> start(const Options& o);
  // SIGTERM (the fake then stops every real container), SIGKILL after 30 s;
  // always reaped.
  ~FakeProxmox();

  // "https://127.0.0.1:PORT" ("http://…" without tls); no /api2/json.
  std::string url() const;
  // "http://127.0.0.1:CONTROL_PORT", where /_fake/ lives.
  std::string control_url() const;
  // The PEM of the self-signed certificate; empty without tls.
  std::string cert_file() const { return cert_file_; }
  // "AB:CD:…": uppercase colon hex SHA-256 of the certificate's DER, as the
  // Proxmox GUI shows it; empty without tls.
  std::string fingerprint_sha256() const { return fingerprint_; }
  // The full token the fake accepts: "Authorization: PVEAPIToken=<token>".
  std::string token() const { return token_; }
  std::string log_file() const { return work_dir_ + "/fake_proxmox.log"; }

  // GET /_fake/state: {cts, requests, max_concurrent_clones, tasks,
  // settings}; an empty object when the fake does not answer.
  nlohmann::json state() const;
  // POST /_fake/config (task_ms, lock_errors, fail_clones, offline, foreign,
  // template_lock). A refused setting is printed to stderr (the test then
  // fails on what it expected).
  void configure(const nlohmann::json& settings) const;

 private:
  FakeProxmox() = default;
  std::string host_, work_dir_, token_, cert_file_, fingerprint_;
  bool tls_ = true;
  int port_ = 0;
  int control_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace zlh::testing
