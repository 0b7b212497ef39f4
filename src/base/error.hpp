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
#include <string>
#include <string_view>

namespace zlh {

namespace codes {
inline constexpr std::string_view kInvalid = "E_INVALID";
inline constexpr std::string_view kBadPath = "E_BADPATH";
inline constexpr std::string_view kUnauthorized = "E_UNAUTHORIZED";
inline constexpr std::string_view kForbidden = "E_FORBIDDEN";
inline constexpr std::string_view kNotFound = "E_NOT_FOUND";
inline constexpr std::string_view kMethodNotAllowed = "E_METHOD_NOT_ALLOWED";
inline constexpr std::string_view kConflict = "E_CONFLICT";
inline constexpr std::string_view kTooLarge = "E_TOO_LARGE";
inline constexpr std::string_view kUnsupportedMedia = "E_UNSUPPORTED_MEDIA";
inline constexpr std::string_view kRateLimited = "E_RATE_LIMITED";
inline constexpr std::string_view kQuota = "E_QUOTA";
inline constexpr std::string_view kHashMismatch = "E_HASH_MISMATCH";
inline constexpr std::string_view kBadSignature = "E_BAD_SIGNATURE";
inline constexpr std::string_view kBadArchive = "E_BAD_ARCHIVE";
inline constexpr std::string_view kVerifyFailed = "E_VERIFY_FAILED";
inline constexpr std::string_view kEulaRequired = "E_EULA_REQUIRED";
inline constexpr std::string_view kUpstream = "E_UPSTREAM";
inline constexpr std::string_view kTimeout = "E_TIMEOUT";
inline constexpr std::string_view kUnavailable = "E_UNAVAILABLE";
inline constexpr std::string_view kInternal = "E_INTERNAL";
// I/O failure below the application (disk, socket); maps to 500.
inline constexpr std::string_view kIo = "E_IO";
}  // namespace codes

struct Error {
  std::string code;     // one of codes::*
  std::string message;  // lowercase, no trailing period
  std::string field;    // offending field for E_INVALID, else empty
  std::string cause;    // lower-level detail (errno text, library message)

  static Error make(std::string_view code, std::string message) {
    return Error{std::string(code), std::move(message), {}, {}};
  }
  static Error invalid(std::string field, std::string message) {
    return Error{std::string(codes::kInvalid), std::move(message), std::move(field), {}};
  }
  // Errno-based I/O error: "what: strerror(err)".
  static Error from_errno(std::string_view what, int err);

  // Adds context in front of the message: "ctx: message". Code is kept.
  Error wrap(std::string_view context) const&;
  Error wrap(std::string_view context) &&;

  bool is(std::string_view c) const { return code == c; }
  // "code: message" for logs and CLI output.
  std::string to_string() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for returning an error from a function returning Result<T>.
inline std::unexpected<Error> fail(std::string_view code, std::string message) {
  return std::unexpected(Error::make(code, std::move(message)));
}
inline std::unexpected<Error> fail(Error e) { return std::unexpected(std::move(e)); }

// Maps an error code to its HTTP status (the one place this mapping lives).
int http_status_for(std::string_view code);

// {"error":{"code":..,"message":..[,"field":..]}} as a JSON string.
std::string error_body(const Error& e);

}  // namespace zlh
