// zlh-shim: the holder process of one supervised service (docs/design.md §6),
// in the spirit of conmon / containerd-shim.
//
// The agent starts one shim per service. The shim starts the service (via
// process::spawn, own session and process group) on a PTY or on pipes,
// keeps a scrollback Ring of its output, serves the unix socket protocol of
// proto/shim_protocol.hpp and records the service's state in a JSON state
// file. The agent may die (even kill -9) and restart at any time: the shim
// and the service keep running, and the new agent reattaches through the
// socket (scrollback included) or reads the state file.
//
// Event loop: one thread, poll(), non-blocking fds, signals through a
// signalfd. Reading the service's output never waits for clients: every
// attached client has its own queue bounded to kClientQueueLimit plus the
// scrollback capacity; when a slow client exceeds it, its oldest queued
// OUTPUT frames are dropped (counted and logged), never the producer or the
// other clients. Frames already partly written are never cut.
//
// Stop policy (STOP frame, SIGTERM or SIGINT to the shim): write
// stop_command + "\n" to the service's input, or send stop_signal to its
// process group; wait stop_timeout; SIGTERM the group, wait term_timeout;
// SIGKILL the group. graceful = the service exited in the first phase.
//
// When the service's main process exits, whatever is left of its process
// group is SIGKILLed (so a restart never collides with leftovers), the
// remaining output is drained, EXIT is sent to every client and the state
// file is rewritten. The shim then lingers (serving STATUS and the
// scrollback) until `linger` passes, one second after an EXIT frame was
// fully delivered to a client, a STOP frame or SIGTERM arrives.
// The shim is a child subreaper: orphans of the service are reaped too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shim/ring.hpp"

namespace zlh::shim {

inline constexpr size_t kClientQueueLimit = 1 << 20;
inline constexpr size_t kMaxClients = 128;

struct Options {
  std::string name;
  std::string socket_path;
  std::string state_path;
  bool pty = true;  // false: stdin pipe, stdout+stderr on one pipe
  std::string cwd;  // empty: "/"
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string user;  // for supplementary groups (process::SpawnOptions::user_name)
  // The complete environment of the service; nullopt = the shim's own.
  std::optional<std::vector<std::string>> env;
  std::string stop_command;  // empty: send stop_signal
  int stop_signal = SIGTERM;
  std::chrono::milliseconds stop_timeout{30'000};
  std::chrono::milliseconds term_timeout{10'000};
  std::chrono::milliseconds linger{30'000};
  size_t scrollback = Ring::kDefaultCapacity;
  uint16_t cols = 120;
  uint16_t rows = 40;
  // Interactive sessions (a dev console, like ssh): while an attached client
  // is more than half its queue limit behind, stop reading the service's
  // output so the service waits instead of the client losing output. Off
  // for shared consoles (game servers), which must never wait for a viewer.
  bool backpressure = false;
  std::vector<std::string> argv;
};

// Runs the shim until the service has exited and the linger period ended.
// Calls setsid() and prctl(PR_SET_CHILD_SUBREAPER), blocks SIGCHLD/SIGTERM/
// SIGINT/SIGHUP and ignores SIGPIPE for the whole process: call it once,
// from main, before other threads exist.
// Returns the process exit code: 0 once the service ran and exited
// (whatever its own exit code), 1 when the shim could not set up (socket,
// pty, spawn) — the state file then says "exited" with an "error" field.
int run(const Options& o);

}  // namespace zlh::shim
