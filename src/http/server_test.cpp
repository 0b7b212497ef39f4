// The server over real loopback sockets, in process.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "base/cidr.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "http/client.hpp"

namespace zlh::http {
namespace {

using namespace std::chrono_literals;

struct TestServer {
  std::unique_ptr<Server> server;
  std::thread thread;
  std::string base;
  uint16_t port = 0;
  explicit TestServer(Router r, ServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    server = std::make_unique<Server>(std::move(r), o);
    EXPECT_TRUE(server->listen());
    port = server->port();
    base = "http://127.0.0.1:" + std::to_string(port);
    thread = std::thread([this] { server->run(1, false); });
  }
  ~TestServer() {
    server->stop();
    thread.join();
  }
};

std::mutex g_held_mu;
std::vector<Responder> g_held;

Router basic_router() {
  Router r;
  r.set_guard([](Request& req) -> std::optional<Error> {
    if (req.headers.get("X-Key") == std::optional<std::string_view>("secret")) return std::nullopt;
    return Error::make(codes::kUnauthorized, "no");
  });
  RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/health",
      [](Request&) {
        return Response::json(200, {{"ok", true}});
      },
      pub);
  RouteOptions small = pub;
  small.body_limit = 100;
  r.add_sync(
      "POST", "/echo", [](Request& req) { return Response::text(200, req.body); }, small);
  r.add_sync(
      "GET", "/item/{id}", [](Request& req) { return Response::text(200, req.params["id"]); }, pub);
  r.add_sync("GET", "/private", [](Request&) { return Response::text(200, "private"); });
  RouteOptions later = pub;
  r.add(
      "GET", "/later",
      [](Request&, Responder res) {
        std::thread([res] {
          std::this_thread::sleep_for(50ms);
          res.send(Response::text(200, "later"));
        }).detach();
      },
      later);
  RouteOptions slow = pub;
  slow.deadline = 200ms;
  r.add(
      "GET", "/never",
      [](Request&, Responder res) {
        // Keeps the responder alive past the deadline; the test answers too late.
        std::lock_guard lk(g_held_mu);
        g_held.push_back(res);
      },
      slow);
  r.add(
      "GET", "/dropped", [](Request&, Responder) {}, pub);
  r.add_sync(
      "GET", "/throws", [](Request&) -> Response { throw std::runtime_error("boom"); }, pub);
  return r;
}

TEST(HttpServer, ServesJsonWithRequestId) {
  TestServer s(basic_router());
  Headers h;
  h.add("X-Request-Id", "abc-123");
  auto r = request("GET", s.base + "/health", h);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(*r->headers.get("X-Request-Id"), "abc-123");
  auto r2 = request("GET", s.base + "/health", {});
  EXPECT_EQ(r2->headers.get("X-Request-Id")->size(), 16u);  // generated
}

// The lxc driver's zlh-init opens the agent's port and hands the socket
// over: the server serves on it, and refuses a descriptor that is not a
// listening socket.
TEST(HttpServer, AdoptsAnInheritedListeningSocket) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ServerOptions o;
  o.listen = "0.0.0.0:18888";  // names the address only
  o.listen_fd = fd;
  Server server(basic_router(), o);
  ASSERT_TRUE(server.listen());
  EXPECT_EQ(server.port(), ntohs(a.sin_port));
  std::thread t([&] { server.run(1, false); });
  auto r = request("GET", "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/health", {});
  server.stop();
  t.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);

  int not_listening = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ServerOptions bad;
  bad.listen_fd = not_listening;
  Server refused(basic_router(), bad);
  auto l = refused.listen();
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, codes::kIo);
  ::close(not_listening);
}

TEST(HttpServer, PathParamsAreDecoded) {
  TestServer s(basic_router());
  auto r = request("GET", s.base + "/item/a%20b", {});
  EXPECT_EQ(r->body, "a b");
}

