// Start-up and shutdown of a stand-in server run as a child process (the
// fake Headscale and the fake Proxmox VE API, both Python scripts): waiting
// for the port file it writes once it listens, and stopping it.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>

#include "base/error.hpp"
#include "base/fs.hpp"

namespace zlh::testing {

// The port file's contents once the child (`pid`) wrote it, within 10 s.
// If the child exits first, it is reaped, `pid` becomes -1 and the error
// points at `log`.
inline Result<std::string> wait_port_file(pid_t& pid, const std::string& port_file,
                                          const std::string& name, const std::string& log) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto p = fs::read_file(port_file, 64); p && !p->empty()) return *p;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return fail(codes::kInternal, name + " exited; see " + log);
    }
    std::this_thread::sleep_for(20ms);
  }
  return fail(codes::kTimeout, name + " did not start listening; see " + log);
}

// SIGTERM, up to `grace` for the child to exit, then SIGKILL; reaps it.
inline void stop_child(pid_t pid, std::chrono::seconds grace) {
  using namespace std::chrono_literals;
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace zlh::testing
