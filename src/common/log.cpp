#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
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
}  // namespace

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

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
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
  write_all(g_fd.load(), line);
}

}  // namespace zlh::log