TEST(HttpServer, BodyLimitIs413) {
  TestServer s(basic_router());
  auto ok = request("POST", s.base + "/echo", {}, std::string(100, 'x'));
  EXPECT_EQ(ok->status, 200);
  auto r = request("POST", s.base + "/echo", {}, std::string(101, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("E_TOO_LARGE"), std::string::npos);
}

TEST(HttpServer, GuardRunsForPrivateAndUnknownRoutes) {
  TestServer s(basic_router());
  EXPECT_EQ(request("GET", s.base + "/private", {})->status, 401);
  EXPECT_EQ(request("GET", s.base + "/no-such-route", {})->status, 401);
  Headers h;
  h.add("X-Key", "secret");
  EXPECT_EQ(request("GET", s.base + "/private", h)->status, 200);
  auto nf = request("GET", s.base + "/no-such-route", h);
  EXPECT_EQ(nf->status, 404);
  EXPECT_NE(nf->body.find("E_NOT_FOUND"), std::string::npos);
  auto m = request("DELETE", s.base + "/health", h);
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(*m->headers.get("Allow"), "GET");
}

TEST(HttpServer, AsyncResponderDeadlineDroppedAndThrowing) {
  TestServer s(basic_router());
  EXPECT_EQ(request("GET", s.base + "/later", {})->body, "later");
  auto n = request("GET", s.base + "/never", {});
  EXPECT_EQ(n->status, 504);
  EXPECT_NE(n->body.find("E_TIMEOUT"), std::string::npos);
  {
    std::lock_guard lk(g_held_mu);
    for (auto& h : g_held) h.send(Response::text(200, "late"));  // ignored: already answered
    g_held.clear();
  }
  EXPECT_EQ(request("GET", s.base + "/dropped", {})->status, 500);
  auto t = request("GET", s.base + "/throws", {});
  EXPECT_EQ(t->status, 500);
  EXPECT_EQ(t->body.find("boom"), std::string::npos);  // internals are not leaked
  // The server keeps serving after all of that.
  EXPECT_EQ(request("GET", s.base + "/health", {})->status, 200);
}

TEST(HttpServer, GracefulStopFinishesInFlightRequest) {
  Router r;
  std::promise<void> entered;
  r.add("GET", "/slow", [&entered](Request&, Responder res) {
    entered.set_value();
    std::thread([res] {
      std::this_thread::sleep_for(300ms);
      res.send(Response::text(200, "finished"));
    }).detach();
  });
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  Server server(std::move(r), o);
  ASSERT_TRUE(server.listen());
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  std::thread runner([&] { server.run(1, false); });
  auto fut = std::async(std::launch::async, [&] { return request("GET", base + "/slow", {}); });
  entered.get_future().wait();
  server.stop();
  auto res = fut.get();
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "finished");
  runner.join();  // run() returned by itself
  auto after = request("GET", base + "/slow", {}, {}, 2s);
  EXPECT_FALSE(after);  // no longer accepting
}

// A route marked blocking runs on the handler pool: while its handler waits,
// the only io thread still answers other requests. (Run inline, the handler
// would hold the io thread and /fast could not be answered until it gave up.)
TEST(HttpServer, BlockingRoutesRunOnTheHandlerPool) {
  std::promise<void> fast_answered, slow_entered;
  auto answered = fast_answered.get_future().share();
  Router r;
  RouteOptions blocking;
  blocking.blocking = true;
  r.add_sync(
      "GET", "/slow",
      [answered, &slow_entered](Request&) {
        slow_entered.set_value();
        bool ok = answered.wait_for(20s) == std::future_status::ready;
        return Response::text(200, ok ? "fast was answered meanwhile" : "fast waited");
      },
      blocking);
  r.add_sync("GET", "/fast", [](Request&) { return Response::text(200, "fast"); });
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.handler_threads = 2;
  Server server(std::move(r), o);
  ASSERT_TRUE(server.listen());
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  std::thread runner([&] { server.run(1, false); });
  auto slow =
      std::async(std::launch::async, [&] { return request("GET", base + "/slow", {}, {}, 30s); });
  slow_entered.get_future().wait();
  auto fast = request("GET", base + "/fast", {}, {}, 30s);
  ASSERT_TRUE(fast) << fast.error().message;
  EXPECT_EQ(fast->body, "fast");
  fast_answered.set_value();
  auto s = slow.get();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->body, "fast was answered meanwhile");
  server.stop();
  runner.join();
}

