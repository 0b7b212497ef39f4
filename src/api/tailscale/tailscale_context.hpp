// What the tailscale routes share (docs/design.md §10.6): the Headscale client
// (absent when Headscale is not configured), the settings from the
// --headscale-* flags, and two in-memory tables per server: whether an
// enable/disable is under way, and the ids (never the keys) of the
// pre-auth keys this process created, so DELETE can expire the ones still
// unused. The id table is not persisted: after an API restart DELETE finds
// no ids, and the keys simply run out at their expiration (key TTL).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/tailscale/headscale_client.hpp"

namespace zlh::api::tailscale {

struct TailscaleSettings {
  std::string login_server;  // what tailscale clients are given (--login-server)
  std::string user_prefix = "zlh-u";
  std::chrono::seconds key_ttl{3600};
  std::vector<std::string> acl_tags;  // on the container's key only
};

class TailscaleContext {
 public:
  TailscaleContext() = default;  // Headscale not configured
  TailscaleContext(std::shared_ptr<const HeadscaleClient> client, TailscaleSettings settings)
      : client_(std::move(client)), settings_(std::move(settings)) {}

  // Null when Headscale is not configured.
  const HeadscaleClient* headscale() const { return client_.get(); }
  const TailscaleSettings& settings() const { return settings_; }

  // At most one enable/disable per server at a time: false when one is
  // under way. end() must follow every successful try_begin().
  bool try_begin(int64_t server_id);
  void end(int64_t server_id);

  void remember_keys(int64_t server_id, const std::vector<std::string>& key_ids);
  std::set<std::string> keys_of(int64_t server_id) const;
  void forget_keys(int64_t server_id, const std::set<std::string>& key_ids);

 private:
  std::shared_ptr<const HeadscaleClient> client_;
  TailscaleSettings settings_;
  mutable std::mutex mu_;
  std::set<int64_t> busy_;
  std::map<int64_t, std::set<std::string>> keys_;
};

// From the validated options: an unconfigured context when --headscale-url
// is empty; else the client over libcurl with the API key loaded
// (headscale_config.hpp: load_api_key). Errors: those of load_api_key and
// of the flag parsers.
// The --headscale-* flags as given (api/options.hpp documents them).
struct HeadscaleOptions {
  std::string url;        // empty: not configured
  std::string login_url;  // what tailscale clients get; default url
  std::string api_key_file;
  std::string version;
  std::string user_prefix = "zlh-u";
  std::string key_ttl = "1h";
  std::string acl_tags;
};
Result<std::unique_ptr<TailscaleContext>> make_tailscale_context(const HeadscaleOptions& o);

}  // namespace zlh::api::tailscale
