#include "agent/game/ready.hpp"

namespace zlh::agent::game {

std::string strip_terminal_codes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r') continue;
    if (c != '\x1b') {
      out += c;
      continue;
    }
    if (i + 1 >= s.size()) break;
    char k = s[++i];
    if (k == '[') {  // CSI: parameters and intermediates, then a final byte 0x40-0x7E
      while (i + 1 < s.size() && !(s[i + 1] >= 0x40 && s[i + 1] <= 0x7E)) ++i;
      ++i;
    } else if (k == ']') {  // OSC: up to BEL or ESC '\'
      while (i + 1 < s.size()) {
        ++i;
        if (s[i] == '\x07') break;
        if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '\\') {
          ++i;
          break;
        }
      }
    }
    // Any other ESC x (charset selection, keypad modes): both bytes dropped.
  }
  return out;
}

Result<ReadyMatcher> ReadyMatcher::make(const std::string& pattern) {
  try {
    return ReadyMatcher(std::regex(pattern.empty() ? std::string(kDefaultReady) : pattern));
  } catch (const std::regex_error& e) {
    return std::unexpected(
        Error::invalid("ready", "ready pattern does not compile: " + std::string(e.what())));
  }
}

void ReadyMatcher::finish_line() {
  std::string clean = strip_terminal_codes(line_);
  line_.clear();
  if (!matched_) {
    std::string_view probe(clean);
    if (probe.size() > kMaxLine) probe = probe.substr(0, kMaxLine);
    if (std::regex_search(probe.begin(), probe.end(), re_)) matched_ = true;
  }
  if (clean.empty()) return;
  last_.push_back(std::move(clean));
  while (last_.size() > kKeepLines) last_.pop_front();
}

bool ReadyMatcher::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      finish_line();
    } else if (line_.size() < 4 * kMaxLine) {  // escapes make raw lines longer than what they show
      line_ += c;
    }
  }
  return matched_;
}

std::vector<std::string> ReadyMatcher::last_lines() const {
  std::vector<std::string> out(last_.begin(), last_.end());
  std::string tail = strip_terminal_codes(line_);
  if (!tail.empty()) out.push_back(tail);
  return out;
}

void ReadyMatcher::reset() {
  line_.clear();
  last_.clear();
  matched_ = false;
}

}  // namespace zlh::agent::game
