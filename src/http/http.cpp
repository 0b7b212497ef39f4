#include "http/http.hpp"

#include <array>
#include <cctype>
#include <optional>

#include "base/strings.hpp"

namespace zlh::http {

void Headers::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(items_, [&](const auto& kv) { return strings::iequals(kv.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& kv : items_)
    if (strings::iequals(kv.first, name)) return std::string_view(kv.second);
  return std::nullopt;
}

Result<std::string> url_decode(std::string_view s, bool form) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return fail(codes::kInvalid, "bad percent escape");
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h < 0 || l < 0) return fail(codes::kInvalid, "bad percent escape");
      char d = char(h * 16 + l);
      if (d == '\0') return fail(codes::kInvalid, "encoded NUL byte");
      out += d;
      i += 2;
    } else if (c == '+' && form) {
      out += ' ';
    } else if (c == '\0') {
      return fail(codes::kInvalid, "NUL byte");
    } else {
      out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto k = url_decode(part.substr(0, eq), true);
    if (!k) return fail(codes::kInvalid, "query: " + k.error().message);
    std::string v;
    if (eq != std::string_view::npos) {
      auto dv = url_decode(part.substr(eq + 1), true);
      if (!dv) return fail(codes::kInvalid, "query: " + dv.error().message);
      v = std::move(*dv);
    }
    out[std::move(*k)] = std::move(v);
  }
  return out;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  auto q = parse_query(query);
  if (!q) return std::nullopt;
  auto it = q->find(std::string(name));
  if (it == q->end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> Request::bearer_token() const {
  auto h = headers.get("Authorization");
  if (!h) return std::nullopt;
  std::string_view v = *h;
  if (v.size() < 7 || !strings::iequals(v.substr(0, 7), "Bearer ")) return std::nullopt;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

Response Response::json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::error(const Error& e) {
  Response r;
  r.status = http_status_for(e.code);
  r.headers.set("Content-Type", "application/json");
  r.body = error_body(e);
  r.is_error = true;
  return r;
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  SegmentReader segs(path);
  while (auto seg = segs.next()) out.emplace_back(*seg);
  return out;
}
}  // namespace

Router::Route& Router::push(std::string method, std::string pattern, RouteOptions o) {
  Route& r = routes_.emplace_back();
  r.method = std::move(method);
  r.segments = split_path(pattern);
  for (const auto& ps : r.segments) {
    if (ps.size() > 5 && ps.front() == '{' && ps.ends_with("...}"))
      r.kinds.push_back(Route::Seg::kRest);
    else if (ps.size() > 2 && ps.front() == '{' && ps.back() == '}')
      r.kinds.push_back(Route::Seg::kParam);
    else
      r.kinds.push_back(Route::Seg::kLiteral);
  }
  r.rest = !r.kinds.empty() && r.kinds.back() == Route::Seg::kRest;
  r.is_proxy = r.method == "*";
  r.is_ws = r.method == "WS";
  r.pattern = std::move(pattern);
  r.options = o;
  const auto index = static_cast<uint32_t>(routes_.size() - 1);
  if (!r.kinds.empty() && r.kinds.front() == Route::Seg::kLiteral)
    by_first_[r.segments.front()].push_back(index);
  else
    any_first_.push_back(index);
  return r;
}

void Router::add(std::string method, std::string pattern, Handler h, RouteOptions o) {
  push(std::move(method), std::move(pattern), o).handler = std::move(h);
}

void Router::add_sync(std::string method, std::string pattern, SyncHandler h, RouteOptions o) {
  add(
      std::move(method), std::move(pattern),
      [h = std::move(h)](Request& req, Responder res) { res.send(h(req)); }, o);
}

void Router::add_ws(std::string pattern, WsFactory f, RouteOptions o) {
  push("WS", std::move(pattern), o).ws = std::move(f);
}

namespace {
class BufferedSink : public BodySink {
 public:
  BufferedSink(size_t limit, Handler h) : limit_(limit), h_(std::move(h)) {}
  Result<void> write(std::string_view chunk) override {
    if (body_.size() + chunk.size() > limit_)
      return fail(codes::kTooLarge, "request body over " + std::to_string(limit_) + " bytes");
    body_.append(chunk);
    return {};
  }
  void finish(Request& req, Responder res) override {
    req.body = std::move(body_);
    h_(req, std::move(res));
  }

 private:
  size_t limit_;
  Handler h_;
  std::string body_;
};
}  // namespace

std::unique_ptr<BodySink> buffered_sink(size_t limit, Handler h) {
  return std::make_unique<BufferedSink>(limit, std::move(h));
}

void Router::add_streaming(std::string method, std::string pattern, SinkFactory f, RouteOptions o) {
  push(std::move(method), std::move(pattern), o).sink = std::move(f);
}

void Router::add_proxy(std::string pattern, ProxyFactory f, RouteOptions o,
                       std::vector<std::string> methods) {
  auto& r = push("*", std::move(pattern), o);
  r.proxy = std::move(f);
  r.methods = std::move(methods);
}

namespace {
// A request path cut at '/' into views of the path itself (this runs for
// every request): the first 32 segments without allocating. Empty segments
// ("//") are skipped, so such a path matches what its non-empty segments
// match, which is the same resource.
struct PathSegments {
  std::array<std::string_view, 32> small;
  std::vector<std::string_view> big;
  size_t n = 0;

  explicit PathSegments(std::string_view path) {
    SegmentReader reader(path);
    while (auto seg = reader.next()) {
      if (n < small.size()) {
        small[n] = *seg;
      } else {
        if (big.empty()) big.assign(small.begin(), small.end());
        big.push_back(*seg);
      }
      ++n;
    }
  }
  const std::string_view* data() const { return big.empty() ? small.data() : big.data(); }
};

// Where `r`'s pattern matches the segments: the index of its {name...}
// segment (or its segment count when it has none), nullopt when it does not
// match. Cheap refusals first: too few or too many segments.
std::optional<size_t> match_shape(const Router::Route& r, const std::string_view* segs,
                                  size_t nsegs, bool trailing_slash) {
  const size_t fixed = r.segments.size() - (r.rest ? 1 : 0);
  if (nsegs < fixed || (!r.rest && (nsegs != fixed || trailing_slash))) return std::nullopt;
  for (size_t i = 0; i < r.segments.size(); ++i) {
    if (r.kinds[i] == Router::Route::Seg::kRest) return i;
    if (r.kinds[i] == Router::Route::Seg::kLiteral && r.segments[i] != segs[i]) return std::nullopt;
  }
  return r.segments.size();
}

bool method_matches(std::string_view m, std::string_view method) {
  return m == method || (m == "GET" && method == "HEAD");
}

// Whether `r` takes `method`; when not, its methods are added to `allow`
// (for the 405's Allow header).
bool takes_method(const Router::Route& r, std::string_view method, bool websocket,
                  std::string& allow) {
  auto add = [&allow](std::string_view m) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  };
  if (r.is_proxy) {
    if (r.methods.empty()) return true;
    for (const auto& m : r.methods)
      if (method_matches(m, method)) return true;
    for (const auto& m : r.methods) add(m);
    return false;
  }
  if (websocket || method_matches(r.method, method)) return true;
  add(r.method);
  return false;
}

// The {name} parameters of a matched route, and its {name...} rest (the
// segments from `rest_at` joined by '/', with the trailing slash kept).
void bind_params(const Router::Route& r, const std::string_view* segs, size_t nsegs, size_t rest_at,
                 bool trailing_slash, Router::Match& result) {
  for (size_t k = 0; k < rest_at; ++k) {
    const std::string& ps = r.segments[k];
    if (r.kinds[k] == Router::Route::Seg::kParam)
      result.params[std::string_view(ps).substr(1, ps.size() - 2)] = std::string(segs[k]);
  }
  if (rest_at == r.segments.size()) return;
  const std::string& ps = r.segments[rest_at];
  std::string rest;
  for (size_t k = rest_at; k < nsegs; ++k) {
    if (k > rest_at) rest += '/';
    rest += segs[k];
  }
  if (trailing_slash && !rest.empty()) rest += '/';
  result.params[std::string_view(ps).substr(1, ps.size() - 5)] = std::move(rest);
}
}  // namespace

