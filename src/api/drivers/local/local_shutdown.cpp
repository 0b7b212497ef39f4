#include "api/drivers/local/local_shutdown.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "api/drivers/driver.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::api::drivers {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kComponent = "driver";

// One supervised service as its shim recorded it (run/zlh/<name>.json).
struct ShimProcs {
  std::string name;
  std::optional<ProcessHandle> shim;
  std::optional<ProcessHandle> service;
};

std::vector<ShimProcs> find_shims(const std::string& dir) {
  std::vector<ShimProcs> out;
  std::string run = dir + "/run/zlh";
  DIR* d = ::opendir(run.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() <= 5 || !n.ends_with(".json") || n.front() == '.') continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    auto text = fs::read_file(run + "/" + n, 1 << 20);
    if (!text) continue;
    auto s = shim::parse_status(*text);
    if (!s) continue;
    ShimProcs p;
    p.name = s->name;
    // Without a recorded start time a pid proves nothing: leave it to the
    // directory sweep, which checks what the process is.
    if (s->shim_pid > 0 && s->shim_start_time > 0)
      if (auto h = ProcessHandle::open(s->shim_pid, s->shim_start_time)) p.shim = std::move(*h);
    if (s->pid > 0 && s->pid_start_time > 0)
      if (auto h = ProcessHandle::open(s->pid, s->pid_start_time)) p.service = std::move(*h);
    if (p.shim || p.service) out.push_back(std::move(p));
  }
  ::closedir(d);
  return out;
}

void log_signal_error(const Result<bool>& r, int vmid, pid_t pid) {
  if (!r)
    log::warn(kComponent, "signal refused",
              {{"vmid", vmid}, {"pid", pid}, {"error", r.error().message}});
}

// 1. The agent first: a live agent would restart the services below as
// crashes. Its SIGTERM leaves the services alone (docs/design.md §6).
Result<void> end_agent(std::optional<ProcessHandle>& agent, int vmid, Clock::time_point deadline,
                       const ShutdownOptions& opts) {
  if (agent && agent->alive()) {
    log_signal_error(agent->signal(SIGTERM), vmid, agent->pid());
    auto grace = std::min(opts.agent_stop_timeout, std::max(left_until(deadline), 100ms));
    if (!agent->wait_exit(grace)) {
      log::warn(kComponent, "agent ignored SIGTERM: killing it",
                {{"vmid", vmid}, {"pid", agent->pid()}});
      log_signal_error(agent->signal(SIGKILL), vmid, agent->pid());
      if (!agent->wait_exit(opts.kill_grace))
        return fail(codes::kIo, "agent " + std::to_string(agent->pid()) + " does not die");
    }
    agent->reap_if_child();
  }

  return {};
}

// 2. The services, each by its shim's stop policy (SIGTERM to a shim runs
// it); a service whose shim is gone gets SIGTERM to its process group.
void end_services(const std::string& dir, int vmid, Clock::time_point deadline,
                  const ShutdownOptions& opts) {
  auto shims = find_shims(dir);
  for (auto& s : shims) {
    if (s.shim && s.shim->alive()) {
      log_signal_error(s.shim->signal(SIGTERM), vmid, s.shim->pid());
    } else if (s.service) {
      auto r = s.service->signal_group(SIGTERM);
      if (r && !*r) r = s.service->signal(SIGTERM);
      log_signal_error(r, vmid, s.service->pid());
    }
  }
  std::vector<ProcessHandle*> services, shim_procs;
  for (auto& s : shims) {
    if (s.service) services.push_back(&*s.service);
    if (s.shim) shim_procs.push_back(&*s.shim);
  }
  if (wait_all_exit(services, deadline) > 0) {
    for (auto* p : services) {
      if (!p->alive()) continue;
      log::warn(kComponent, "service outlived the stop timeout: killing it",
                {{"vmid", vmid}, {"pid", p->pid()}});
      auto r = p->signal_group(SIGKILL);
      log_signal_error(r, vmid, p->pid());
      log_signal_error(p->signal(SIGKILL), vmid, p->pid());
    }
    wait_all_exit(services, Clock::now() + opts.kill_grace);
  }
  // A shim whose service has exited lingers to hand out the exit status;
  // SIGTERM now makes it quit at once.
  for (auto* p : shim_procs)
    if (p->alive()) log_signal_error(p->signal(SIGTERM), vmid, p->pid());
  if (wait_all_exit(shim_procs, Clock::now() + 2s) > 0) {
    for (auto* p : shim_procs)
      if (p->alive()) log_signal_error(p->signal(SIGKILL), vmid, p->pid());
    wait_all_exit(shim_procs, Clock::now() + opts.kill_grace);
  }
}

// 3. Whatever else still belongs to the directory: processes that left
// their service's process group (setsid, double fork), leftovers of a
// killed installer, an agent the record does not know. SIGTERM once while
// the caller's time lasts, then SIGKILL until none is left.
Result<void> end_leftovers(const std::string& dir, int vmid, Clock::time_point deadline,
                           const ShutdownOptions& opts) {
  for (int round = 0;; ++round) {
    auto procs = processes_inside(dir);
    if (procs.empty()) break;
    if (round >= 10) {
      std::string pids;
      for (auto& p : procs) {
        if (!pids.empty()) pids += ',';
        pids += std::to_string(p.pid());
      }
      return fail(codes::kIo, "processes of the container do not die: " + pids);
    }
    bool gentle = round == 0 && Clock::now() < deadline;
    std::vector<ProcessHandle*> ptrs;
    for (auto& p : procs) {
      log::info(kComponent, gentle ? "ending leftover process" : "killing leftover process",
                {{"vmid", vmid}, {"pid", p.pid()}});
      log_signal_error(p.signal(gentle ? SIGTERM : SIGKILL), vmid, p.pid());
      ptrs.push_back(&p);
    }
    wait_all_exit(
        ptrs, Clock::now() + (gentle ? std::min<std::chrono::milliseconds>(left_until(deadline), 2s)
                                     : opts.kill_grace));
  }

  return {};
}

}  // namespace

Result<void> end_container(const std::string& dir, int vmid, std::optional<ProcessHandle> agent,
                           Clock::time_point deadline, const ShutdownOptions& opts) {
  if (auto r = end_agent(agent, vmid, deadline, opts); !r) return r;
  end_services(dir, vmid, deadline, opts);
  return end_leftovers(dir, vmid, deadline, opts);
}

void kill_all_inside(const std::string& dir, int vmid, std::chrono::milliseconds kill_grace) {
  for (auto& p : processes_inside(dir)) {
    log_signal_error(p.signal(SIGKILL), vmid, p.pid());
    p.wait_exit(kill_grace);
    p.reap_if_child();
  }
}

std::optional<ProcessHandle> find_agent(const std::string& dir) {
  for (auto& p : processes_inside(dir)) {
    auto argv = p.argv();
    if (argv.empty() || !(argv[0] == "zlh-agent" || argv[0].ends_with("/zlh-agent"))) continue;
    for (size_t i = 1; i + 1 < argv.size(); ++i)
      if (argv[i] == "--root" && argv[i + 1] == dir) return std::move(p);
  }
  return std::nullopt;
}

}  // namespace zlh::api::drivers
