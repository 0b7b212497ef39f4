#include "api/activity/console_lines.hpp"

namespace zlh::api::activity {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

bool blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

}  // namespace

std::vector<std::string> ConsoleLines::feed(std::string_view input, TimePoint now) {
  std::vector<std::string> out;
  for (char ch : input) {
    const auto c = static_cast<unsigned char>(ch);
    // ESC [ params final | ESC O x | ESC x: a key such as an arrow, not text.
    if (esc_ == Esc::kStart) {
      esc_ = c == '[' ? Esc::kCsi : c == 'O' ? Esc::kOne : Esc::kNone;
      continue;
    }
    if (esc_ == Esc::kCsi) {
      if (c >= 0x40 && c <= 0x7E) esc_ = Esc::kNone;
      continue;
    }
    if (esc_ == Esc::kOne) {
      esc_ = Esc::kNone;
      continue;
    }
    if (c == 0x1B) {
      esc_ = Esc::kStart;
    } else if (c == '\r' || c == '\n') {
      submit(out, now);
    } else if (c == 0x7F || c == 0x08) {
      erase_last();
    } else if (c == 0x03 || c == 0x15) {
      line_.clear();
    } else if (c >= 0x20 || c == '\t') {
      if (line_.size() < kMaxLine + 4) line_ += ch;  // +4: room to finish a UTF-8 character
    }
  }
  return out;
}

void ConsoleLines::erase_last() {
  while (!line_.empty() && is_continuation(static_cast<unsigned char>(line_.back())))
    line_.pop_back();
  if (!line_.empty()) line_.pop_back();
}

void ConsoleLines::submit(std::vector<std::string>& out, TimePoint now) {
  std::string line = std::move(line_);
  line_.clear();
  if (blank(line)) return;
  if (line.size() > kMaxLine) {
    size_t cut = kMaxLine;
    while (cut > 0 && is_continuation(static_cast<unsigned char>(line[cut]))) --cut;
    line.resize(cut);
  }
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= kMaxPerSecond) {
    ++dropped_;
    return;
  }
  ++in_window_;
  out.push_back(std::move(line));
}

}  // namespace zlh::api::activity
