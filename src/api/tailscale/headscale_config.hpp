// zlh-api's Headscale settings (docs/design.md §10.6): the parsing and checking
// of the --headscale-* flags, in one place so options.cpp refuses a bad
// value at start and the client gets typed values.
//
// Flags (TOML keys of the same names): --headscale-url,
// --headscale-login-url, --headscale-api-key-file (or env
// ZLH_HEADSCALE_API_KEY), --headscale-version, --headscale-user-prefix,
// --headscale-key-ttl, --headscale-acl-tags. See docs/tailscale.md.
//
// Errors: E_INVALID naming the flag (field = the flag without dashes),
// E_NOT_FOUND / E_IO for an API key file that cannot be read.
//
// Thread-safety: pure functions, except load_api_key which reads a file and
// the environment (call at start-up only: it unsets the variable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::tailscale {

// How a Headscale release names a user and a key in its REST API. The user
// field of a pre-auth key request is the user's name up to 0.25 and its
// numeric id from 0.26; from 0.28 a key is expired by its own id and the
// key list is no longer per user.
enum class UserForm { kName, kId };

struct HeadscaleVersion {
  int major = 0;
  int minor = 26;

  UserForm user_form() const { return major == 0 && minor <= 25 ? UserForm::kName : UserForm::kId; }
  bool expire_by_key_id() const { return major > 0 || minor >= 28; }
  std::string to_string() const { return std::to_string(major) + "." + std::to_string(minor); }

  // "0.25", "v0.26.1", "0.28.0-beta.1". E_INVALID for anything else, for
  // releases before 0.19 (users were "namespaces"), and for TOML floats
  // written without quotes (0.26 arrives as "0.260000").
  static Result<HeadscaleVersion> parse(std::string_view s);
};

// "3600", "90s", "30m", "1h", "7d" → seconds, within 60 s .. 90 days.
Result<std::chrono::seconds> parse_key_ttl(std::string_view s);

// "tag:a,tag:b" (spaces around commas allowed) → {"tag:a","tag:b"}; empty →
// {}. Each tag is "tag:" + [a-z0-9][a-z0-9-]*, which Headscale accepts.
Result<std::vector<std::string>> parse_acl_tags(std::string_view s);

// http:// or https:// with a host, no userinfo, query or fragment; an
// optional path prefix. Returned without the trailing '/'.
Result<std::string> normalize_base_url(std::string_view s, std::string_view flag);

// [a-z][a-z0-9._-]{0,31}: the names "<prefix><user id>" are valid Headscale
// user names in every release.
Result<void> check_user_prefix(std::string_view s);

// The API key from `file` (trimmed; must not be empty), else from the
// environment variable ZLH_HEADSCALE_API_KEY, which is then removed from
// this process's environment so no child inherits it. The key is never put
// in an error message. E_INVALID when neither gives a key.
Result<std::string> load_api_key(const std::string& file);

inline constexpr const char* kApiKeyEnv = "ZLH_HEADSCALE_API_KEY";

}  // namespace zlh::api::tailscale
