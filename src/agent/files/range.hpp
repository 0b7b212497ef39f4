// HTTP Range requests (RFC 9110 §14) for GET /files/read and
// /files/download of a file whose size is known (docs/design.md §8).
//
// Only a single "bytes" range is served. Anything else the RFC lets a server
// ignore is ignored, i.e. answered with the full file (200): a missing or
// syntactically invalid header, another unit, several ranges. A valid range
// that selects nothing is kUnsatisfiable (416 with
// unsatisfied_content_range()); otherwise kPartial (206 with content_range()).
//
// Pure functions: no I/O, no shared state, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zlh::agent::files {

struct ByteRange {
  uint64_t first;
  uint64_t last;  // inclusive
};

enum class RangeKind { kFull, kPartial, kUnsatisfiable };

struct RangeResult {
  RangeKind kind;
  // kPartial: the selected bytes, first <= last < size. kFull: {0, size-1}
  // ({0, 0} for an empty file, which has no bytes to select). kUnsatisfiable:
  // {0, 0}, meaningless.
  ByteRange range;
};

// `header` is the Range header value, nullopt when absent. Accepted forms
// (unit case-insensitive, OWS around the range, empty list elements ignored):
//   bytes=a-b   a <= b; b is clamped to size-1
//   bytes=a-    from a to the end
//   bytes=-n    the last n bytes (the whole file when n >= size)
// a >= size, a suffix of 0 bytes, or any valid range on an empty file is
// kUnsatisfiable. Numbers too large for uint64_t count as infinitely large.
RangeResult parse_range(std::optional<std::string_view> header, uint64_t size);

// "bytes first-last/size", the Content-Range of a 206 answer.
std::string content_range(ByteRange range, uint64_t size);

// "bytes */size", the Content-Range of a 416 answer.
std::string unsatisfied_content_range(uint64_t size);

}  // namespace zlh::agent::files
