// Incremental multipart/form-data parser (RFC 7578 over RFC 2046 §5.1) for
// POST /files/upload (docs/design.md §8): part bodies are handed to a callback as
// they arrive and are never buffered, so an upload of any size needs no more
// memory than the boundary plus one part's header block.
//
// Input is accepted in arbitrary chunk splits (down to one byte per feed);
// the result does not depend on where the chunks are cut. Part data is
// delivered in slices that borrow the caller's chunk (or a small internal
// buffer) and are valid only during the callback.
//
// What is accepted: an optional preamble (ignored), the first boundary
// delimiter either at the very start or after a CRLF, transport padding
// (spaces/tabs) after a delimiter, parts whose header block ends with an
// empty line, and anything after the close delimiter (the epilogue, ignored).
// A "--boundary" inside a part's data that is not preceded by CRLF, or that
// is followed by something other than "--", padding or CRLF, is data.
// Every part must carry `Content-Disposition: form-data; name="..."`;
// `filename` (quoted-string or token; `\"` and `\\` are unescaped, any other
// backslash is kept so Windows paths survive) and RFC 5987 `filename*`
// (UTF-8 or ISO-8859-1, percent-decoded; it wins over `filename`) are
// optional. Header names are case-insensitive; obsolete line folding, a
// missing colon, a duplicate parameter or an unknown disposition type are
// malformed. The filename is reported as sent: callers must sanitize it
// (take the last path segment, resolve it with safe_path) before use.
//
// Errors: feed() returns E_INVALID for malformed input, for a header block
// longer than max_header_bytes and for more than max_parts parts. An error a
// callback returns is passed back unchanged. After any error the parser is
// stopped: every later feed()/finish() returns the same error and no
// callback runs again. on_part_end is not called for a part cut short by an
// error.
//
// Ownership and threading: the parser owns its callbacks and a buffer of at
// most max(boundary + 4, max_header_bytes + 4) bytes. One object is used by
// one thread at a time; separate objects are independent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::agent::files {

struct PartHeaders {
  std::string name;                     // form field name (required)
  std::optional<std::string> filename;  // present for file fields, may be ""
  std::string content_type;             // "text/plain" when the part has none (RFC 7578 §4.4)
};

// The boundary parameter of a Content-Type header value. E_INVALID unless the
// media type is multipart/form-data (case-insensitive) and the boundary,
// quoted or not, is 1..70 characters of RFC 2046 bchars not ending in a
// space. Pure function.
Result<std::string> boundary_from_content_type(std::string_view content_type);

class MultipartParser {
 public:
  // Empty std::functions are treated as callbacks that accept everything.
  struct Callbacks {
    std::function<Result<void>(const PartHeaders&)> on_part_begin;
    std::function<Result<void>(std::string_view)>
        on_part_data;  // may be called many times per part
    std::function<Result<void>()> on_part_end;
  };

  // `boundary` without the leading "--" (as boundary_from_content_type
  // returns it). An invalid boundary makes the first feed() fail with
  // E_INVALID.
  MultipartParser(std::string boundary, Callbacks cb, size_t max_header_bytes = 16 * 1024,
                  size_t max_parts = 1000);

  // Parses the next piece of the body, running callbacks as parts and data
  // are recognized. Bytes after the close delimiter are ignored.
  Result<void> feed(std::string_view chunk);
  // Call at the end of the body: E_INVALID unless the close delimiter was
  // seen (truncated body). Repeatable.
  Result<void> finish();
  // The close delimiter has been seen.
  bool done() const { return state_ == State::kEpilogue; }

 private:
  enum class State {
    kScan,           // looking for the next delimiter (preamble or part data)
    kAfterBoundary,  // delimiter matched; deciding what follows it
    kAfterDash,      // delimiter + "-"
    kPadding,        // delimiter + transport padding
    kExpectLf,       // delimiter [+ padding] + CR
    kHeaders,        // collecting a part's header block
    kEpilogue,       // close delimiter seen
    kFailed,
  };

  Result<void> run(std::string_view& in);
  Result<void> scan(std::string_view& in);
  size_t find_delim(std::string_view hay) const;
  Result<void> headers(std::string_view& in);
  Result<void> emit(std::string_view data);
  Result<void> not_a_delimiter(std::string_view extra);
  Result<void> delimiter_line_done();
  Result<void> close_delimiter();
  Result<void> stop(Error e);

  std::string delim_;                // "\r\n--" + boundary
  std::array<uint8_t, 256> skip_{};  // Horspool shift table for delim_
  Callbacks cb_;
  size_t max_header_bytes_;
  size_t max_parts_;
  bool boundary_ok_;

  State state_ = State::kScan;
  bool in_part_ = false;  // part data is being delivered (false in the preamble)
  bool padded_ = false;   // transport padding seen after the current delimiter
  size_t parts_ = 0;
  std::string pending_;  // kScan: a proper prefix of delim_ at the end of the input so far
  std::string header_buf_;
  Error error_;
};

}  // namespace zlh::agent::files
