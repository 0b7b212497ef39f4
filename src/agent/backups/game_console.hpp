// The game server's console as a backup uses it (docs/backups.md): write a
// command line to the server's stdin, and read what it prints from then on.
//
// GameConsole is the interface (fakes in unit tests); ShimConsole talks to
// the service's zlh-shim (proto/shim_protocol.hpp): attach() sends ATTACH
// without the scrollback flag, so only output printed after the attach is
// seen; send_line() writes "<line>\n" as one INPUT frame (connecting first
// when not attached, so a resume works after detach()).
//
// Errors: E_UNAVAILABLE when the shim is gone or the service exited,
// E_TIMEOUT when read_output() sees nothing within its timeout, E_IO on
// socket errors.
//
// Thread-safety: one object is used by one thread at a time.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::agent::backups {

class GameConsole {
 public:
  virtual ~GameConsole() = default;
  // Starts receiving output printed from now on.
  virtual Result<void> attach() = 0;
  // Writes one line (without its '\n') to the server's stdin.
  virtual Result<void> send_line(std::string_view line) = 0;
  // The next piece of output (raw terminal bytes), waiting at most `timeout`.
  virtual Result<std::string> read_output(std::chrono::milliseconds timeout) = 0;
  // Stops receiving output (a slow reader must not hold the shim's queue).
  virtual void detach() = 0;
};

class ShimConsole : public GameConsole {
 public:
  explicit ShimConsole(std::string socket_path) : sock_(std::move(socket_path)) {}
  Result<void> attach() override;
  Result<void> send_line(std::string_view line) override;
  Result<std::string> read_output(std::chrono::milliseconds timeout) override;
  void detach() override { client_.close(); }

 private:
  Result<void> connect();
  std::string sock_;
  shim::ShimClient client_;
};

}  // namespace zlh::agent::backups
