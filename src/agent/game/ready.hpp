// Recognizes a game server's "ready" line in its console output (docs/design.md
// §9: `running` when the log matches the catalog's `ready` pattern).
//
// ReadyMatcher assembles the raw terminal byte stream into lines (split at
// '\n'; '\r' and ANSI escape sequences — colours, cursor moves, OSC titles —
// are removed), then runs std::regex_search (ECMAScript) over each complete
// line. A line longer than kMaxLine is cut there for matching. The last
// kKeepLines lines (and the unfinished one) are kept for error messages.
//
// Thread-safety: a plain object, one thread at a time.
#pragma once

#include <deque>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::agent::game {

// Used when a catalog entry has no `ready`: the line vanilla, Paper, Fabric
// and Forge print when they accept players ("Done (3.2s)! For help, …").
inline constexpr std::string_view kDefaultReady = R"(Done \()";

class ReadyMatcher {
 public:
  static constexpr size_t kMaxLine = 8192;
  static constexpr size_t kKeepLines = 30;

  // E_INVALID when the pattern does not compile.
  static Result<ReadyMatcher> make(const std::string& pattern);

  // Feeds output bytes; true once some complete line matched (sticky).
  bool feed(std::string_view bytes);
  bool matched() const { return matched_; }
  // The last lines seen (oldest first), the unfinished line last if any.
  std::vector<std::string> last_lines() const;
  // Forgets everything (a new attachment replays the scrollback).
  void reset();

 private:
  explicit ReadyMatcher(std::regex re) : re_(std::move(re)) {}
  void finish_line();

  std::regex re_;
  std::string line_;
  std::deque<std::string> last_;
  bool matched_ = false;
};

// Removes ANSI escape sequences (CSI, OSC, two-byte ESC x) and '\r'.
std::string strip_terminal_codes(std::string_view line);

}  // namespace zlh::agent::game
