// zlh-api-bench-seed: fills a zlh-api store (before the API starts on it)
// with one user and N dev servers that look provisioned: state ready, an ip
// (the local driver's address for the vmid), agent_state running (last seen
// an hour ago), a payload
// like POST /api/servers makes, and a finished create job. Everything goes
// through the store module (the only place with SQL), so the rows are exactly
// what the API itself would have written. bench/api.sh uses it for the
// GET /api/servers benchmark; nothing runs in those "containers".
//
//   zlh-api-bench-seed --db <data>/zlh.db --servers 1000 --dev-vmid-lo 40000
//                      --username bench --password <password>
//
// Exits 0 with one line "seeded <n> servers for user <id>" on stdout.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/auth/password.hpp"
#include "api/drivers/local/local_driver.hpp"
#include "api/store/store.hpp"

using namespace zlh;
using namespace zlh::api;

int main(int argc, char** argv) {
  std::string db, username = "bench", password;
  int servers = 1000, vmid_lo = 40000;
  CLI::App app{"seed a zlh-api store for bench/api.sh", "zlh-api-bench-seed"};
  app.add_option("--db", db, "the store file (<data>/zlh.db)")->required();
  app.add_option("--servers", servers, "dev servers to create")->capture_default_str();
  app.add_option("--dev-vmid-lo", vmid_lo, "first dev vmid (the API must use the same range)")
      ->capture_default_str();
  app.add_option("--username", username)->capture_default_str();
  app.add_option("--password", password)->required();
  CLI11_PARSE(app, argc, argv);
  if (servers < 1 || vmid_lo < 6000 || vmid_lo + servers - 1 > drivers::kMaxVmid) {
    std::cerr
        << "zlh-api-bench-seed: --servers/--dev-vmid-lo out of range (dev vmids 6000..65535)\n";
    return 2;
  }

  store::Options so;
  so.dev_vmids = {vmid_lo, vmid_lo + servers - 1};
  auto st = store::Store::open(db, so);
  if (!st) {
    std::cerr << "zlh-api-bench-seed: " << st.error().message << "\n";
    return 1;
  }
  store::Store& s = **st;
  auto hash = auth::PasswordHasher(auth::HashParams::interactive(), 1).hash(password);
  if (!hash) {
    std::cerr << "zlh-api-bench-seed: " << hash.error().message << "\n";
    return 1;
  }
  auto user = s.create_user({username + "@example.com", username, *hash, false});
  if (!user) {
    std::cerr << "zlh-api-bench-seed: " << user.error().message << "\n";
    return 1;
  }
  const std::vector<std::string> steps = {"allocate vmid",   "create container",
                                          "start container", "wait for address",
                                          "configure agent", "wait for running"};
  const std::string payload =
      nlohmann::json{
          {"memory_mb", 1024}, {"cpu_cores", 1},       {"catalog_sha256", std::string(64, 'a')},
          {"runtime", "node"}, {"version", "22.23.3"}, {"enable_code_server", true}}
          .dump();
  auto check = [](const Result<void>& r, const char* what) {
    if (!r) {
      std::cerr << "zlh-api-bench-seed: " << what << ": " << r.error().message << "\n";
      std::exit(1);
    }
  };
  for (int i = 0; i < servers; ++i) {
    store::NewServer ns;
    ns.owner_id = user->id;
    ns.type = store::ServerType::kDev;
    ns.name = "bench-" + std::to_string(i);
    ns.hostname_prefix = "dev-";
    ns.payload = payload;
    auto c = s.create_server(ns, steps);
    if (!c) {
      std::cerr << "zlh-api-bench-seed: create: " << c.error().message << "\n";
      return 1;
    }
    check(s.update_job_state(c->job.id, store::JobState::kRunning), "job running");
    check(s.update_job_state(c->job.id, store::JobState::kDone), "job done");
    auto ip = drivers::local_address(*c->server.vmid);
    if (!ip) {
      std::cerr << "zlh-api-bench-seed: " << ip.error().message << "\n";
      return 1;
    }
    check(s.update_server(c->server.id,
                          {.state = store::ServerState::kReady,
                           .ip = *ip,
                           .node = std::string("local"),
                           .agent_state = std::string("running"),
                           // An hour old: the bench can tell the poller's fresh
                           // stamps from the seed's.
                           .agent_last_seen = store::Clock::now() - std::chrono::hours(1),
                           .crash_count = 0,
                           .install_step = std::string("done"),
                           .progress = 1.0}),
          "server ready");
  }
  std::cout << "seeded " << servers << " servers for user " << user->id << "\n";
  return 0;
}
