#include "api/tailscale/headscale_client.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "http/http.hpp"

namespace zlh::api::tailscale {

using nlohmann::json;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

// 64-bit ids travel as JSON strings (grpc-gateway) or numbers.
std::optional<std::string> id_of(const json& v) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return s;
    return std::nullopt;
  }
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0))
    return std::to_string(v.get<uint64_t>());
  return std::nullopt;
}

// A decimal uint64 id for a request body; E_INVALID for anything else.
Result<uint64_t> u64(const std::string& id, const char* what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
  if (id.empty() || ec != std::errc() || end != id.data() + id.size())
    return fail(codes::kInvalid, std::string(what) + ": \"" + id + "\" is not a numeric id");
  return v;
}

std::string str_or(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_or(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Result<HeadscaleUser> parse_user(const json& j) {
  if (!j.is_object()) return fail(codes::kUpstream, "user is not an object");
  auto id = id_of(j.value("id", json()));
  if (!id) return fail(codes::kUpstream, "user has no id");
  return HeadscaleUser{*id, str_or(j, "name")};
}

Result<PreAuthKey> parse_key(const json& j) {
  if (!j.is_object()) return fail(codes::kUpstream, "pre-auth key is not an object");
  PreAuthKey k;
  auto id = id_of(j.value("id", json()));
  if (!id) return fail(codes::kUpstream, "pre-auth key has no id");
  k.id = *id;
  k.key = str_or(j, "key");
  // A name up to 0.25, a User object after.
  if (auto u = j.find("user"); u != j.end()) {
    if (u->is_string())
      k.user = u->get<std::string>();
    else if (u->is_object())
      k.user = str_or(*u, "name");
  }
  k.reusable = bool_or(j, "reusable");
  k.ephemeral = bool_or(j, "ephemeral");
  k.used = bool_or(j, "used");
  k.expiration = str_or(j, "expiration");
  k.created_at = str_or(j, "createdAt");
  if (auto t = j.find("aclTags"); t != j.end() && t->is_array())
    for (const auto& tag : *t)
      if (tag.is_string()) k.acl_tags.push_back(tag.get<std::string>());
  return k;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// Headscale's reason for an error status: grpc-gateway's {"code","message"}
// or the start of a plain body, on one line.
std::string reason_of(const HttpReply& r) {
  std::string msg;
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    msg = j["message"].get<std::string>();
  else
    msg = r.body.substr(0, 200);
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  if (msg.empty()) msg = "no reason given";
  if (r.status == 401 || r.status == 403) msg += " (check the Headscale API key)";
  return msg;
}

}  // namespace

HeadscaleClient::HeadscaleClient(HeadscaleClientConfig config,
                                 std::shared_ptr<HttpTransport> transport)
    : config_(std::move(config)), transport_(std::move(transport)) {}

Result<std::string> HeadscaleClient::call(const char* what, const std::string& method,
                                          const std::string& path, const std::string& body) const {
  HttpCall c;
  c.method = method;
  c.url = config_.url + path;
  c.headers = {{"Authorization", "Bearer " + config_.api_key}, {"Accept", "application/json"}};
  if (method != "GET") c.headers.emplace_back("Content-Type", "application/json");
  c.body = body;
  c.timeout = config_.timeout;
  auto r = transport_->perform(c);
  if (!r) {
    Error e = r.error();
    e.message =
        replace_all(std::string(what) + ": headscale: " + e.message, config_.api_key, "<redacted>");
    return fail(std::move(e));
  }
  if (r->status < 200 || r->status > 299) {
    Error e = Error::make(codes::kUpstream, std::string(what) + ": headscale answered " +
                                                std::to_string(r->status) + ": " + reason_of(*r));
    e.message = replace_all(std::move(e.message), config_.api_key, "<redacted>");
    e.cause = "http " + std::to_string(r->status);
    return fail(std::move(e));
  }
  return std::move(r->body);
}

Result<json> HeadscaleClient::call_for(const char* what, const std::string& method,
                                       const std::string& path, const std::string& body,
                                       const char* field) const {
  auto out = call(what, method, path, body);
  if (!out) return fail(out.error());
  auto j = json::parse(*out, nullptr, false);
  if (!j.is_object() || !j.contains(field))
    return fail(codes::kUpstream, std::string(what) + ": headscale: unexpected answer");
  return std::move(j[field]);
}

Result<std::optional<HeadscaleUser>> HeadscaleClient::find_user(const std::string& name) const {
  auto body = call("find user", "GET", "/api/v1/user?name=" + http::url_encode(name), "");
  if (!body) return fail(body.error());
  auto j = json::parse(*body, nullptr, false);
  if (!j.is_object() || (j.contains("users") && !j["users"].is_array()))
    return fail(codes::kUpstream, "find user: headscale: unexpected answer");
  // Older releases ignore the filter: match the name here.
  for (const auto& u : j.value("users", json::array())) {
    auto user = parse_user(u);
    if (!user) return fail(user.error().wrap("find user: headscale"));
    if (user->name == name) return std::optional<HeadscaleUser>(*user);
  }
  return std::optional<HeadscaleUser>();
}

Result<HeadscaleUser> HeadscaleClient::create_user(const std::string& name) const {
  auto j = call_for("create user", "POST", "/api/v1/user", json{{"name", name}}.dump(), "user");
  if (!j) return fail(j.error());
  auto user = parse_user(*j);
  if (!user) return fail(user.error().wrap("create user: headscale"));
  return *user;
}

Result<HeadscaleUser> HeadscaleClient::ensure_user(const std::string& name) const {
  auto found = find_user(name);
  if (!found) return fail(found.error());
  if (*found) return **found;
  auto created = create_user(name);
  if (created) return created;
  // Another request may have created it in between.
  auto again = find_user(name);
  if (again && *again) return **again;
  return fail(created.error());
}

Result<PreAuthKey> HeadscaleClient::create_preauth_key(const NewPreAuthKey& req) const {
  json body = {{"reusable", req.reusable},
               {"ephemeral", req.ephemeral},
               {"expiration", rfc3339(req.expiration)},
               {"aclTags", req.acl_tags}};
  if (config_.version.user_form() == UserForm::kName) {
    body["user"] = req.user.name;
  } else {
    auto id = u64(req.user.id, "create pre-auth key: user");
    if (!id) return fail(id.error());
    body["user"] = *id;
  }
  auto j = call_for("create pre-auth key", "POST", "/api/v1/preauthkey", body.dump(), "preAuthKey");
  if (!j) return fail(j.error());
  auto key = parse_key(*j);
  if (!key) return fail(key.error().wrap("create pre-auth key: headscale"));
  if (key->key.empty())
    return fail(codes::kUpstream, "create pre-auth key: headscale: the answer holds no key");
  return *key;
}

Result<std::vector<PreAuthKey>> HeadscaleClient::list_preauth_keys(
    const HeadscaleUser& user) const {
  std::string path = "/api/v1/preauthkey";
  if (!config_.version.expire_by_key_id())
    path += "?user=" +
            http::url_encode(config_.version.user_form() == UserForm::kName ? user.name : user.id);
  auto out = call("list pre-auth keys", "GET", path, "");
  if (!out) return fail(out.error());
  auto j = json::parse(*out, nullptr, false);
  if (!j.is_object() || (j.contains("preAuthKeys") && !j["preAuthKeys"].is_array()))
    return fail(codes::kUpstream, "list pre-auth keys: headscale: unexpected answer");
  std::vector<PreAuthKey> keys;
  for (const auto& item : j.value("preAuthKeys", json::array())) {
    auto k = parse_key(item);
    if (!k) return fail(k.error().wrap("list pre-auth keys: headscale"));
    // ≥ 0.28 lists every user's keys.
    if (config_.version.expire_by_key_id()) {
      const json& u = item.value("user", json());
      if (!u.is_object() || id_of(u.value("id", json())) != user.id) continue;
    }
    keys.push_back(std::move(*k));
  }
  return keys;
}

Result<void> HeadscaleClient::expire_preauth_key(const HeadscaleUser& user,
                                                 const PreAuthKey& key) const {
  json body;
  if (config_.version.expire_by_key_id()) {
    auto id = u64(key.id, "expire pre-auth key: key");
    if (!id) return fail(id.error());
    body = {{"id", *id}};
  } else {
    if (key.key.empty() || key.key.ends_with("***"))
      return fail(codes::kInvalid,
                  "expire pre-auth key: this Headscale release needs the full key");
    body = {{"key", key.key}};
    if (config_.version.user_form() == UserForm::kName) {
      body["user"] = user.name;
    } else {
      auto id = u64(user.id, "expire pre-auth key: user");
      if (!id) return fail(id.error());
      body["user"] = *id;
    }
  }
  auto out = call("expire pre-auth key", "POST", "/api/v1/preauthkey/expire", body.dump());
  if (!out) return fail(out.error());
  return {};
}

}  // namespace zlh::api::tailscale
