// zlh-fake-ct: one step of a fake Proxmox container's life, run through the
// real local driver (api/drivers/local/local_driver.hpp), so that the containers
// of tests/fixtures/fake_proxmox.py have a real zlh-agent at their address.
//
//   zlh-fake-ct --data DIR --agent-bin PATH [--api-key FILE] [--catalog-key FILE]
//               [--artifacts URL] [--dev-user NAME]
//               <create TYPE | start | stop TIMEOUT_MS | destroy | status> VMID
//
//   create TYPE      LocalDriver::create (type dev|game; needs --api-key)
//   start            start, then wait up to 30 s for the agent's /health;
//                    prints the address
//   stop TIMEOUT_MS  stop with that grace period
//   destroy          destroy (10 s stop timeout)
//   status           prints {"state": "running|stopped|missing", "address": ...}
//
// Exit 0 on success; 1 with "zlh-fake-ct: <error>" as the last line on
// stderr; 2 for a bad command line. Every step is idempotent (the driver's
// own contract). Each run opens the driver on DIR, so at most one zlh-fake-ct
// may run per DIR at a time (the fake keeps one DIR per container and
// serializes a container's steps). Agents it starts outlive it (they are
// adopted by init), as they outlive a zlh-api restart.
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/drivers/local/local_driver.hpp"
#include "base/log.hpp"

namespace {

using namespace std::chrono_literals;
using namespace zlh::api::drivers;

int usage(const std::string& why) {
  std::cerr << "zlh-fake-ct: " << why << "\n"
            << "usage: zlh-fake-ct --data DIR --agent-bin PATH [--api-key FILE] "
               "[--catalog-key FILE] [--artifacts URL] [--dev-user NAME] "
               "<create TYPE|start|stop TIMEOUT_MS|destroy|status> VMID\n";
  return 2;
}

int failed(const zlh::Error& e) {
  std::cerr << "zlh-fake-ct: " << e.message << "\n";
  return 1;
}

bool parse_int(const std::string& s, long min, long max, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  zlh::log::set_format(zlh::log::Format::kText);
  std::string data, agent_bin;
  AgentConfig agent;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--data") {
      ok = value(&data);
    } else if (a == "--agent-bin") {
      ok = value(&agent_bin);
    } else if (a == "--api-key") {
      ok = value(&agent.api_public_key_file);
    } else if (a == "--catalog-key") {
      ok = value(&agent.catalog_public_key_file);
    } else if (a == "--artifacts") {
      ok = value(&agent.artifacts_url);
    } else if (a == "--dev-user") {
      ok = value(&agent.dev_user);
    } else if (a.starts_with("--")) {
      return usage("unknown option " + a);
    } else {
      words.push_back(a);
    }
    if (!ok) return usage(a + " needs a value");
  }
  if (data.empty() || agent_bin.empty()) return usage("--data and --agent-bin are required");
  if (words.size() < 2) return usage("missing command or vmid");
  const std::string& cmd = words[0];
  const size_t want = (cmd == "create" || cmd == "stop") ? 3 : 2;
  if (words.size() != want) return usage("wrong number of arguments for " + cmd);
  long vmid = 0;
  if (!parse_int(words.back(), kMinVmid, kMaxVmid, &vmid)) return usage("bad vmid " + words.back());

  auto d = LocalDriver::open({.data_dir = data, .agent_bin = agent_bin});
  if (!d) return failed(d.error());
  LocalDriver& driver = **d;
  const int id = int(vmid);

  if (cmd == "create") {
    ContainerSpec spec;
    auto type = zlh::parse_container_type(words[1]);
    if (!type) return failed(zlh::Error::invalid("type", "type must be dev or game"));
    spec.type = *type;
    spec.agent = agent;
    if (auto r = driver.create(id, spec); !r) return failed(r.error());
    return 0;
  }
  if (cmd == "start") {
    if (auto r = driver.start(id); !r) return failed(r.error());
    auto addr = driver.address(id, 30s);
    if (!addr) return failed(addr.error());
    std::cout << *addr << std::endl;
    return 0;
  }
  if (cmd == "stop") {
    long ms = 0;
    if (!parse_int(words[1], 0, 3'600'000, &ms)) return usage("bad TIMEOUT_MS " + words[1]);
    if (auto r = driver.stop(id, std::chrono::milliseconds(ms)); !r) return failed(r.error());
    return 0;
  }
  if (cmd == "destroy") {
    if (auto r = driver.destroy(id, 10s); !r) return failed(r.error());
    return 0;
  }
  if (cmd == "status") {
    auto s = driver.status(id);
    if (!s) return failed(s.error());
    std::cout << nlohmann::json{{"state", to_string(s->state)}, {"address", s->address}}.dump()
              << std::endl;
    return 0;
  }
  return usage("unknown command " + cmd);
}
