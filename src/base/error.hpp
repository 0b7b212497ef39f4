// Error values and Result<T>, shared by every zlh module.
//
// An Error carries a stable code (docs/design.md §3.3: "E_INVALID", "E_NOT_FOUND",
// ...), a human readable lowercase message and optionally the offending field
// and the lower-level cause. Modules return Result<T> at their boundaries and
// add context on the way up with Error::wrap ("load payload: ..."). The HTTP
// layer turns an Error into a status and a JSON body in exactly one place
// (http_status_for / error_body below).
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <expected>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace zlh {

// The closed set of error codes. to_string gives the wire form ("E_INVALID"),
// parse_code reads it back; http_status_for switches over every value.
enum class Code {
  kInvalid,
  kBadPath,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kTooLarge,
  kUnsupportedMedia,
  kRateLimited,
  kQuota,
  kHashMismatch,
  kBadSignature,
  kBadArchive,
  kVerifyFailed,
  kEulaRequired,
  kUpstream,
  kTimeout,
  kUnavailable,
  kInternal,
  // I/O failure below the application (disk, socket); maps to 500.
  kIo,
};

// The wire string of a code: "E_INVALID", "E_NOT_FOUND", ...
std::string_view to_string(Code c);
// The code a wire string names; nullopt for anything else.
std::optional<Code> parse_code(std::string_view s);
// Prints the wire string (test failure messages, ostream logs).
std::ostream& operator<<(std::ostream& os, Code c);
// A Code put into JSON (error bodies, log fields) is its wire string.
void to_json(nlohmann::json& j, Code c);

// Short names for the call sites: fail(codes::kNotFound, ...).
namespace codes {
inline constexpr Code kInvalid = Code::kInvalid;
inline constexpr Code kBadPath = Code::kBadPath;
inline constexpr Code kUnauthorized = Code::kUnauthorized;
inline constexpr Code kForbidden = Code::kForbidden;
inline constexpr Code kNotFound = Code::kNotFound;
inline constexpr Code kMethodNotAllowed = Code::kMethodNotAllowed;
inline constexpr Code kConflict = Code::kConflict;
inline constexpr Code kTooLarge = Code::kTooLarge;
inline constexpr Code kUnsupportedMedia = Code::kUnsupportedMedia;
inline constexpr Code kRateLimited = Code::kRateLimited;
inline constexpr Code kQuota = Code::kQuota;
inline constexpr Code kHashMismatch = Code::kHashMismatch;
inline constexpr Code kBadSignature = Code::kBadSignature;
inline constexpr Code kBadArchive = Code::kBadArchive;
inline constexpr Code kVerifyFailed = Code::kVerifyFailed;
inline constexpr Code kEulaRequired = Code::kEulaRequired;
inline constexpr Code kUpstream = Code::kUpstream;
inline constexpr Code kTimeout = Code::kTimeout;
inline constexpr Code kUnavailable = Code::kUnavailable;
inline constexpr Code kInternal = Code::kInternal;
inline constexpr Code kIo = Code::kIo;
}  // namespace codes

struct Error {
  Code code = Code::kInternal;
  std::string message;  // lowercase, no trailing period
  std::string field;    // offending field for E_INVALID, else empty
  std::string cause;    // lower-level detail (errno text, library message)

  static Error make(Code code, std::string message) {
    return Error{code, std::move(message), {}, {}};
  }
  static Error invalid(std::string field, std::string message) {
    return Error{codes::kInvalid, std::move(message), std::move(field), {}};
  }
  // Errno-based I/O error: "what: strerror(err)".
  static Error from_errno(std::string_view what, int err);

  // Adds context in front of the message: "ctx: message". Code is kept.
  Error wrap(std::string_view context) const&;
  Error wrap(std::string_view context) &&;

  bool is(Code c) const { return code == c; }
  // "code: message" for logs and CLI output.
  std::string to_string() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for returning an error from a function returning Result<T>.
inline std::unexpected<Error> fail(Code code, std::string message) {
  return std::unexpected(Error::make(code, std::move(message)));
}
inline std::unexpected<Error> fail(Error e) { return std::unexpected(std::move(e)); }

// Maps an error code to its HTTP status (the one place this mapping lives).
int http_status_for(Code code);

// {"error":{"code":..,"message":..[,"field":..]}} as a JSON string.
std::string error_body(const Error& e);

}  // namespace zlh
