#include "api/tailscale/http_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace zlh::api::tailscale {

namespace {

constexpr size_t kMaxBody = 4 << 20;

struct Sink {
  std::string body;
  bool too_large = false;
};

size_t on_data(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * nmemb;
  if (sink->body.size() + n > kMaxBody) {
    sink->too_large = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->body.append(ptr, n);
  return n;
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

// curl_global_init is not thread-safe; done once, before any request.
CurlTransport::CurlTransport() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<HttpReply> CurlTransport::perform(const HttpCall& call) {
  std::unique_ptr<CURL, EasyDeleter> h(curl_easy_init());
  if (!h) return fail(codes::kInternal, "curl_easy_init failed");
  curl_slist* raw = nullptr;
  for (const auto& [k, v] : call.headers) raw = curl_slist_append(raw, (k + ": " + v).c_str());
  // curl adds "Expect: 100-continue" to larger POSTs; Headscale does not need the round trip.
  raw = curl_slist_append(raw, "Expect:");
  std::unique_ptr<curl_slist, ListDeleter> headers(raw);
  Sink sink;
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // several threads, no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(call.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   long(std::min<int64_t>(call.timeout.count(), 5000)));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "zlh-api");
  if (call.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(call.body.size()));
  }
  CURLcode rc = curl_easy_perform(c);
  if (sink.too_large) return fail(codes::kUpstream, "response larger than 4 MiB");
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return fail(codes::kTimeout,
                "no answer within " + std::to_string(call.timeout.count()) + " ms");
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return fail(codes::kUpstream, why);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return HttpReply{int(status), std::move(sink.body)};
}

}  // namespace zlh::api::tailscale