// One access-log line per request, with user_id only when the handler
// named the user.
TEST(HttpServer, AccessLogLinesCarryTheRequestAndTheUserWhenKnown) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  log::set_fd(fds[1]);
  {
    Router r;
    RouteOptions pub;
    pub.is_public = true;
    r.add_sync(
        "GET", "/anon", [](Request&) { return Response::text(200, "a"); }, pub);
    r.add_sync(
        "GET", "/who/{id}",
        [](Request& req) {
          req.log_user = "42";
          return Response::text(200, "w");
        },
        pub);
    TestServer s(std::move(r));
    ASSERT_TRUE(request("GET", s.base + "/anon?secret=x"));
    ASSERT_TRUE(request("GET", s.base + "/who/7"));
  }  // the server's io threads flush their batches when they end
  log::set_fd(2);
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  ::close(fds[0]);
  ::close(fds[1]);
  std::vector<nlohmann::json> reqs;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    auto j = nlohmann::json::parse(text.substr(at, end - at));
    if (j["msg"] == "request") reqs.push_back(j);
    at = end == std::string::npos ? text.size() : end + 1;
  }
  ASSERT_EQ(reqs.size(), 2u) << text;
  EXPECT_EQ(reqs[0]["route"], "/anon");
  EXPECT_EQ(reqs[0]["path"], "/anon");  // no query string
  EXPECT_EQ(reqs[0]["status"], 200);
  EXPECT_FALSE(reqs[0].contains("user_id")) << reqs[0];
  EXPECT_EQ(reqs[1]["route"], "/who/{id}");
  EXPECT_EQ(reqs[1]["user_id"], "42");
  for (const auto& j : reqs) {
    EXPECT_EQ(j["method"], "GET");
    EXPECT_TRUE(j["request_id"].is_string() && j["duration_ms"].is_number() &&
                j["bytes"].is_number())
        << j;
  }
}

int dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{20, 0};  // a hung read fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Reads until the peer closes (true) or the 20 s receive timeout (false);
// what came before the close is appended to `got`.
bool read_to_close(int fd, std::string* got = nullptr) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    if (got) got->append(buf, size_t(n));
  }
}

// The request counters go through a per-thread cache of 16 series sets:
// more combinations than that (evictions), and a second registry made
// where the first one was, must still count exactly.
TEST(HttpServer, RequestCountersAreExactPerRouteMethodAndStatus) {
  auto count_of = [](const std::string& text, const std::string& series) -> double {
    auto at = text.find(series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 1));
  };
  // 20 statuses the server labels as themselves (more than the per-thread
  // cache's 16 entries).
  static constexpr int kCodes[] = {200, 201, 202, 206, 301, 302, 303, 307, 308, 400,
                                   401, 403, 404, 405, 409, 410, 413, 415, 429, 500};
  for (int round = 0; round < 2; ++round) {
    auto reg = std::make_unique<metrics::Registry>();
    Router r;
    RouteOptions pub;
    pub.is_public = true;
    r.add_sync(
        "GET", "/s/{code}",
        [](Request& req) { return Response::text(std::stoi(req.params["code"]), "x"); }, pub);
    r.add_sync(
        "POST", "/s/{code}", [](Request&) { return Response::text(201, "p"); }, pub);
    ServerOptions o;
    o.metrics = reg.get();
    int total = 0;
    {
      TestServer s(std::move(r), o);
      for (int i = 0; i < 3; ++i)
        for (int code : kCodes)
          for (int k = 0; k <= (code + round) % 3; ++k) {
            ASSERT_TRUE(request("GET", s.base + "/s/" + std::to_string(code)));
            ++total;
          }
      ASSERT_TRUE(request("POST", s.base + "/s/1", {}, "b"));
      ++total;
    }
    const std::string text = reg->render();
    for (int code : kCodes)
      EXPECT_EQ(
          count_of(text, "zlh_http_requests_total{method=\"GET\",route=\"/s/{code}\",code=\"" +
                             std::to_string(code) + "\"}"),
          3 * ((code + round) % 3 + 1))
          << code << "\n"
          << text;
    EXPECT_EQ(
        count_of(text, "zlh_http_requests_total{method=\"POST\",route=\"/s/{code}\",code=\"201\"}"),
        1);
    EXPECT_EQ(count_of(text, "zlh_http_request_duration_seconds_count{route=\"/s/{code}\"}"),
              total);
    EXPECT_GT(count_of(text, "zlh_http_request_duration_seconds_sum{route=\"/s/{code}\"}"), 0);
  }
}

