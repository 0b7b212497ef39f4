#include "agent/runtimes/fetcher.hpp"

#include "agent/runtimes/lazy_lib.hpp"

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
// curl.h wraps these two in function-like macros; the lazy forwarders take their place.
#undef curl_easy_setopt
#undef curl_easy_getinfo

#include <mutex>
#include <optional>

namespace zlh::agent::runtimes {

namespace lz {
ZLH_LAZY("libcurl.so.4", curl_easy_cleanup)
ZLH_LAZY("libcurl.so.4", curl_easy_getinfo)
ZLH_LAZY("libcurl.so.4", curl_easy_init)
ZLH_LAZY("libcurl.so.4", curl_easy_perform)
ZLH_LAZY("libcurl.so.4", curl_easy_setopt)
ZLH_LAZY("libcurl.so.4", curl_easy_strerror)
ZLH_LAZY("libcurl.so.4", curl_global_init)
}  // namespace lz

namespace {
struct Ctx {
  const Sink* sink;
  const std::atomic<bool>* cancel;
  std::optional<Error> error;
};

size_t on_data(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* ctx = static_cast<Ctx*>(user);
  size_t n = size * nmemb;
  if (ctx->cancel && ctx->cancel->load()) {
    ctx->error = Error::make(codes::kInternal, "cancelled");
    return 0;
  }
  auto r = (*ctx->sink)(std::string_view(ptr, n));
  if (!r) {
    ctx->error = r.error();
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ctx = static_cast<Ctx*>(user);
  return ctx->cancel && ctx->cancel->load() ? 1 : 0;
}
}  // namespace

// lz::curl_global_init() initializes OpenSSL and friends (megabytes of resident
// memory): done at the first fetch, not when the agent starts.
CurlFetcher::CurlFetcher() = default;

namespace {
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { lz::curl_global_init(CURL_GLOBAL_DEFAULT); });
}
}  // namespace

Result<void> CurlFetcher::fetch(const std::string& url, const Sink& sink,
                                const std::atomic<bool>* cancel) {
  if (!url.starts_with("http://") && !url.starts_with("https://") && !url.starts_with("file://"))
    return fail(codes::kInvalid, "unsupported artifact URL scheme: " + url);
  init_curl_once();
  CURL* h = lz::curl_easy_init();
  if (!h) return fail(codes::kInternal, "curl_easy_init failed");
  Ctx ctx{&sink, cancel, std::nullopt};
  char errbuf[CURL_ERROR_SIZE] = {};
  lz::curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  lz::curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
  lz::curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                       "http,https");  // never redirect into file://
  lz::curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  lz::curl_easy_setopt(h, CURLOPT_FAILONERROR,
                       1L);  // an error page is never taken for the artifact
  lz::curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  lz::curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  lz::curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
  lz::curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  lz::curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);
  lz::curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  lz::curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  lz::curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  // A stalled transfer (under 1 KiB/s for 60 s) is dead; a slow one is not.
  lz::curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  lz::curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  lz::curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  lz::curl_easy_setopt(h, CURLOPT_USERAGENT, "zlh-agent");
  lz::curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
  CURLcode rc = lz::curl_easy_perform(h);
  long status = 0;
  lz::curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  lz::curl_easy_cleanup(h);
  if (ctx.error) return fail(*ctx.error);
  if (rc == CURLE_FILE_COULDNT_READ_FILE) return fail(codes::kNotFound, url + ": no such file");
  if (rc == CURLE_HTTP_RETURNED_ERROR && status == 404)
    return fail(codes::kNotFound, url + ": 404 not found");
  if (rc == CURLE_ABORTED_BY_CALLBACK) return fail(codes::kInternal, "cancelled");
  if (rc != CURLE_OK)
    return fail(codes::kUpstream,
                url + ": " + (errbuf[0] ? std::string(errbuf) : lz::curl_easy_strerror(rc)));
  if (url.starts_with("http")) {
    if (status == 404) return fail(codes::kNotFound, url + ": 404 not found");
    if (status < 200 || status >= 300)
      return fail(codes::kUpstream, url + ": HTTP " + std::to_string(status));
  }
  return {};
}

Result<std::string> fetch_small(Fetcher& f, const std::string& url, size_t max_bytes) {
  std::string body;
  auto r = f.fetch(url, [&](std::string_view chunk) -> Result<void> {
    if (body.size() + chunk.size() > max_bytes)
      return fail(codes::kTooLarge, url + ": larger than " + std::to_string(max_bytes) + " bytes");
    body.append(chunk);
    return {};
  });
  if (!r) return fail(r.error());
  return body;
}

std::string join_url(std::string_view base, std::string_view rel) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return out + "/" + std::string(rel);
}

}  // namespace zlh::agent::runtimes
