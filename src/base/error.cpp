#include "base/error.hpp"

#include <cstring>
#include <nlohmann/json.hpp>
#include <ostream>

namespace zlh {

Error Error::from_errno(std::string_view what, int err) {
  return Error{codes::kIo, std::string(what) + ": " + std::strerror(err), {}, std::strerror(err)};
}

Error Error::wrap(std::string_view context) const& {
  Error e = *this;
  e.message = std::string(context) + ": " + e.message;
  return e;
}

Error Error::wrap(std::string_view context) && {
  message = std::string(context) + ": " + message;
  return std::move(*this);
}

std::string Error::to_string() const { return std::string(zlh::to_string(code)) + ": " + message; }

std::string_view to_string(Code c) {
  switch (c) {
    case Code::kInvalid:
      return "E_INVALID";
    case Code::kBadPath:
      return "E_BADPATH";
    case Code::kUnauthorized:
      return "E_UNAUTHORIZED";
    case Code::kForbidden:
      return "E_FORBIDDEN";
    case Code::kNotFound:
      return "E_NOT_FOUND";
    case Code::kMethodNotAllowed:
      return "E_METHOD_NOT_ALLOWED";
    case Code::kConflict:
      return "E_CONFLICT";
    case Code::kTooLarge:
      return "E_TOO_LARGE";
    case Code::kUnsupportedMedia:
      return "E_UNSUPPORTED_MEDIA";
    case Code::kRateLimited:
      return "E_RATE_LIMITED";
    case Code::kQuota:
      return "E_QUOTA";
    case Code::kHashMismatch:
      return "E_HASH_MISMATCH";
    case Code::kBadSignature:
      return "E_BAD_SIGNATURE";
    case Code::kBadArchive:
      return "E_BAD_ARCHIVE";
    case Code::kVerifyFailed:
      return "E_VERIFY_FAILED";
    case Code::kEulaRequired:
      return "E_EULA_REQUIRED";
    case Code::kUpstream:
      return "E_UPSTREAM";
    case Code::kTimeout:
      return "E_TIMEOUT";
    case Code::kUnavailable:
      return "E_UNAVAILABLE";
    case Code::kInternal:
      return "E_INTERNAL";
    case Code::kIo:
      return "E_IO";
  }
  return "E_INTERNAL";  // not reached: the switch names every code
}

std::optional<Code> parse_code(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(Code::kIo); ++i) {
    auto c = static_cast<Code>(i);
    if (to_string(c) == s) return c;
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, Code c) { return os << to_string(c); }

void to_json(nlohmann::json& j, Code c) { j = to_string(c); }

int http_status_for(Code code) {
  switch (code) {
    case Code::kInvalid:
    case Code::kBadPath:
      return 400;
    case Code::kUnauthorized:
      return 401;
    case Code::kForbidden:
    case Code::kQuota:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kMethodNotAllowed:
      return 405;
    case Code::kConflict:
      return 409;
    case Code::kTooLarge:
      return 413;
    case Code::kUnsupportedMedia:
      return 415;
    case Code::kHashMismatch:
    case Code::kBadSignature:
    case Code::kBadArchive:
    case Code::kVerifyFailed:
    case Code::kEulaRequired:
      return 422;
    case Code::kRateLimited:
      return 429;
    case Code::kInternal:
    case Code::kIo:
      return 500;
    case Code::kUpstream:
      return 502;
    case Code::kUnavailable:
      return 503;
    case Code::kTimeout:
      return 504;
  }
  return 500;  // not reached: the switch names every code
}

std::string error_body(const Error& e) {
  nlohmann::json err = {{"code", to_string(e.code)}, {"message", e.message}};
  if (!e.field.empty()) err["field"] = e.field;
  return nlohmann::json{{"error", err}}.dump();
}

}  // namespace zlh