TEST(HttpServer, IdleAndHalfSentHeadersAreClosedAtTheDeadlineButBusyConnectionsStay) {
  ServerOptions o;
  o.idle_timeout = 1s;
  TestServer s(basic_router(), o);
  const auto t0 = std::chrono::steady_clock::now();
  int silent = dial(s.port);
  int partial = dial(s.port);
  int busy = dial(s.port);
  ASSERT_GE(silent, 0);
  ASSERT_GE(partial, 0);
  ASSERT_GE(busy, 0);
  std::string half = "GET /health HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(::send(partial, half.data(), half.size(), MSG_NOSIGNAL), ssize_t(half.size()));
  // The busy connection asks every 300 ms for 2.4 s, past the 1 s idle
  // limit several times: each request starts its own deadline.
  const std::string get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(::send(busy, get.data(), get.size(), MSG_NOSIGNAL), ssize_t(get.size()))
        << "request " << i;
    std::string res;
    char buf[4096];
    while (res.find("\r\n\r\n") == std::string::npos || res.find("\"ok\"") == std::string::npos) {
      ssize_t n = ::recv(busy, buf, sizeof buf, 0);
      ASSERT_GT(n, 0) << "request " << i << " got no answer";
      res.append(buf, size_t(n));
    }
    EXPECT_TRUE(res.starts_with("HTTP/1.1 200")) << res;
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_TRUE(read_to_close(silent));
  EXPECT_TRUE(read_to_close(partial));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);  // not before its time
  // Once it stops asking, the busy one is closed too.
  EXPECT_TRUE(read_to_close(busy));
  ::close(silent);
  ::close(partial);
  ::close(busy);
}

class EchoHandler : public WsHandler {
 public:
  void on_open(std::shared_ptr<WsConn> c) override { conn_ = c; }
  void on_message(std::string data, bool binary) override {
    if (binary)
      conn_->send_binary("echo:" + data);
    else
      conn_->send_text("echo:" + data);
  }
  void on_close() override { conn_.reset(); }

 private:
  std::shared_ptr<WsConn> conn_;
};

// L5: a WebSocket client that goes silent (no frame, no pong) gets a ping
// at half the idle timeout and is closed at the timeout, freeing its slot.
TEST(WebSocket, ASilentClientIsPingedThenClosed) {
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  r.add_ws(
      "/ws",
      [](Request&) -> Result<std::shared_ptr<WsHandler>> {
        return std::make_shared<EchoHandler>();
      },
      pub);
  ServerOptions o;
  o.ws_idle_timeout = 1s;
  TestServer s(std::move(r), o);
  int fd = dial(s.port);
  ASSERT_GE(fd, 0);
  const std::string up =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  ASSERT_EQ(::send(fd, up.data(), up.size(), MSG_NOSIGNAL), ssize_t(up.size()));
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
    got.append(buf, size_t(n));  // never answers the ping
  ::close(fd);
  EXPECT_EQ(n, 0) << "closed by the server, not by the 20 s test timeout";
  const size_t body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 101")) << got;
  EXPECT_NE(got.find('\x89', body), std::string::npos) << "a ping frame came first";
}

TEST(WebSocket, EchoBinaryAndTextAndRefusal) {
  Router r;
  r.add_ws("/ws", [](Request& req) -> Result<std::shared_ptr<WsHandler>> {
    if (req.query_param("deny")) return fail(codes::kNotFound, "no such console");
    return std::make_shared<EchoHandler>();
  });
  TestServer s(std::move(r));
  std::string url = "ws://127.0.0.1:" + std::to_string(s.port) + "/ws";
  auto c = WsClient::connect(url);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE((*c)->send(std::string("\x00\x01", 2), true));
  auto m = (*c)->read(5s);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->binary);
  EXPECT_EQ(m->data, std::string("echo:\x00\x01", 7));
  ASSERT_TRUE((*c)->send(R"({"type":"resize"})", false));
  m = (*c)->read(5s);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->binary);
  EXPECT_EQ(m->data, R"(echo:{"type":"resize"})");
  (*c)->close();

  int status = 0;
  auto denied = WsClient::connect(url + "?deny=1", {}, 5s, &status);
  EXPECT_FALSE(denied);
  EXPECT_EQ(status, 404);
}

