// The reverse proxy (Router::add_proxy) over real loopback sockets, in
// process: a front server proxying to an upstream server (or to a raw socket
// upstream that counts its connections).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <thread>

#include "base/strings.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

namespace zlh::http {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Running {
  std::unique_ptr<Server> server;
  std::thread thread;
  uint16_t port = 0;
  std::string base;
  explicit Running(Router r, int threads = 2) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    server = std::make_unique<Server>(std::move(r), o);
    EXPECT_TRUE(server->listen());
    port = server->port();
    base = "http://127.0.0.1:" + std::to_string(port);
    thread = std::thread([this, threads] { server->run(threads, false); });
  }
  ~Running() {
    server->stop();
    thread.join();
  }
};

// Produces n bytes of a known pattern.
class PatternSource : public BodySource {
 public:
  explicit PatternSource(uint64_t n) : left_(n) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t k = size_t(std::min<uint64_t>(cap, left_));
    for (size_t i = 0; i < k; ++i) buf[i] = char('a' + (pos_ + i) % 26);
    pos_ += k;
    left_ -= k;
    return k;
  }

 private:
  uint64_t left_;
  uint64_t pos_ = 0;
};

class CountSink : public BodySink {
 public:
  Result<void> write(std::string_view c) override {
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i] != char('a' + (n_ + i) % 26)) ok_ = false;
    n_ += c.size();
    return {};
  }
  void finish(Request&, Responder res) override {
    res.send(Response::json(200, {{"bytes", n_}, {"ok", ok_}}));
  }

 private:
  uint64_t n_ = 0;
  bool ok_ = true;
};

class Echo : public WsHandler {
 public:
  void on_open(std::shared_ptr<WsConn> c) override { c_ = c; }
  void on_message(std::string data, bool binary) override {
    if (binary)
      c_->send_binary(std::move(data));
    else
      c_->send_text(std::move(data));
  }

 private:
  std::shared_ptr<WsConn> c_;
};

Router upstream_router() {
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/hdr",
      [](Request& req) {
        json h = json::object();
        for (const auto& [k, v] : req.headers.items()) h[k] = v;
        Response res = Response::json(200, {{"target", req.target}, {"headers", h}});
        res.headers.add("Set-Cookie", "zlh_session=stolen; Path=/");
        res.headers.add("Set-Cookie", "ide=1; Path=/");
        return res;
      },
      pub);
  r.add_sync(
      "GET", "/big",
      [](Request& req) {
        uint64_t n = std::stoull(req.query_param("n").value_or("0"));
        Response res;
        res.source = std::make_shared<PatternSource>(n);
        if (req.query_param("len")) res.source_length = n;
        return res;
      },
      pub);
  r.add_sync(
      "GET", "/empty",
      [](Request&) {
        return Response{204, {}, "", nullptr, std::nullopt};
      },
      pub);
  RouteOptions big = pub;
  big.body_limit = size_t(1) << 32;
  r.add_streaming(
      "POST", "/count",
      [](Request&) -> Result<std::unique_ptr<BodySink>> { return std::make_unique<CountSink>(); },
      big);
  r.add_ws(
      "/ws",
      [](Request&) -> Result<std::shared_ptr<WsHandler>> { return std::make_shared<Echo>(); }, pub);
  return r;
}

Router front_router(uint16_t upstream_port) {
  Router r;
  RouteOptions o;
  o.is_public = true;
  o.body_limit = SIZE_MAX;
  r.add_proxy(
      "/p/{rest...}",
      [upstream_port](Request& req) {
        ProxyPlan plan;
        if (req.path == "/p") {
          plan.response = Response::text(308, "");
          plan.response.headers.set("Location", "/p/");
          return plan;
        }
        ProxyTarget t;
        t.host = "127.0.0.1";
        t.port = upstream_port;
        t.target = req.target.substr(2);
        for (const auto& [k, v] : req.headers.items())
          if (!strings::iequals(k, "Authorization")) t.headers.add(k, v);
        t.headers.set("X-Forwarded-Prefix", "/p");
        t.keep_response_header = [](std::string_view k, std::string_view v) {
          return !(strings::iequals(k, "Set-Cookie") && v.starts_with("zlh_session="));
        };
        plan.upstream = std::move(t);
        return plan;
      },
      o);
  // The client's headers forwarded by the proxy itself, through a filter.
  r.add_proxy(
      "/f/{rest...}",
      [upstream_port](Request& req) {
        ProxyPlan plan;
        ProxyTarget t;
        t.host = "127.0.0.1";
        t.port = upstream_port;
        t.target = req.target.substr(2);
        t.forward_client_header = [](std::string_view k) {
          return !strings::iequals(k, "Authorization") && !strings::iequals(k, "X-Secret") &&
                 !strings::iequals(k, "X-Forwarded-For");
        };
        t.headers.add("X-Route", "f");
        t.set_forwarded = true;
        t.forwarded_proto = "https";
        t.forwarded_prefix = "/f";
        plan.upstream = std::move(t);
        return plan;
      },
      o);
  r.add_proxy(
      "/down/{rest...}",
      [](Request&) {
        ProxyPlan plan;
        ProxyTarget t;
        t.host = "127.0.0.1";
        t.port = 1;  // nothing listens there
        t.target = "/";
        t.on_upstream_error = [](const Error&) {
          return Response::text(502, "starting, retrying", "text/html");
        };
        plan.upstream = std::move(t);
        return plan;
      },
      o);
  return r;
}

