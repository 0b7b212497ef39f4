#include "api/tailscale/http_transport.hpp"

#include "api/net/curl.hpp"

namespace zlh::api::tailscale {

namespace {

constexpr size_t kMaxBody = 4 << 20;

}  // namespace

CurlTransport::CurlTransport() { net::curl_init_once(); }

Result<HttpReply> CurlTransport::perform(const HttpCall& call) {
  net::CurlEasy h(curl_easy_init());
  if (!h) return fail(codes::kInternal, "curl_easy_init failed");
  curl_slist* raw = nullptr;
  for (const auto& [k, v] : call.headers) raw = curl_slist_append(raw, (k + ": " + v).c_str());
  // curl adds "Expect: 100-continue" to larger POSTs; Headscale does not need the round trip.
  raw = curl_slist_append(raw, "Expect:");
  net::CurlList headers(raw);
  net::CurlBody sink(kMaxBody);
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = h.get();
  net::set_common_options(c, call.url, call.timeout, std::chrono::milliseconds(5000), headers.get(),
                          &sink, errbuf);
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
