#include "base/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "base/enum_names.hpp"
#include "base/fs.hpp"
#include "base/json_text.hpp"

namespace zlh::log {
using namespace std::string_view_literals;
namespace {
std::atomic<Format> g_format{Format::kJson};
std::atomic<Level> g_level{Level::kInfo};
std::atomic<int> g_fd{2};
nlohmann::json g_base = nlohmann::json::object();
std::string g_base_flat;                    // g_base as ',"k":v' pairs, for write_flat
void append_now_rfc3339(std::string& out);  // now_rfc3339(), appended

constexpr EnumNames<Level, 4> kLevelNames{{"DEBUG", "INFO", "WARN", "ERROR"}};
static_assert(kLevelNames.covers(Level::kError));
const char* level_name(Level l) { return kLevelNames.name(l).data(); }

// Nowhere is left to report a logging failure: it is dropped.
void write_all(int fd, std::string_view s) { (void)fs::write_all(fd, s, "log"); }
constexpr size_t kAtomicWrite = 4096;  // PIPE_BUF
thread_local bool t_buffered = false;
thread_local std::string t_buffer;
thread_local const std::function<void()>* t_on_batch = nullptr;  // ThreadBuffer's on_batch

// The batches of buffered threads are written by one writer thread, so an
// io thread never waits on the log file: a write to a file can block for
// milliseconds (the inode lock, the journal), and two io threads writing at
// once wait on each other (an earlier session saw 1–3 ms writes under the
// IDE bench, both io threads at once). Batches keep their order and are
// written one write(2) each. Past kMaxQueued bytes waiting (a disk slower
// than the traffic) a producer waits for room: the log slows the server
// down rather than losing or reordering records or growing without bound.
class Writer {
 public:
  static Writer& get() {
    static Writer* w = new Writer;  // never destroyed: threads may log until exit
    return *w;
  }
  void push(int fd, std::string&& batch) {
    std::unique_lock lk(mu_);
    room_cv_.wait(lk, [&] { return queued_ + batch.size() <= kMaxQueued || q_.empty(); });
    const bool wake = q_.empty() && !busy_;
    queued_ += batch.size();
    q_.push_back({fd, std::move(batch)});
    lk.unlock();
    if (wake) cv_.notify_one();
  }
  // Returns once every batch pushed before the call is written.
  void drain() {
    std::unique_lock lk(mu_);
    ++draining_;
    done_cv_.wait(lk, [&] { return q_.empty() && !busy_; });
    --draining_;
  }