class ProxyTest : public ::testing::Test {
 protected:
  Running up{upstream_router()};
  Running front{front_router(up.port)};
};

TEST_F(ProxyTest, ForwardsTargetAndEditedHeadersBothWays) {
  Headers h;
  h.add("Authorization", "Bearer secret");
  h.add("Cookie", "a=1");
  auto r = request("GET", front.base + "/p/hdr?x=1&y=%2F", h);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["target"], "/hdr?x=1&y=%2F");  // byte for byte, query kept
  EXPECT_FALSE(j["headers"].contains("Authorization"));
  EXPECT_EQ(j["headers"]["Cookie"], "a=1");
  EXPECT_EQ(j["headers"]["X-Forwarded-Prefix"], "/p");
  EXPECT_TRUE(j["headers"].contains("X-Request-Id"));
  EXPECT_EQ(j["headers"]["Host"], "127.0.0.1:" + std::to_string(front.port)) << "Host kept";
  // The route's response edit dropped one Set-Cookie, kept the other.
  int cookies = 0;
  for (const auto& [k, v] : r->headers.items())
    if (strings::iequals(k, "Set-Cookie")) {
      ++cookies;
      EXPECT_EQ(v, "ide=1; Path=/");
    }
  EXPECT_EQ(cookies, 1);
}

std::string raw_exchange(uint16_t port, const std::string& text);

TEST_F(ProxyTest, ForwardedClientHeadersPassTheFilterButNoHopByHopOnesAndNoClaimedRequestId) {
  auto ask = [&](const std::string& rid) {
    std::string out = raw_exchange(
        front.port,
        "GET /f/hdr HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer secret\r\n"
        "X-Secret: s\r\nX-Forwarded-For: 6.6.6.6\r\nCookie: a=1\r\nX-Keep: yes\r\nX-Request-Id: " +
            rid + "\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nConnection: close, X-Hop\r\n\r\n");
    auto body = out.find("\r\n\r\n");
    EXPECT_NE(body, std::string::npos) << out;
    EXPECT_TRUE(out.starts_with("HTTP/1.1 200")) << out;
    return json::parse(out.substr(body + 4), nullptr, false)["headers"];
  };
  auto h = ask("bad id!");
  ASSERT_TRUE(h.is_object());
  EXPECT_FALSE(h.contains("Authorization"));
  EXPECT_FALSE(h.contains("X-Secret"));
  EXPECT_FALSE(h.contains("Keep-Alive"));
  EXPECT_FALSE(h.contains("X-Hop")) << "named in Connection: hop-by-hop";
  EXPECT_EQ(h["Cookie"], "a=1");
  EXPECT_EQ(h["X-Keep"], "yes");
  EXPECT_EQ(h["Host"], "front");
  EXPECT_EQ(h["X-Route"], "f");
  EXPECT_EQ(h["X-Forwarded-Prefix"], "/f");
  EXPECT_EQ(h["X-Forwarded-Proto"], "https");
  EXPECT_EQ(h["X-Forwarded-Host"], "front");
  EXPECT_EQ(h["X-Forwarded-For"], "127.0.0.1") << "the proxy's, not the client's claim";
  ASSERT_TRUE(h.contains("X-Request-Id"));
  EXPECT_NE(h["X-Request-Id"], "bad id!") << "replaced by the server's sane id";
  EXPECT_EQ(h["X-Request-Id"].get<std::string>().size(), 16u);
  EXPECT_EQ(ask("abc-123")["X-Request-Id"], "abc-123") << "a sane one goes on";
}