class FloodHandler : public WsHandler {
 public:
  std::shared_ptr<WsConn> conn;
  void on_open(std::shared_ptr<WsConn> c) override {
    conn = c;
    for (int i = 0; i < 64; ++i) {
      std::string frame(256 * 1024, char('a' + i % 26));
      frame.replace(0, 4, std::string(reinterpret_cast<char*>(&i), 4));
      c->send_binary(std::move(frame));
    }
    c->send_text("done");
  }
  void on_message(std::string, bool) override {}
  void on_close() override { conn.reset(); }
};

TEST(WebSocket, SlowClientDropsOldestBinaryNeverText) {
  Router r;
  auto handler = std::make_shared<FloodHandler>();
  RouteOptions o;
  o.ws_max_queue_bytes = 1 << 20;
  r.add_ws(
      "/flood", [handler](Request&) -> Result<std::shared_ptr<WsHandler>> { return handler; }, o);
  TestServer s(std::move(r));
  auto c = WsClient::connect("ws://127.0.0.1:" + std::to_string(s.port) + "/flood");
  ASSERT_TRUE(c);
  std::vector<int> seen;
  bool done = false;
  while (!done) {
    auto m = (*c)->read(10s);
    ASSERT_TRUE(m) << m.error().message;
    if (!m->binary) {
      EXPECT_EQ(m->data, "done");
      done = true;
    } else {
      int idx = 0;
      std::memcpy(&idx, m->data.data(), 4);
      seen.push_back(idx);
    }
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_LT(seen.size(), 64u);  // some were dropped...
  EXPECT_EQ(seen.back(), 63);   // ...the oldest, not the newest
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
  (*c)->close();
}

// ---- Streaming bodies ----

struct SinkLog {
  std::mutex mu;
  std::vector<size_t> pieces;
  std::string data;
  bool finished = false;
  bool destroyed = false;
};

class RecordingSink : public BodySink {
 public:
  RecordingSink(std::shared_ptr<SinkLog> log, size_t refuse_after)
      : log_(std::move(log)), refuse_after_(refuse_after) {}
  ~RecordingSink() override {
    std::lock_guard lk(log_->mu);
    log_->destroyed = true;
  }
  Result<void> write(std::string_view chunk) override {
    std::lock_guard lk(log_->mu);
    log_->pieces.push_back(chunk.size());
    log_->data.append(chunk);
    if (log_->data.size() > refuse_after_) return fail(codes::kTooLarge, "file over the limit");
    return {};
  }
  void finish(Request&, Responder res) override {
    std::lock_guard lk(log_->mu);
    log_->finished = true;
    res.send(Response::text(200, std::to_string(log_->data.size())));
  }

 private:
  std::shared_ptr<SinkLog> log_;
  size_t refuse_after_;
};

class CountingSource : public BodySource {
 public:
  explicit CountingSource(uint64_t total) : left_(total) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t n = size_t(std::min<uint64_t>(cap, left_));
    for (size_t i = 0; i < n; ++i) buf[i] = char('a' + (pos_++ % 26));
    left_ -= n;
    return n;
  }

 private:
  uint64_t left_;
  uint64_t pos_ = 0;
};

Router streaming_router(std::shared_ptr<SinkLog> log) {
  Router r;
  RouteOptions o;
  o.is_public = true;
  o.body_limit = 64ull << 20;
  r.add_streaming(
      "PUT", "/sink",
      [log](Request& req) -> Result<std::unique_ptr<BodySink>> {
        if (req.query_param("refuse")) return fail(codes::kBadPath, "refused before the body");
        return std::make_unique<RecordingSink>(log, 4u << 20);
      },
      o);
  r.add_sync(
      "GET", "/source",
      [](Request& req) {
        Response res;
        res.source = std::make_shared<CountingSource>(3u << 20);
        if (!req.query_param("chunked")) res.source_length = 3u << 20;
        return res;
      },
      o);
  return r;
}

