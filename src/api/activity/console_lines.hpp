// The lines a browser submits in a game server's console (docs/activity.md):
// the console WebSocket carries keystrokes (xterm's onData: one key, an
// escape sequence or a paste per frame), and the activity log wants whole
// commands. ConsoleLines edits a line the way a plain terminal line would
// (printable bytes append, Backspace/DEL removes the last character,
// Ctrl-C and Ctrl-U clear it, escape sequences such as arrow keys are
// skipped) and hands out a line when Enter (CR or LF) submits it.
//
// Bounds: a line is kept to kMaxLine bytes (cut at a UTF-8 boundary; the
// rest of the line is ignored), blank lines are not lines, and at most
// kMaxPerSecond lines per one-second window come out; the others are
// dropped and counted. Never used for dev servers: a shell's input may hold
// secrets (the relay decides, console_relay.cpp).
//
// Thread-safety: none; one per console session, fed from its I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zlh::api::activity {

class ConsoleLines {
 public:
  static constexpr size_t kMaxLine = 512;
  static constexpr int kMaxPerSecond = 20;
  using TimePoint = std::chrono::steady_clock::time_point;

  // The lines `input` completes, in order, within the rate cap.
  std::vector<std::string> feed(std::string_view input, TimePoint now);
  // Lines submitted but dropped by the rate cap so far.
  uint64_t dropped() const { return dropped_; }

 private:
  enum class Esc { kNone, kStart, kCsi, kOne };
  void submit(std::vector<std::string>& out, TimePoint now);
  void erase_last();

  std::string line_;
  Esc esc_ = Esc::kNone;
  TimePoint window_start_{};
  int in_window_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace zlh::api::activity