TEST_F(ProxyTest, RedirectAnswerAndMethodsOfAllKinds) {
  auto r = request("GET", front.base + "/p");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 308);
  EXPECT_EQ(r->headers.get("Location"), std::optional<std::string_view>("/p/"));
  r = request("HEAD", front.base + "/p/big?n=1000&len=1");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.get("Content-Length"), std::optional<std::string_view>("1000"));
  EXPECT_TRUE(r->body.empty());
  r = request("GET", front.base + "/p/empty");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  r = request("DELETE", front.base + "/p/nowhere");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << "the upstream's own answer";
}

TEST_F(ProxyTest, StreamsLargeBodiesBothWays) {
  const uint64_t n = 48ull << 20;
  for (bool len : {false, true}) {
    auto r = request("GET", front.base + "/p/big?n=" + std::to_string(n) + (len ? "&len=1" : ""),
                     {}, {}, 60s);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->body.size(), n);
    bool ok = true;
    for (size_t i = 0; i < r->body.size() && ok; i += 4099) ok = r->body[i] == char('a' + i % 26);
    EXPECT_TRUE(ok);
  }
  std::string body(n, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = char('a' + i % 26);
  auto r = request("POST", front.base + "/p/count", {}, std::move(body), 60s);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["bytes"], n);
  EXPECT_EQ(json::parse(r->body)["ok"], true);
}

// Sends `text` on one connection to 127.0.0.1:port and reads until the
// server closes it.
std::string raw_exchange(uint16_t port, const std::string& text) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

std::string pattern(size_t from, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (from + i) % 26);
  return s;
}

// The proxy frames what it forwards itself: a chunked upload goes upstream
// chunked, a chunked answer reaches an HTTP/1.1 client chunked (and the
// connection carries the next request), and an HTTP/1.0 client gets the
// body unframed, ended by the close.
TEST_F(ProxyTest, FramesChunkedUploadsChunkedAnswersAndHttp10Clients) {
  std::string up =
      "POST /p/count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: "
      "close\r\n\r\n";
  size_t sent = 0;
  for (size_t n : {5, 70000, 1}) {
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    up += size + pattern(sent, n) + "\r\n";
    sent += n;
  }
  up += "0\r\n\r\n";
  std::string r = raw_exchange(front.port, up);
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 ")) << r.substr(0, 300);
  EXPECT_NE(r.find("\"bytes\":" + std::to_string(sent)), std::string::npos) << r;
  EXPECT_NE(r.find("\"ok\":true"), std::string::npos) << r;

  r = raw_exchange(front.port,
                   "GET /p/big?n=10 HTTP/1.1\r\nHost: x\r\n\r\n"
                   "GET /p/big?n=20&len=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 ")) << r.substr(0, 300);
  size_t body1 = r.find("\r\n\r\n");
  ASSERT_NE(body1, std::string::npos);
  EXPECT_NE(r.substr(0, body1).find("Transfer-Encoding: chunked"), std::string::npos) << r;
  EXPECT_EQ(r.substr(body1 + 4, 20), "a\r\nabcdefghij\r\n0\r\n\r\n") << r;
  size_t second = r.find("HTTP/1.1 200 ", body1);
  ASSERT_NE(second, std::string::npos) << "the connection carried the second request: " << r;
  EXPECT_NE(r.find("Content-Length: 20", second), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\n" + pattern(0, 20))) << r;

  r = raw_exchange(front.port, "GET /p/big?n=100 HTTP/1.0\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r.starts_with("HTTP/1.0 200 ")) << r.substr(0, 300);
  size_t body = r.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(r.substr(0, body).find("Transfer-Encoding"), std::string::npos) << r;
  EXPECT_EQ(r.substr(body + 4), pattern(0, 100));
}

TEST_F(ProxyTest, UpstreamDownGetsTheRoutesPage) {
  auto r = request("GET", front.base + "/down/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->body, "starting, retrying");
}

TEST_F(ProxyTest, WebSocketThroughTheProxy) {
  int status = 0;
  auto ws =
      WsClient::connect("ws://127.0.0.1:" + std::to_string(front.port) + "/p/ws", {}, 10s, &status);
  ASSERT_TRUE(ws) << ws.error().message << " status " << status;
  ASSERT_TRUE((*ws)->send("hello", false));
  auto m = (*ws)->read(10s);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->data, "hello");
  EXPECT_FALSE(m->binary);
  std::string big(300000, 'z');
  big[12345] = 'q';
  ASSERT_TRUE((*ws)->send(big, true));
  m = (*ws)->read(10s);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->binary);
  EXPECT_EQ(m->data, big);
  (*ws)->close();
}

