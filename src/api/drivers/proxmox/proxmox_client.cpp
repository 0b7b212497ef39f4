#include "api/drivers/proxmox/proxmox_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <thread>

#include "api/net/curl.hpp"
#include "base/log.hpp"
#include "http/http.hpp"

namespace zlh::api::drivers {

namespace {

constexpr size_t kMaxBody = 8 << 20;

// The reason phrase of the last status line: Proxmox puts its error text there.
size_t on_header(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* reason = static_cast<std::string*>(user);
  size_t n = size * nmemb;
  std::string_view line(ptr, n);
  if (line.starts_with("HTTP/")) {
    // "HTTP/1.1 500 CT is locked (clone)\r\n"
    auto sp = line.find(' ');
    auto sp2 = sp == std::string_view::npos ? sp : line.find(' ', sp + 1);
    std::string_view r = sp2 == std::string_view::npos ? std::string_view() : line.substr(sp2 + 1);
    while (!r.empty() && (r.back() == '\r' || r.back() == '\n')) r.remove_suffix(1);
    *reason = std::string(r.substr(0, 1024));
  }
  return n;
}

// The pinned fingerprint travels to OpenSSL's verify callback through an
// ex_data slot of the SSL_CTX.
int pin_index() {
  static int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

int verify_pinned(int /*preverify_ok*/, X509_STORE_CTX* store) {
  // Only the server's own certificate decides (depth 0); the chain above it
  // is not consulted: the pin replaces the CA check.
  if (X509_STORE_CTX_get_error_depth(store) > 0) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (!ssl) return 0;
  auto* want = static_cast<const std::array<uint8_t, 32>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pin_index()));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!want || !cert || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32 ||
      std::memcmp(md, want->data(), 32) != 0) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

CURLcode install_pin(CURL*, void* ssl_ctx, void* pin) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_ex_data(ctx, pin_index(), pin);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pinned);
  return CURLE_OK;
}

std::string method_path(const std::string& method, const std::string& path) {
  return method + " " + path;
}

// Proxmox's error text: "message", then "errors" {field: text}, then the reason phrase.
std::string error_text(const std::string& body, const std::string& reason, long status) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string out;
  if (j.is_object()) {
    if (j.contains("message") && j["message"].is_string()) out = j["message"].get<std::string>();
    if (j.contains("errors") && j["errors"].is_object()) {
      for (auto it = j["errors"].begin(); it != j["errors"].end(); ++it) {
        if (!out.empty()) out += "; ";
        out += it.key() + ": " +
               (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
      }
    }
  }
  if (out.empty()) out = reason;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (out.empty()) out = "HTTP " + std::to_string(status);
  return out.substr(0, 2048);
}

}  // namespace

bool is_lock_error(std::string_view m) {
  return m.find("can't lock file") != std::string_view::npos ||
         m.find("is locked") != std::string_view::npos;
}

bool is_missing(std::string_view m) { return m.find("does not exist") != std::string_view::npos; }

ProxmoxClient::ProxmoxClient(const ProxmoxConfig& cfg) : cfg_(cfg) { net::curl_init_once(); }

std::string ProxmoxClient::encode(std::string_view s) { return http::url_encode(s); }

namespace {

// TLS as configured: a pinned fingerprint, the CA checked, or no check.
void set_tls(CURL* c, const ProxmoxConfig& cfg) {
  if (cfg.fingerprint) {
    // The pin is the trust: curl's own checks off, OpenSSL's callback on.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, install_pin);
    void* pin = const_cast<std::array<uint8_t, 32>*>(&*cfg.fingerprint);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, pin);
    curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  } else if (cfg.tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!cfg.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, cfg.ca_file.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

// The method, and the form as the body when it does not go in the query.
void set_method(CURL* c, const std::string& method, bool in_query, const std::string& form) {
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!in_query) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(form.size()));
    }
  }
}

// The transfer's failure (too large, timed out, refused, TLS); none when
// an answer came.
Result<void> transfer_error(CURLcode rc, const char* errbuf, bool too_large,
                            const std::string& what, std::chrono::milliseconds timeout,
                            bool pinned) {
  if (too_large) return fail(codes::kUpstream, "proxmox " + what + ": answer larger than 8 MiB");
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return fail(codes::kTimeout, "proxmox " + what + ": no answer within " +
                                     std::to_string(timeout.count()) + " ms");
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR)
      why = "TLS verification failed (" + why + ")" +
            (pinned ? "; the certificate does not match the pinned fingerprint"
                    : "; trust the cluster CA (ca_file) or pin its fingerprint");
    return fail(codes::kUpstream, "proxmox " + what + ": " + why);
  }
  return {};
}

