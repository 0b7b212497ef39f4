#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <utility>

namespace zlh::log {
namespace {
std::atomic<Format> g_format{Format::kJson};
std::atomic<Level> g_level{Level::kInfo};
std::atomic<int> g_fd{2};
nlohmann::json g_base = nlohmann::json::object();

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

void write_all(int fd, const std::string& s) {
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a logging failure
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}
constexpr size_t kAtomicWrite = 4096;  // PIPE_BUF
thread_local bool t_buffered = false;
thread_local std::string t_buffer;

void emit(std::string&& line) {
  if (!t_buffered) return write_all(g_fd.load(), line);
  if (t_buffer.size() + line.size() > kAtomicWrite) flush_thread();
  if (line.size() >= kAtomicWrite) return write_all(g_fd.load(), line);
  t_buffer += line;
}
}  // namespace

ThreadBuffer::ThreadBuffer() {
  t_buffered = true;
  t_buffer.reserve(kAtomicWrite);
}
ThreadBuffer::~ThreadBuffer() {
  flush_thread();
  t_buffered = false;
}

void flush_thread() {
  if (t_buffer.empty()) return;
  write_all(g_fd.load(), t_buffer);
  t_buffer.clear();
}

void set_format(Format f) { g_format = f; }
void set_level(Level l) { g_level = l; }
void set_fd(int fd) { g_fd = fd; }
void set_base_fields(nlohmann::json fields) { g_base = std::move(fields); }

bool parse_level(std::string_view s, Level* out) {
  static constexpr std::pair<std::string_view, Level> kLevels[] = {
      {"debug", Level::kDebug}, {"info", Level::kInfo}, {"warn", Level::kWarn}, {"error", Level::kError}};
  for (const auto& [name, level] : kLevels)
    if (s == name) {
      *out = level;
      return true;
    }
  return false;
}

bool parse_format(std::string_view s, Format* out) {
  if (s == "json") {
    *out = Format::kJson;
    return true;
  }
  if (s == "text") {
    *out = Format::kText;
    return true;
  }
  return false;
}

namespace {

void append_json_string(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

void append_number(std::string& out, const std::variant<std::string_view, int64_t, double>& v) {
  char buf[64];
  std::to_chars_result r;
  if (std::holds_alternative<int64_t>(v)) {
    r = std::to_chars(buf, buf + sizeof buf, std::get<int64_t>(v));
  } else {
    double d = std::get<double>(v);
    if (!std::isfinite(d)) d = 0;  // JSON has no NaN or infinity
    r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, 3);
  }
  out.append(buf, size_t(r.ptr - buf));
}

}  // namespace

void write_flat(Level level, std::string_view msg, std::string_view component,
                std::initializer_list<FlatField> fields) {
  if (level < g_level.load()) return;
  bool fast = g_format.load() == Format::kJson;
  // Anything that is not valid UTF-8 takes the tree path, which replaces it.
  for (const auto& f : fields)
    if (const auto* sv = std::get_if<std::string_view>(&f.value); sv && !valid_utf8(*sv)) fast = false;
  if (!fast || !valid_utf8(msg) || !valid_utf8(component)) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& f : fields)
      std::visit([&](const auto& x) { j[std::string(f.key)] = x; }, f.value);
    return write(level, msg, component, j);
  }
  // Key order as write(): time, level, msg, component, base fields, fields.
  std::string line;
  line.reserve(320);
  line += "{\"time\":\"";
  line += now_rfc3339();
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"msg\":";
  append_json_string(line, msg);
  if (!component.empty()) {
    line += ",\"component\":";
    append_json_string(line, component);
  }
  for (auto& [k, v] : g_base.items()) {
    line += ',';
    append_json_string(line, k);
    line += ':';
    line += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  for (const auto& f : fields) {
    line += ',';
    append_json_string(line, f.key);
    line += ':';
    if (const auto* sv = std::get_if<std::string_view>(&f.value))
      append_json_string(line, *sv);
    else
      append_number(line, f.value);
  }
  line += "}\n";
  emit(std::move(line));
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  // The date and time of day change once a second: formatted once per
  // second per thread, then only the microseconds are written.
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[32];
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  std::string out(cached);
  long long frac = static_cast<long long>(us % 1000000);
  char digits[7] = "000000";
  for (int i = 5; i >= 0; --i, frac /= 10) digits[i] = char('0' + frac % 10);
  out.append(digits, 6);
  out += 'Z';
  return out;
}

void write(Level level, std::string_view msg, std::string_view component,
           const nlohmann::json& fields) {
  if (level < g_level.load()) return;
  std::string line;
  if (g_format.load() == Format::kJson) {
    // Key order follows slog: time, level, msg, then attributes.
    nlohmann::ordered_json j;
    j["time"] = now_rfc3339();
    j["level"] = level_name(level);
    j["msg"] = msg;
    if (!component.empty()) j["component"] = component;
    for (auto& [k, v] : g_base.items()) j[k] = v;
    for (auto& [k, v] : fields.items()) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = now_rfc3339() + " " + level_name(level) + " " + std::string(msg);
    if (!component.empty()) line += " component=" + std::string(component);
    auto add = [&](const std::string& k, const nlohmann::json& v) {
      line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    };
    for (auto& [k, v] : g_base.items()) add(k, v);
    for (auto& [k, v] : fields.items()) add(k, v);
  }
  line += '\n';
  emit(std::move(line));
}

}  // namespace zlh::log