std::string expected_letters(size_t n) {
  std::string s(n, 0);
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + i % 26);
  return s;
}

// Sends `head`, then `body` bytes (as they are, or as 64 KiB chunks) the way
// a simple client does: the whole body before reading. Returns what the
// server answered; fails the test if sending failed (the server closed and
// reset the connection instead of reading and dropping the rest).
std::string send_whole_body_then_read(uint16_t port, const std::string& head, size_t body,
                                      bool chunked) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto send_all = [&](std::string_view d) {
    while (!d.empty()) {
      ssize_t n = ::send(fd, d.data(), d.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      d.remove_prefix(size_t(n));
    }
    return true;
  };
  EXPECT_TRUE(send_all(head));
  const std::string piece(64 * 1024, 'z');
  const std::string chunk_line = "10000\r\n";  // 64 KiB
  size_t sent = 0;
  bool ok = true;
  while (ok && sent < body) {
    const size_t n = std::min(piece.size(), body - sent);
    if (chunked)
      ok = send_all(chunk_line) && send_all(std::string_view(piece).substr(0, n)) &&
           send_all("\r\n");
    else
      ok = send_all(std::string_view(piece).substr(0, n));
    if (ok) sent += n;
  }
  if (ok && chunked) ok = send_all("0\r\n\r\n");
  EXPECT_TRUE(ok) << "sending the body failed after " << sent << " bytes: " << std::strerror(errno);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, size_t(n));
  ::close(fd);
  return got;
}

// A body the server refuses is read and dropped after the answer (up to a
// bound), so a client that writes its whole body before reading gets the
// answer, not a reset. 16 MiB: more than the loopback socket buffers hold.
// Three ways to refuse: a Content-Length over the route's limit (before any
// body is read), a chunked body that passes the limit mid-way, and a
// streaming route whose sink factory says no.
TEST(HttpServer, ARefusedBodyIsDrainedSoTheClientReadsTheAnswer) {
  const size_t body = size_t(16) << 20;
  {
    TestServer s(basic_router());
    std::string got = send_whole_body_then_read(
        s.port,
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Key: secret\r\nContent-Length: " +
            std::to_string(body) + "\r\n\r\n",
        body, false);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 413")) << got.substr(0, 200);
    EXPECT_NE(got.find("E_TOO_LARGE"), std::string::npos);
    got = send_whole_body_then_read(
        s.port,
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Key: secret\r\nTransfer-Encoding: chunked\r\n\r\n",
        body, true);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 413")) << got.substr(0, 200);
  }
  auto log = std::make_shared<SinkLog>();
  TestServer s(streaming_router(log));
  std::string got = send_whole_body_then_read(
      s.port,
      "PUT /sink?refuse=1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body) +
          "\r\n\r\n",
      body, false);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400")) << got.substr(0, 200);
  EXPECT_NE(got.find("E_BADPATH"), std::string::npos);
}

TEST(HttpStreaming, SinkGetsTheBodyInPiecesThenFinishes) {
  auto log = std::make_shared<SinkLog>();
  TestServer s(streaming_router(log));
  std::string body = expected_letters(3u << 20);
  auto r = request("PUT", s.base + "/sink", {}, body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::to_string(body.size()));
  std::lock_guard lk(log->mu);
  EXPECT_TRUE(log->finished);
  EXPECT_EQ(log->data, body);
  EXPECT_GT(log->pieces.size(), 1u);  // never one whole-body buffer
  for (size_t p : log->pieces) EXPECT_LE(p, 256u * 1024);
}