// L5: a connection upgraded to a tunnel keeps its place under the
// connection caps until the tunnel ends.
TEST(ProxyCaps, ATunnelKeepsItsConnectionSlot) {
  Running up{upstream_router()};
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.max_connections_per_address = 1;
  auto front = std::make_unique<Server>(front_router(up.port), o);
  ASSERT_TRUE(front->listen());
  const uint16_t port = front->port();
  std::thread t([&] { front->run(1, false); });
  {
    auto ws = WsClient::connect("ws://127.0.0.1:" + std::to_string(port) + "/p/ws", {}, 10s);
    ASSERT_TRUE(ws) << ws.error().message;
    ASSERT_TRUE((*ws)->send("hi", false));
    ASSERT_TRUE((*ws)->read(10s));
    // The tunnel is open: a second connection from this address is refused.
    auto r = request("GET", "http://127.0.0.1:" + std::to_string(port) + "/p/empty", {}, {}, 5s);
    EXPECT_FALSE(r && r->status == 204)
        << "a second connection got through while the tunnel is open";
    (*ws)->close();
  }
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    auto r = request("GET", "http://127.0.0.1:" + std::to_string(port) + "/p/empty", {}, {}, 5s);
    back = r && r->status == 204;
    if (!back) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(back) << "the slot came back when the tunnel ended";
  front->stop();
  t.join();
}

// A listening socket on 127.0.0.1 at a free port (set in `port`).
int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  ::listen(fd, 16);
  return fd;
}

// A raw upstream: answers "ok" to each request on a connection, closing the
// connection after `close_after` answers (without saying so), and counts
// the connections it accepted.
class RawUpstream {
 public:
  // close_after: answers per connection before closing it; goodbye: sent
  // unasked just before the close (a server's "408" to an idle connection).
  explicit RawUpstream(int close_after, std::string goodbye = "")
      : close_after_(close_after), goodbye_(std::move(goodbye)) {
    fd_ = listen_loopback(port);
    thread_ = std::thread([this] { loop(); });
  }
  ~RawUpstream() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::atomic<int> accepted{0};
  std::atomic<int> closed{0};  // connections it closed
  uint16_t port = 0;

 private:
  void loop() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      ++accepted;
      std::string buf;
      char tmp[4096];
      int answered = 0;
      while (answered < close_after_) {
        auto end = buf.find("\r\n\r\n");
        if (end == std::string::npos) {
          ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
          if (n <= 0) break;
          buf.append(tmp, size_t(n));
          continue;
        }
        buf.erase(0, end + 4);
        std::string res = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        ::send(c, res.data(), res.size(), MSG_NOSIGNAL);
        ++answered;
      }
      if (!goodbye_.empty()) {
        // Like a server timing the idle connection out: some time after the
        // last answer (the proxy has pooled the connection by then).
        std::this_thread::sleep_for(200ms);
        ::send(c, goodbye_.data(), goodbye_.size(), MSG_NOSIGNAL);
      }
      ::close(c);
      ++closed;
    }
  }
  int fd_ = -1;
  int close_after_;
  std::string goodbye_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ProxyPool, ReusesUpstreamConnectionsAndReplacesOnesTheUpstreamClosed) {
  RawUpstream raw(3);
  // One io thread: idle upstream connections are pooled per io thread.
  Running front{front_router(raw.port), 1};
  for (int i = 0; i < 3; ++i) {
    auto r = request("GET", front.base + "/p/x");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(raw.accepted.load(), 1) << "three requests, one upstream connection";
  // The upstream closed that connection after its third answer: the next
  // request still works, on a new connection.
  for (int i = 0; i < 3; ++i) {
    auto r = request("GET", front.base + "/p/x");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(raw.accepted.load(), 2);
}

// A pooled connection the upstream timed out with a 408 before closing:
// the next request (no body) does not get that 408, it goes out again on a
// new connection.
TEST(ProxyPool, AnIdleConnectionsParting408IsNotTheNextAnswer) {
  RawUpstream raw(1,
                  "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  Running front{front_router(raw.port), 1};
  auto r = request("GET", front.base + "/p/x");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  // Wait until the upstream has sent its 408 and closed.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (raw.closed.load() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(raw.closed.load(), 1);
  for (int i = 0; i < 2; ++i) {
    r = request("GET", front.base + "/p/x");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, "ok");
  }
}

// An upstream that reads a request and then sends `answer` and stalls (the
// connection stays open until the test ends).
class StallingUpstream {
 public:
  // close: close the connection right after the answer instead of stalling.
  explicit StallingUpstream(std::string answer, bool close = false)
      : answer_(std::move(answer)), close_(close) {
    fd_ = listen_loopback(port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buf[4096];
        ::recv(c, buf, sizeof buf, 0);
        ::send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
        if (close_)
          ::close(c);
        else
          held_.push_back(c);
      }
    });
  }
  ~StallingUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : held_) ::close(c);
  }
  uint16_t port = 0;

 private:
  std::string answer_;
  bool close_ = false;
  int fd_ = -1;
  std::vector<int> held_;
  std::thread thread_;
};

