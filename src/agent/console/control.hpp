// The console WebSocket's control messages from the client (docs/design.md §7):
// text frames holding {"type":"resize","cols":C,"rows":R} or
// {"type":"signal","name":"INT"}.
//
// parse_control() never throws, whatever the frame holds (not JSON, members
// of the wrong type, numbers out of any range): anything but one of the two
// messages, well formed, is E_INVALID, which the console drops without
// ending the session. Members other than those named are ignored.
// cols and rows are integers in 1..kMaxWindowCells; name is a signal
// signal_from_name() knows, with or without "SIG".
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.hpp"

namespace zlh::agent::console {

inline constexpr int kMaxWindowCells = 1000;

struct Control {
  enum class Kind { kResize, kSignal };
  Kind kind = Kind::kResize;
  uint16_t cols = 0;  // kResize
  uint16_t rows = 0;  // kResize
  int signal = 0;     // kSignal: the signal number
};

Result<Control> parse_control(std::string_view text);

// "INT" or "SIGINT" → SIGINT, for INT TERM HUP QUIT KILL TSTP CONT USR1 USR2
// WINCH; 0 when unknown.
int signal_from_name(std::string_view name);

}  // namespace zlh::agent::console
