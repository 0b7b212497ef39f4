// What the API's libcurl clients (the Proxmox driver and the Headscale
// client) share: one global initialisation, owned handles, a size-bounded
// body and the options every request of theirs sets.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace zlh::api::net {

// curl_global_init is not thread-safe: done once per process (one flag for
// every client), before any request.
inline void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlEasy = std::unique_ptr<CURL, EasyDeleter>;
using CurlList = std::unique_ptr<curl_slist, ListDeleter>;

// A response body of at most `limit` bytes; past it the transfer stops
// (CURLE_WRITE_ERROR) and too_large is set.
struct CurlBody {
  explicit CurlBody(size_t limit) : limit(limit) {}
  size_t limit;
  std::string body;
  bool too_large = false;
};

inline size_t curl_on_body(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<CurlBody*>(user);
  size_t n = size * nmemb;
  if (sink->body.size() + n > sink->limit) {
    sink->too_large = true;
    return 0;
  }
  sink->body.append(ptr, n);
  return n;
}

// URL, http(s) only, no redirects (a redirect would carry credentials
// elsewhere), no signals (several threads; no SIGALRM for DNS timeouts),
// timeouts, headers, the body sink, the error buffer and the user agent.
inline void set_common_options(CURL* c, const std::string& url, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds connect_cap, curl_slist* headers,
                               CurlBody* body, char* errbuf) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   long(std::min<int64_t>(timeout.count(), connect_cap.count())));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "zlh-api");
}

}  // namespace zlh::api::net