Router stalling_front(uint16_t port) {
  Router r;
  RouteOptions o;
  o.is_public = true;
  r.add_proxy(
      "/s/{rest...}",
      [port](Request&) {
        ProxyPlan plan;
        ProxyTarget t;
        t.host = "127.0.0.1";
        t.port = port;
        t.target = "/";
        t.response_timeout = 1s;
        t.read_timeout = 1s;
        plan.upstream = std::move(t);
        return plan;
      },
      o);
  return r;
}

// Deadlines on the upstream side: no response header within the response
// timeout is a 502; a body that stops mid-way is cut after the read timeout
// (the client sees the close, not a hang).
TEST(ProxyTimeouts, AStalledUpstreamIsGivenUpOnAtItsDeadlines) {
  {
    StallingUpstream silent("");
    Running front{stalling_front(silent.port), 1};
    const auto t0 = std::chrono::steady_clock::now();
    auto r = request("GET", front.base + "/s/x", {}, {}, 30s);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 502) << r->body;
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  }
  {
    StallingUpstream half("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part");
    Running front{stalling_front(half.port), 1};
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(front.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{20, 0};  // far past the 1 s read timeout: a hang fails the test
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string get = "GET /s/x HTTP/1.1\r\nHost: x\r\n\r\n", got;
    ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), ssize_t(get.size()));
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
    EXPECT_EQ(n, 0) << "the proxy should close the cut response, not leave it hanging";
    ::close(fd);
    // The header and the 10 bytes went out, then the close.
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got;
    EXPECT_TRUE(got.ends_with("\r\n\r\nfirst part")) << got;
  }
}

// A body without a length ends with the upstream's close: the client gets
// all of it (re-framed as chunked), and the next request on the same client
// connection works (the closed upstream connection is not pooled).
TEST(ProxyTimeouts, ABodyEndedByTheUpstreamsCloseArrivesWhole) {
  std::string body(200000, 'x');
  for (size_t i = 0; i < body.size(); i += 1000) body[i] = char('a' + (i / 1000) % 26);
  StallingUpstream up(
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n" + body, true);
  Running front{stalling_front(up.port), 1};
  for (int i = 0; i < 2; ++i) {
    auto r = request("GET", front.base + "/s/x", {}, {}, 30s);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), body.size());
    EXPECT_TRUE(r->body == body) << "request " << i;
  }
}

