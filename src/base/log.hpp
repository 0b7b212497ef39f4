// Structured logging in slog's JSON shape (docs/design.md §13):
//   {"time":"2026-11-24T10:00:00.123456Z","level":"INFO","msg":"...","component":"http",...}
// one line per record on stderr (or a configured fd). `text` format prints
// `time LEVEL msg key=value ...` for humans.
//
// Fixed field keys (STYLE §11): component, request_id, vmid, pid, status,
// duration_ms. Messages are constant strings; values go in fields.
// Never pass secrets (tokens, passwords, keys) as fields.
//
// Thread-safety: every function may be called from any thread; each record is
// written with a single write(2) so lines never interleave (see ThreadBuffer
// for batched records).
#pragma once

#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zlh::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

using Fields = std::initializer_list<std::pair<std::string_view, nlohmann::json>>;

// Process-wide settings. Call once at start-up, before other threads exist.
void set_format(Format f);
void set_level(Level l);
void set_fd(int fd);                          // default 2 (stderr)
void set_base_fields(nlohmann::json fields);  // added to every record (e.g. vmid)

// Batching for a busy thread (the HTTP server's io threads): while a
// ThreadBuffer lives, this thread's records collect in memory and leave as
// one batch when the next would pass PIPE_BUF (4 KiB, so its write(2) stays
// atomic and whole lines never interleave with other threads'), when
// flush_thread() is called or when the ThreadBuffer ends. `on_batch`, if
// set, is called on this thread when a record starts a new batch: the
// server posts a flush_thread() behind the handlers ready then, so a batch
// leaves once they ran. Batches are written by a writer thread, in order,
// so the buffered thread never waits on the log file (unless over 8 MiB are
// waiting); ~ThreadBuffer returns once its batches are written.
class ThreadBuffer {
 public:
  explicit ThreadBuffer(std::function<void()> on_batch = {});
  ~ThreadBuffer();
  ThreadBuffer(const ThreadBuffer&) = delete;
  ThreadBuffer& operator=(const ThreadBuffer&) = delete;

 private:
  std::function<void()> on_batch_;
};
void flush_thread();
// Returns once every batch handed over so far (by any thread) is written.
void wait_written();

// Parses "json"/"text"; anything else is nullopt-like false.
bool parse_format(std::string_view s, Format* out);
// "debug" | "info" | "warn" | "error"; false (out untouched) for anything else.
bool parse_level(std::string_view s, Level* out);

void write(Level level, std::string_view msg, std::string_view component,
           const nlohmann::json& fields);

// The same record for flat fields (strings and numbers), built straight into
// the line without a JSON tree: for records written on every request.
struct FlatField {
  std::string_view key;
  std::variant<std::string_view, int64_t, double> value;
};
void write_flat(Level level, std::string_view msg, std::string_view component,
                std::span<const FlatField> fields);
inline void write_flat(Level level, std::string_view msg, std::string_view component,
                       std::initializer_list<FlatField> fields) {
  write_flat(level, msg, component, std::span<const FlatField>(fields.begin(), fields.size()));
}

// write() with the fields as one JSON object: what debug() .. error() do.
void write_fields(Level level, std::string_view component, std::string_view msg, Fields f);

inline void debug(std::string_view component, std::string_view msg, Fields f = {}) {
  write_fields(Level::kDebug, component, msg, f);
}
inline void info(std::string_view component, std::string_view msg, Fields f = {}) {
  write_fields(Level::kInfo, component, msg, f);
}
inline void warn(std::string_view component, std::string_view msg, Fields f = {}) {
  write_fields(Level::kWarn, component, msg, f);
}
inline void error(std::string_view component, std::string_view msg, Fields f = {}) {
  write_fields(Level::kError, component, msg, f);
}

// RFC 3339 UTC timestamp with microseconds, e.g. 2026-11-24T10:00:00.123456Z.
std::string now_rfc3339();

}  // namespace zlh::log
