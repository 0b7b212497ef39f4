#include "api/tailscale/tailscale_context.hpp"

namespace zlh::api::tailscale {

bool TailscaleContext::try_begin(int64_t server_id) {
  std::lock_guard lk(mu_);
  return busy_.insert(server_id).second;
}

void TailscaleContext::end(int64_t server_id) {
  std::lock_guard lk(mu_);
  busy_.erase(server_id);
}

void TailscaleContext::remember_keys(int64_t server_id, const std::vector<std::string>& key_ids) {
  std::lock_guard lk(mu_);
  keys_[server_id].insert(key_ids.begin(), key_ids.end());
}

std::set<std::string> TailscaleContext::keys_of(int64_t server_id) const {
  std::lock_guard lk(mu_);
  auto it = keys_.find(server_id);
  return it == keys_.end() ? std::set<std::string>{} : it->second;
}

void TailscaleContext::forget_keys(int64_t server_id, const std::set<std::string>& key_ids) {
  std::lock_guard lk(mu_);
  auto it = keys_.find(server_id);
  if (it == keys_.end()) return;
  for (const auto& id : key_ids) it->second.erase(id);
  if (it->second.empty()) keys_.erase(it);
}

Result<std::unique_ptr<TailscaleContext>> make_tailscale_context(const HeadscaleOptions& o) {
  if (o.url.empty()) return std::make_unique<TailscaleContext>();
  auto version = HeadscaleVersion::parse(o.version);
  if (!version) return fail(version.error());
  auto ttl = parse_key_ttl(o.key_ttl);
  if (!ttl) return fail(ttl.error());
  auto tags = parse_acl_tags(o.acl_tags);
  if (!tags) return fail(tags.error());
  auto key = load_api_key(o.api_key_file);
  if (!key) return fail(key.error());
  HeadscaleClientConfig cc;
  cc.url = o.url;
  cc.api_key = std::move(*key);
  cc.version = *version;
  TailscaleSettings s;
  s.login_server = o.login_url.empty() ? o.url : o.login_url;
  s.user_prefix = o.user_prefix;
  s.key_ttl = *ttl;
  s.acl_tags = std::move(*tags);
  auto client =
      std::make_shared<const HeadscaleClient>(std::move(cc), std::make_shared<CurlTransport>());
  return std::make_unique<TailscaleContext>(std::move(client), std::move(s));
}

}  // namespace zlh::api::tailscale