// The relays' proxy (issue 21, M3): an upstream's refusal of a body reaches
// the client before the client sends it (Expect: 100-continue asked
// upstream), a status hook replaces an answer (the agent's 401 → 502), the
// target's hold lives exactly as long as the exchange, and a route's
// methods are enforced before its factory runs.
TEST(ProxyRelay, ExpectAskedUpstreamStatusHookHoldAndMethods) {
  Router ur;
  RouteOptions pub;
  pub.is_public = true;
  pub.body_limit = size_t(1) << 32;
  ur.add_streaming(
      "POST", "/refuse",
      [](Request&) -> Result<std::unique_ptr<BodySink>> {
        return fail(codes::kTooLarge, "no room for that");
      },
      pub);
  ur.add_streaming(
      "POST", "/count",
      [](Request&) -> Result<std::unique_ptr<BodySink>> { return std::make_unique<CountSink>(); },
      pub);
  ur.add_sync(
      "GET", "/401",
      [](Request&) { return Response::error(Error::make(codes::kUnauthorized, "bad token")); },
      pub);
  Running up{std::move(ur)};
  auto held = std::make_shared<int>(0);
  std::weak_ptr<int> watch = held;
  std::atomic<int> factory_calls{0};
  Router fr;
  RouteOptions o;
  o.is_public = true;
  o.body_limit = SIZE_MAX;
  fr.add_proxy("/x/{rest...}",
               [&factory_calls, held, port = up.port](Request& req) {
                 ++factory_calls;
                 ProxyTarget t;
                 t.host = "127.0.0.1";
                 t.port = port;
                 t.target = req.target.substr(2);
                 t.expect_continue = true;
                 t.replace_response = [](unsigned st) -> std::optional<Response> {
                   if (st != 401) return std::nullopt;
                   return Response::error(
                       Error::make(codes::kUpstream, "the agent refused the api's credentials"));
                 };
                 if (req.path == "/x/count") t.hold = held;
                 return ProxyPlan{std::move(t), {}};
               },
               o, {"GET", "POST"});
  Running front{std::move(fr)};
  held.reset();  // the route's copy is the only one left

  // A raw client: http::request does not speak Expect.
  auto connect = [&front] {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(front.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  };
  auto send_all = [](int fd, const std::string& d) {
    EXPECT_EQ(::send(fd, d.data(), d.size(), MSG_NOSIGNAL), ssize_t(d.size()));
  };
  auto read_until = [](int fd, std::string_view end) {
    std::string got;
    char buf[4096];
    ssize_t n;
    while (got.find(end) == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
      got.append(buf, size_t(n));
    return got;
  };

  // A refused body: the client's Expect is asked of the upstream, whose
  // 413 comes back instead of a 100, and not one body byte is sent.
  int fd = connect();
  send_all(fd,
           "POST /x/refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\nExpect: "
           "100-continue\r\n\r\n");
  std::string got = read_until(fd, "\r\n\r\n");
  ::close(fd);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 413")) << got;
  EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;

  // An accepted body with Expect: the upstream's 100 is passed on, the
  // body streamed; the hold is held meanwhile and let go after.
  fd = connect();
  send_all(fd,
           "POST /x/count HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\nExpect: "
           "100-continue\r\n\r\n");
  got = read_until(fd, "\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 100")) << got;
  EXPECT_EQ(watch.use_count(), 2);  // the route's copy and the exchange's
  send_all(fd, std::string(300000, 'a'));
  got = read_until(fd, "}");
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("bytes":300000)"), std::string::npos) << got;
  for (int i = 0; i < 200 && watch.use_count() != 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(watch.use_count(), 1);  // only the route's own copy

  // The upstream's 401 is replaced: the client sees 502 E_UPSTREAM.
  auto r = request("GET", front.base + "/x/401");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "E_UPSTREAM");
  EXPECT_TRUE(r->headers.get("X-Request-Id"));
  EXPECT_EQ(json::parse(r->body)["error"]["request_id"],
            std::string(*r->headers.get("X-Request-Id")))
      << "L7: the error names the request id";

  // Methods: others are 405 with Allow, before the factory.
  const int calls = factory_calls;
  r = request("DELETE", front.base + "/x/count");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers.get("Allow"), std::optional<std::string_view>("GET, POST"));
  EXPECT_EQ(factory_calls, calls);
}

}  // namespace
}  // namespace zlh::http

// From http_proxy_detail.hpp (not included here: it pulls Beast's templates
// into this translation unit).
namespace zlh::http::detail {
boost::asio::ip::address parse_address(std::string_view s, boost::system::error_code& ec);
}

TEST(ProxyAddress, TheHandParserAgreesWithAsio) {
  for (std::string in : {"127.0.0.1",  "10.0.0.255", "0.0.0.0",  "255.255.255.255", "192.168.1.20",
                         "256.1.1.1",  "01.2.3.4",   "1.2.3",    "1.2.3.4.5",       "1..2.3",
                         "1.2.3.4 ",   " 1.2.3.4",   "1.2.3.-4", "1.2.3.1000",      "",
                         ".",          "::1",        "fe80::1",  "a.b.c.d",         "1.2.3.4/8",
                         "0x7f.0.0.1", "00.0.0.0"}) {
    boost::system::error_code mine_ec, asio_ec;
    auto mine = zlh::http::detail::parse_address(in, mine_ec);
    auto theirs = boost::asio::ip::make_address(in, asio_ec);
    EXPECT_EQ(bool(mine_ec), bool(asio_ec)) << in;
    if (!mine_ec && !asio_ec) EXPECT_EQ(mine, theirs) << in;
  }
}
