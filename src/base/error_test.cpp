#include "base/error.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace zlh {
namespace {

TEST(Error, StatusMappingIsStable) {
  EXPECT_EQ(http_status_for(codes::kInvalid), 400);
  EXPECT_EQ(http_status_for(codes::kBadPath), 400);
  EXPECT_EQ(http_status_for(codes::kUnauthorized), 401);
  EXPECT_EQ(http_status_for(codes::kForbidden), 403);
  EXPECT_EQ(http_status_for(codes::kNotFound), 404);
  EXPECT_EQ(http_status_for(codes::kConflict), 409);
  EXPECT_EQ(http_status_for(codes::kTooLarge), 413);
  EXPECT_EQ(http_status_for(codes::kEulaRequired), 422);
  EXPECT_EQ(http_status_for(codes::kRateLimited), 429);
  EXPECT_EQ(http_status_for(codes::kUpstream), 502);
  EXPECT_EQ(http_status_for(codes::kInternal), 500);
}

// Every code, its wire string and its status: the table the switch replaced.
struct CodeRow {
  Code code;
  std::string_view wire;
  int status;
};
constexpr CodeRow kAllCodes[] = {
    {Code::kInvalid, "E_INVALID", 400},
    {Code::kBadPath, "E_BADPATH", 400},
    {Code::kUnauthorized, "E_UNAUTHORIZED", 401},
    {Code::kForbidden, "E_FORBIDDEN", 403},
    {Code::kNotFound, "E_NOT_FOUND", 404},
    {Code::kMethodNotAllowed, "E_METHOD_NOT_ALLOWED", 405},
    {Code::kConflict, "E_CONFLICT", 409},
    {Code::kTooLarge, "E_TOO_LARGE", 413},
    {Code::kUnsupportedMedia, "E_UNSUPPORTED_MEDIA", 415},
    {Code::kRateLimited, "E_RATE_LIMITED", 429},
    {Code::kQuota, "E_QUOTA", 403},
    {Code::kHashMismatch, "E_HASH_MISMATCH", 422},
    {Code::kBadSignature, "E_BAD_SIGNATURE", 422},
    {Code::kBadArchive, "E_BAD_ARCHIVE", 422},
    {Code::kVerifyFailed, "E_VERIFY_FAILED", 422},
    {Code::kEulaRequired, "E_EULA_REQUIRED", 422},
    {Code::kUpstream, "E_UPSTREAM", 502},
    {Code::kTimeout, "E_TIMEOUT", 504},
    {Code::kUnavailable, "E_UNAVAILABLE", 503},
    {Code::kInternal, "E_INTERNAL", 500},
    {Code::kIo, "E_IO", 500},
};

TEST(Error, EveryCodeRoundTripsItsWireString) {
  static_assert(std::size(kAllCodes) == static_cast<size_t>(Code::kIo) + 1);
  for (const auto& row : kAllCodes) {
    EXPECT_EQ(to_string(row.code), row.wire);
    EXPECT_EQ(parse_code(row.wire), row.code) << row.wire;
    EXPECT_EQ(http_status_for(row.code), row.status) << row.wire;
    EXPECT_EQ(nlohmann::json(row.code), row.wire);
  }
}

TEST(Error, UnknownWireStringsDoNotParse) {
  EXPECT_EQ(parse_code("E_SOMETHING_NEW"), std::nullopt);
  EXPECT_EQ(parse_code(""), std::nullopt);
  EXPECT_EQ(parse_code("e_invalid"), std::nullopt);
  EXPECT_EQ(parse_code("E_INVALID "), std::nullopt);
  EXPECT_EQ(parse_code("INVALID"), std::nullopt);
}

TEST(Error, ToStringWritesTheWireCode) {
  EXPECT_EQ(Error::make(codes::kNotFound, "gone").to_string(), "E_NOT_FOUND: gone");
  std::ostringstream os;
  os << codes::kBadPath;
  EXPECT_EQ(os.str(), "E_BADPATH");
}

TEST(Error, BodyShapeAndWrap) {
  Error e = Error::invalid("memory_mb", "too big").wrap("payload");
  EXPECT_EQ(e.message, "payload: too big");
  auto j = nlohmann::json::parse(error_body(e));
  EXPECT_EQ(j["error"]["code"], "E_INVALID");
  EXPECT_EQ(j["error"]["message"], "payload: too big");
  EXPECT_EQ(j["error"]["field"], "memory_mb");
  auto j2 = nlohmann::json::parse(error_body(Error::make(codes::kNotFound, "gone")));
  EXPECT_FALSE(j2["error"].contains("field"));
}

}  // namespace
}  // namespace zlh