 private:
  static constexpr size_t kMaxQueued = 8 << 20;
  static constexpr std::chrono::milliseconds kLinger{2};
  struct Batch {
    int fd;
    std::string text;
  };
  Writer() {
    std::thread([this] { run(); }).detach();
  }
  void run() {
    std::deque<Batch> mine;
    for (;;) {
      {
        std::unique_lock lk(mu_);
        if (q_.empty()) {
          busy_ = false;
          done_cv_.notify_all();
          cv_.wait(lk, [&] { return !q_.empty(); });
          busy_ = true;
          // Woken from idle by a first batch: wait a moment for more, so a
          // busy server wakes this thread a few hundred times a second,
          // not once per batch (each wake is a futex call on both sides
          // and a context switch). Not when someone waits for the writes.
          if (draining_ == 0) {
            lk.unlock();
            std::this_thread::sleep_for(kLinger);
            lk.lock();
          }
        }
        mine.swap(q_);
        queued_ = 0;
      }
      room_cv_.notify_all();
      for (auto& b : mine) write_all(b.fd, b.text);
      mine.clear();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, done_cv_, room_cv_;
  std::deque<Batch> q_;
  size_t queued_ = 0;  // bytes in q_ (not those being written)
  bool busy_ = true;   // not waiting for work (so pushes need not wake it)
  int draining_ = 0;   // callers of drain() waiting
};

void emit(std::string_view line) {
  if (!t_buffered) return write_all(g_fd.load(), line);
  if (t_buffer.size() + line.size() > kAtomicWrite) flush_thread();
  // Too long for a batch (the line above handed the batch before it over):
  // on its own, behind this thread's earlier batches.
  if (line.size() >= kAtomicWrite) return Writer::get().push(g_fd.load(), std::string(line));
  const bool first = t_buffer.empty();
  t_buffer += line;
  if (first && t_on_batch && *t_on_batch) (*t_on_batch)();
}
}  // namespace

ThreadBuffer::ThreadBuffer(std::function<void()> on_batch) : on_batch_(std::move(on_batch)) {
  t_buffered = true;
  t_on_batch = &on_batch_;
  t_buffer.reserve(kAtomicWrite);
}
ThreadBuffer::~ThreadBuffer() {
  t_on_batch = nullptr;
  flush_thread();
  wait_written();  // written before the thread (the server) is done
  t_buffered = false;
}

void wait_written() { Writer::get().drain(); }

void flush_thread() {
  if (t_buffer.empty()) return;
  std::string batch;
  batch.reserve(kAtomicWrite);
  batch.swap(t_buffer);  // the thread keeps a fresh buffer of the same size
  Writer::get().push(g_fd.load(), std::move(batch));
}

void set_format(Format f) { g_format = f; }
void set_level(Level l) { g_level = l; }
void set_fd(int fd) { g_fd = fd; }
void set_base_fields(nlohmann::json fields) {
  g_base = std::move(fields);
  g_base_flat.clear();
  for (auto& [k, v] : g_base.items()) {
    g_base_flat += ',';
    json_text::append_string(g_base_flat, k);
    g_base_flat += ':';
    g_base_flat += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

bool parse_level(std::string_view s, Level* out) {
  static constexpr std::pair<std::string_view, Level> kLevels[] = {{"debug", Level::kDebug},
                                                                   {"info", Level::kInfo},
                                                                   {"warn", Level::kWarn},
                                                                   {"error", Level::kError}};
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
                std::span<const FlatField> fields) {
  if (level < g_level.load()) return;
  // Key order as write(): time, level, msg, component, base fields, fields.
  // Built in a per-thread buffer (no allocation once it has grown), each
  // string escaped and checked in one pass. Text that is not valid UTF-8,
  // or the text format, takes the tree path, which replaces bad bytes.
  if (g_format.load() == Format::kJson) {
    thread_local std::string line;
    line.clear();
    line += "{\"time\":\""sv;
    append_now_rfc3339(line);
    line += "\",\"level\":\""sv;
    line += std::string_view(level_name(level));
    line += "\",\"msg\":"sv;
    bool ok = json_text::append_string_checked(line, msg);
    if (ok && !component.empty()) {
      line += ",\"component\":"sv;
      ok = json_text::append_string_checked(line, component);
    }
    line += g_base_flat;
    for (size_t i = 0; ok && i < fields.size(); ++i) {
      const auto& f = fields[i];
      line += ',';
      ok = json_text::append_string_checked(line, f.key);
      line += ':';
      if (const auto* sv = std::get_if<std::string_view>(&f.value))
        ok = ok && json_text::append_string_checked(line, *sv);
      else
        append_number(line, f.value);
    }
    if (ok) {
      line += "}\n"sv;
      emit(line);
      return;
    }
  }
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : fields)
    std::visit([&](const auto& x) { j[std::string(f.key)] = x; }, f.value);
  write(level, msg, component, j);
}

std::string now_rfc3339() {
  std::string out;
  append_now_rfc3339(out);
  return out;
}

namespace {
void append_now_rfc3339(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  // The date and time of day change once a second: formatted once per
  // second per thread, then only the microseconds are written.
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[32];
  thread_local size_t cached_len = 0;
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    int n =
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_len = n > 0 ? std::min(size_t(n), sizeof cached - 1) : 0;
    cached_secs = secs;
  }
  out.append(cached, cached_len);
  long long frac = static_cast<long long>(us % 1000000);
  char digits[7] = "000000";
  for (int i = 5; i >= 0; --i, frac /= 10) digits[i] = char('0' + frac % 10);
  out.append(digits, 6);
  out += 'Z';
}
}  // namespace

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
  emit(line);
}

void write_fields(Level level, std::string_view component, std::string_view msg, Fields f) {
  nlohmann::json j = nlohmann::json::object();
  for (auto& [k, v] : f) j[std::string(k)] = v;
  write(level, msg, component, j);
}

}  // namespace zlh::log