TEST(HttpStreaming, FactoryRefusalNeverReadsTheBody) {
  auto log = std::make_shared<SinkLog>();
  TestServer s(streaming_router(log));
  auto r = request("PUT", s.base + "/sink?refuse=1", {}, std::string(1000, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("E_BADPATH"), std::string::npos);
  std::lock_guard lk(log->mu);
  EXPECT_TRUE(log->pieces.empty());
}

TEST(HttpStreaming, SinkErrorIsAnsweredAndTheSinkUndone) {
  auto log = std::make_shared<SinkLog>();
  TestServer s(streaming_router(log));
  auto r = request("PUT", s.base + "/sink", {}, std::string(8u << 20, 'x'));
  ASSERT_TRUE(r) << r.error().message;  // the answer arrives although the body was not read
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("E_TOO_LARGE"), std::string::npos);
  std::lock_guard lk(log->mu);
  EXPECT_FALSE(log->finished);
  EXPECT_TRUE(log->destroyed);
}

TEST(HttpStreaming, CutConnectionDestroysTheSinkWithoutFinish) {
  auto log = std::make_shared<SinkLog>();
  TestServer s(streaming_router(log));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(s.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string head = "PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
  head += std::string(300000, 'y');
  ASSERT_EQ(::write(fd, head.data(), head.size()), ssize_t(head.size()));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {  // wait until the server has seen part of the body
    {
      std::lock_guard lk(log->mu);
      if (log->data.size() >= 300000) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms);
  }
  ::close(fd);
  for (;;) {
    {
      std::lock_guard lk(log->mu);
      if (log->destroyed) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lk(log->mu);
  EXPECT_FALSE(log->finished);
}

TEST(HttpStreaming, SourceWithLengthAndChunked) {
  auto log = std::make_shared<SinkLog>();
  TestServer s(streaming_router(log));
  for (std::string q : {"", "?chunked=1"}) {
    auto r = request("GET", s.base + "/source" + q, {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, expected_letters(3u << 20)) << q;
    if (q.empty())
      EXPECT_EQ(r->headers.get("Content-Length"), std::optional<std::string_view>("3145728"));
    else
      EXPECT_FALSE(r->headers.get("Content-Length"));
  }
  auto h = request("HEAD", s.base + "/source", {});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->headers.get("Content-Length"), std::optional<std::string_view>("3145728"));
}

}  // namespace
}  // namespace zlh::http

namespace zlh::http {
namespace {

// M1: labels come from closed sets: a made-up method is OTHER and an odd
// status its class, so clients cannot mint series.
TEST(HttpServerMetrics, MethodAndStatusLabelsAreClosedSets) {
  auto reg = std::make_unique<metrics::Registry>();
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/s/{code}",
      [](Request& req) { return Response::text(std::stoi(req.params["code"]), "x"); }, pub);
  ServerOptions o;
  o.metrics = reg.get();
  {
    TestServer s(std::move(r), o);
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(request("M" + std::to_string(i), s.base + "/nope-" + std::to_string(i)));
    ASSERT_TRUE(request("GET", s.base + "/s/218"));
    ASSERT_TRUE(request("GET", s.base + "/s/299"));
  }
  const std::string text = reg->render();
  EXPECT_EQ(text.find("method=\"M1"), std::string::npos) << text;
  EXPECT_EQ(text.find("nope-"), std::string::npos) << text;
  EXPECT_NE(text.find("zlh_http_requests_total{method=\"OTHER\",route=\"unmatched\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("zlh_http_requests_total{method=\"GET\",route=\"/s/{code}\",code=\"2xx\"} 2"),
            std::string::npos)
      << text;
}

// L1: a route that takes JSON refuses other declared types before the body.
TEST(HttpServerJsonBody, OtherContentTypesAre415) {
  Router r;
  RouteOptions o;
  o.is_public = true;
  o.json_body = true;
  r.add_sync(
      "POST", "/j", [](Request& req) { return Response::text(200, req.body); }, o);
  TestServer s(std::move(r), {});
  Headers json;
  json.add("Content-Type", "application/json; charset=utf-8");
  EXPECT_EQ(request("POST", s.base + "/j", json, "{}")->status, 200);
  for (std::string t :
       {"text/plain", "application/x-www-form-urlencoded", "application/json-seq"}) {
    Headers h;
    h.add("Content-Type", t);
    auto res = request("POST", s.base + "/j", h, "{}");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 415) << t;
  }
  EXPECT_EQ(request("POST", s.base + "/j", {}, "{}")->status, 415) << "no type at all";
  EXPECT_EQ(request("POST", s.base + "/j", {}, "")->status, 200) << "no body: nothing to declare";
}

}  // namespace
}  // namespace zlh::http