// The answer's "data", or the error its status says.
Result<nlohmann::json> data_of(long status, const std::string& body, const std::string& reason,
                               const std::string& what, const std::string& token_id) {
  if (status == 401)
    return fail(codes::kUpstream, "proxmox " + what + ": the API token was refused (401 " + reason +
                                      "); check token " + token_id + " and its privileges");
  if (status == 595 || status == 596)
    return fail(codes::kUnavailable,
                "proxmox " + what + ": node unreachable: " + error_text(body, reason, status));
  if (status < 200 || status >= 300)
    return fail(codes::kUpstream, "proxmox " + what + ": " + error_text(body, reason, status));
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("data"))
    return fail(codes::kUpstream, "proxmox " + what + ": the answer is not {\"data\": …}");
  return std::move(j["data"]);
}

}  // namespace

Result<nlohmann::json> ProxmoxClient::call(const std::string& method, const std::string& path,
                                           const PveParams& params,
                                           std::chrono::milliseconds timeout) const {
  std::string form;
  for (const auto& [k, v] : params) {
    if (!form.empty()) form += '&';
    form += encode(k) + "=" + encode(v);
  }
  const bool in_query = method == "GET" || method == "DELETE";
  std::string url = cfg_.url + "/api2/json" + path;
  if (in_query && !form.empty()) url += (path.find('?') == std::string::npos ? "?" : "&") + form;

  net::CurlEasy h(curl_easy_init());
  if (!h) return fail(codes::kInternal, "curl_easy_init failed");
  curl_slist* raw =
      curl_slist_append(nullptr, ("Authorization: PVEAPIToken=" + cfg_.token).c_str());
  raw = curl_slist_append(raw, "Accept: application/json");
  raw = curl_slist_append(raw, "Expect:");
  net::CurlList headers(raw);
  net::CurlBody sink(kMaxBody);
  std::string reason;
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = h.get();
  net::set_common_options(c, url, timeout, std::chrono::milliseconds(10000), headers.get(), &sink,
                          errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reason);
  set_tls(c, cfg_);
  set_method(c, method, in_query, form);
  CURLcode rc = curl_easy_perform(c);
  const std::string what = method_path(method, path);
  if (auto e =
          transfer_error(rc, errbuf, sink.too_large, what, timeout, cfg_.fingerprint.has_value());
      !e)
    return fail(e.error());
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return data_of(status, sink.body, reason, what, cfg_.token_id);
}

Result<void> ProxmoxClient::wait_task(const std::string& node, const std::string& upid,
                                      std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(std::min<int64_t>(100, cfg_.poll.count()));
  int transient = 0;
  for (;;) {
    auto st = call("GET", "/nodes/" + encode(node) + "/tasks/" + encode(upid) + "/status", {},
                   std::chrono::seconds(15));
    if (st) {
      transient = 0;
      if (st->is_object() && st->value("status", "") == "stopped") {
        std::string exit = st->contains("exitstatus") && (*st)["exitstatus"].is_string()
                               ? (*st)["exitstatus"].get<std::string>()
                               : "";
        if (exit == "OK" || exit.starts_with("WARNINGS")) return {};
        return fail(codes::kUpstream, "task " + st->value("type", std::string("?")) + " on " +
                                          node +
                                          " failed: " + (exit.empty() ? "no exit status" : exit));
      }
    } else if (++transient > 10) {
      return fail(st.error().wrap("task " + upid));
    }
    if (std::chrono::steady_clock::now() + pause > deadline)
      return fail(codes::kTimeout, "task " + upid + " still running after " +
                                       std::to_string(timeout.count() / 1000) + " s");
    std::this_thread::sleep_for(pause);
    pause = std::min(cfg_.poll, pause * 2);
  }
}

Result<nlohmann::json> ProxmoxClient::retry_locked(
    const std::string& what, const std::function<Result<nlohmann::json>()>& f) const {
  thread_local std::mt19937 rng{std::random_device{}()};
  auto wait = cfg_.lock_backoff;
  for (int attempt = 1;; ++attempt) {
    auto r = f();
    if (r || !is_lock_error(r.error().message)) return r;
    if (attempt >= cfg_.lock_retries)
      return fail(r.error().wrap("still locked after " + std::to_string(attempt) + " tries"));
    // Full backoff with jitter: between half and all of the current wait.
    std::uniform_int_distribution<int64_t> jitter(wait.count() / 2,
                                                  std::max<int64_t>(wait.count(), 1));
    auto pause = std::chrono::milliseconds(jitter(rng));
    log::warn("proxmox", "locked; retrying",
              {{"op", what},
               {"attempt", attempt},
               {"wait_ms", pause.count()},
               {"error", r.error().message}});
    std::this_thread::sleep_for(pause);
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(10));
  }
}

}  // namespace zlh::api::drivers