Router::Match Router::match(std::string_view method, std::string_view path, bool websocket) const {
  Match result;
  const PathSegments path_segs(path);
  const std::string_view* segs = path_segs.data();
  const size_t nsegs = path_segs.n;
  const bool trailing_slash = path.size() > 1 && path.back() == '/';
  std::string allow;
  // The routes starting with this path's first segment, merged in order
  // with those starting with a parameter: the first added wins.
  const std::vector<uint32_t>* lit = nullptr;
  if (nsegs > 0)
    if (auto it = by_first_.find(segs[0]); it != by_first_.end()) lit = &it->second;
  size_t li = 0, ai = 0;
  for (;;) {
    uint32_t idx;
    if (lit && li < lit->size() && (ai >= any_first_.size() || (*lit)[li] < any_first_[ai]))
      idx = (*lit)[li++];
    else if (ai < any_first_.size())
      idx = any_first_[ai++];
    else
      break;
    const Route& r = routes_[idx];
    if (!r.is_proxy && r.is_ws != websocket) continue;
    const auto rest_at = match_shape(r, segs, nsegs, trailing_slash);
    if (!rest_at || !takes_method(r, method, websocket, allow)) continue;
    result.kind = MatchKind::kFound;
    result.route = &r;
    bind_params(r, segs, nsegs, *rest_at, trailing_slash, result);
    return result;
  }
  if (!allow.empty()) {
    result.kind = MatchKind::kMethodNotAllowed;
    result.allow = allow;
  }
  return result;
}

}  // namespace zlh::http