namespace zlh::http {
namespace {

// A plain TCP connection to 127.0.0.1:port; -1 on failure.
int tcp_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// One keep-alive request on `fd`; true when a 200 came back.
bool served(int fd) {
  const std::string req = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) return false;
  char buf[512];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 12 && std::string_view(buf, size_t(n)).starts_with("HTTP/1.1 200");
}

// L5: when descriptors run out, accept backs off (50 ms) instead of
// spinning, and the waiting connection is served once they are back.
TEST(HttpServerCaps, AcceptBacksOffWhenDescriptorsRunOut) {
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/x", [](Request&) { return Response::text(200, "ok"); }, pub);
  metrics::Registry reg;
  ServerOptions o;
  o.metrics = &reg;
  TestServer s(std::move(r), o);
  auto accept_errors = [&reg] {
    const std::string text = reg.render();
    const std::string key = "zlh_http_accept_errors_total ";
    auto at = text.find(key);
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + key.size()));
  };
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(c, 0);
  timeval tv{10, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // Fill this process's descriptor table: a soft limit just above the
  // highest open descriptor, then dup() into every free number below it.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  int highest = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    highest = std::max(highest, std::atoi(e.path().filename().c_str()));
  rlimit low = old;
  low.rlim_cur = rlim_t(highest + 1);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(s.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int connected =
      ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);  // queued by the kernel
  bool failing = false;
  for (int i = 0; i < 500 && !failing; ++i) {
    failing = accept_errors() > 0;
    if (!failing) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(300));  // a spinning loop would fail thousands of times
  const double errors = accept_errors();
  for (int fd : filler) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_EQ(connected, 0);
  EXPECT_TRUE(failing) << "accept never hit the descriptor limit";
  EXPECT_LE(errors, 40) << "accept retried without a pause";
  EXPECT_TRUE(served(c)) << "the queued connection is served once descriptors are back";
  ::close(c);
}

// L5: connections over the per-address cap are closed at accept; a closed
// one gives its place back.
TEST(HttpServerCaps, ConnectionsOverThePerAddressCapAreClosed) {
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  r.add_sync(
      "GET", "/x", [](Request&) { return Response::text(200, "ok"); }, pub);
  ServerOptions o;
  o.max_connections_per_address = 2;
  TestServer s(std::move(r), o);
  int a = tcp_connect(s.port), b = tcp_connect(s.port);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_TRUE(served(a));
  EXPECT_TRUE(served(b));
  int c = tcp_connect(s.port);
  ASSERT_GE(c, 0);
  EXPECT_FALSE(served(c)) << "a third connection from one address";
  ::close(c);
  ::close(a);
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    int d = tcp_connect(s.port);
    back = d >= 0 && served(d);
    if (d >= 0) ::close(d);
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(back) << "the closed connection's place came back";
  EXPECT_TRUE(served(b));
  ::close(b);
}

}  // namespace
}  // namespace zlh::http

namespace zlh::http {
namespace {

// --trusted-proxies: X-Forwarded-For names the client only when the peer is
// a trusted proxy; otherwise it is the client's own claim.
TEST(HttpServerTrustedProxies, ForwardedForCountsOnlyFromTrustedPeers) {
  for (bool trust : {false, true}) {
    Router r;
    RouteOptions pub;
    pub.is_public = true;
    r.add_sync(
        "GET", "/who", [](Request& req) { return Response::text(200, req.remote_addr); }, pub);
    auto set = *net::CidrSet::parse(trust ? "127.0.0.0/8" : "10.0.0.0/8");
    ServerOptions o;
    o.trusted_proxies = &set;
    TestServer s(std::move(r), o);
    Headers h;
    h.add("X-Forwarded-For", "198.51.100.7");
    auto res = request("GET", s.base + "/who", h, {});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body, trust ? "198.51.100.7" : "127.0.0.1");
  }
}

}  // namespace
}  // namespace zlh::http
