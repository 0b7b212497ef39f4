// A client of Headscale's REST API (/api/v1, `Authorization: Bearer <API
// key>`), the part zlh-api needs (docs/design.md §10.6): users (GET/POST
// /api/v1/user) and pre-auth keys (POST/GET /api/v1/preauthkey, POST
// /api/v1/preauthkey/expire), in the form of the configured release:
//
//   release      key request "user"   list ?user=   expire body
//   ≤ 0.25       user name            name          {user: name, key}
//   0.26, 0.27   numeric user id      id            {user: id, key}
//   ≥ 0.28       numeric user id      (all keys)    {id: key id}
//
// Answers are read in the shapes of Headscale's grpc-gateway JSON
// (lowerCamelCase: preAuthKey, aclTags, createdAt; 64-bit ids as strings or
// numbers; a key's "user" a name up to 0.25, a User object after).
//
// Errors: E_UPSTREAM for every failure of Headscale — a transport error, an
// HTTP error status (the message is Headscale's own `message`, or the start
// of its body, with the status: "create pre-auth key: headscale answered 500:
// user not found"), an answer that is not the documented JSON; E_TIMEOUT
// when Headscale did not answer in time. The API key never appears in an
// error, a log line or anything this class returns.
//
// Thread-safety: every method may be called from any thread concurrently;
// the client is immutable after construction and holds the transport.
// Repeating a call is safe for reads and expire; create_* makes a new
// object each time (ensure_user does not).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/tailscale/headscale_config.hpp"
#include "api/tailscale/http_transport.hpp"
#include "base/error.hpp"

namespace zlh::api::tailscale {

struct HeadscaleUser {
  std::string id;  // decimal uint64
  std::string name;
};

struct PreAuthKey {
  std::string id;    // decimal uint64 (a string before 0.26, too)
  std::string key;   // secret; masked ("hskey-auth-…-***") in ≥ 0.28 listings
  std::string user;  // the user's name
  bool reusable = false;
  bool ephemeral = false;
  bool used = false;
  std::string expiration;  // RFC 3339, "" when none
  std::string created_at;
  std::vector<std::string> acl_tags;
};

struct NewPreAuthKey {
  HeadscaleUser user;
  bool reusable = false;
  bool ephemeral = false;
  std::chrono::system_clock::time_point expiration;
  std::vector<std::string> acl_tags;
};

struct HeadscaleClientConfig {
  std::string url;      // base, e.g. https://hs.example.com (no trailing '/')
  std::string api_key;  // secret
  HeadscaleVersion version;
  std::chrono::milliseconds timeout{10000};  // per request
};

class HeadscaleClient {
 public:
  HeadscaleClient(HeadscaleClientConfig config, std::shared_ptr<HttpTransport> transport);

  const HeadscaleVersion& version() const { return config_.version; }

  // GET /api/v1/user?name=… : the user with exactly that name, or nullopt.
  Result<std::optional<HeadscaleUser>> find_user(const std::string& name) const;
  // POST /api/v1/user {name}.
  Result<HeadscaleUser> create_user(const std::string& name) const;
  // find_user, else create_user; when the create loses a race with another
  // create of the same name, the winner is found again.
  Result<HeadscaleUser> ensure_user(const std::string& name) const;

  // POST /api/v1/preauthkey. The returned key holds the secret.
  Result<PreAuthKey> create_preauth_key(const NewPreAuthKey& req) const;
  // GET /api/v1/preauthkey: the keys of `user` (≥ 0.28: all keys, filtered
  // here by user id).
  Result<std::vector<PreAuthKey>> list_preauth_keys(const HeadscaleUser& user) const;
  // POST /api/v1/preauthkey/expire. Before 0.28 this needs key.key as it
  // was created or listed; from 0.28 only key.id.
  Result<void> expire_preauth_key(const HeadscaleUser& user, const PreAuthKey& key) const;

 private:
  Result<std::string> call(const char* what, const std::string& method, const std::string& path,
                           const std::string& body) const;
  // A call answered by an object holding `field`: that member.
  Result<nlohmann::json> call_for(const char* what, const std::string& method,
                                  const std::string& path, const std::string& body,
                                  const char* field) const;

  HeadscaleClientConfig config_;
  std::shared_ptr<HttpTransport> transport_;
};

// RFC 3339 in UTC with whole seconds, as Headscale's timestamps are sent:
// 2026-01-02T03:04:05Z.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace zlh::api::tailscale
