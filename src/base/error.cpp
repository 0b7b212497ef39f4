#include "base/error.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

namespace zlh {

Error Error::from_errno(std::string_view what, int err) {
  return Error{std::string(codes::kIo),
               std::string(what) + ": " + std::strerror(err),
               {},
               std::strerror(err)};
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

std::string Error::to_string() const { return code + ": " + message; }

int http_status_for(std::string_view code) {
  struct Row {
    std::string_view code;
    int status;
  };
  static constexpr Row kTable[] = {
      {codes::kInvalid, 400},          {codes::kBadPath, 400},      {codes::kUnauthorized, 401},
      {codes::kForbidden, 403},        {codes::kQuota, 403},        {codes::kNotFound, 404},
      {codes::kMethodNotAllowed, 405}, {codes::kConflict, 409},     {codes::kTooLarge, 413},
      {codes::kUnsupportedMedia, 415}, {codes::kEulaRequired, 422}, {codes::kHashMismatch, 422},
      {codes::kBadSignature, 422},     {codes::kBadArchive, 422},   {codes::kVerifyFailed, 422},
      {codes::kRateLimited, 429},      {codes::kUpstream, 502},     {codes::kUnavailable, 503},
      {codes::kTimeout, 504},          {codes::kInternal, 500},     {codes::kIo, 500},
  };
  for (const auto& r : kTable)
    if (r.code == code) return r.status;
  return 500;
}

std::string error_body(const Error& e) {
  nlohmann::json err = {{"code", e.code}, {"message", e.message}};
  if (!e.field.empty()) err["field"] = e.field;
  return nlohmann::json{{"error", err}}.dump();
}

}  // namespace zlh
