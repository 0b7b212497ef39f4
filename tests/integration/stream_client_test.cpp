// The streamed client against the real server, in process.
#include "stream_client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "http/server.hpp"

namespace zlh::http {
namespace {

using namespace std::chrono_literals;

char pattern(uint64_t i) { return char('a' + (i * 7 + i / 4096) % 26); }

struct TestServer {
  std::unique_ptr<Server> server;
  std::thread thread;
  std::string base;
  explicit TestServer(Router r) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    server = std::make_unique<Server>(std::move(r), o);
    EXPECT_TRUE(server->listen());
    base = "http://127.0.0.1:" + std::to_string(server->port());
    thread = std::thread([this] { server->run(1, false); });
  }
  ~TestServer() {
    server->stop();
    thread.join();
  }
};

// Counts the body and checks it against pattern(); refuses from `limit` bytes on.
class CountingSink : public BodySink {
 public:
  explicit CountingSink(uint64_t limit) : limit_(limit) {}
  Result<void> write(std::string_view chunk) override {
    for (char c : chunk)
      if (c != pattern(n_++)) ok_ = false;
    if (n_ > limit_) return fail(codes::kTooLarge, "over the limit");
    return {};
  }
  void finish(Request& req, Responder res) override {
    res.send(Response::json(
        200,
        {{"bytes", n_}, {"ok", ok_}, {"te", req.headers.get("Transfer-Encoding").value_or("")}}));
  }

 private:
  uint64_t limit_, n_ = 0;
  bool ok_ = true;
};

class PatternSource : public BodySource {
 public:
  explicit PatternSource(uint64_t n) : left_(n) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t n = size_t(std::min<uint64_t>(cap, left_));
    for (size_t i = 0; i < n; ++i) buf[i] = pattern(pos_ + i);
    pos_ += n;
    left_ -= n;
    return n;
  }

 private:
  uint64_t pos_ = 0, left_;
};

Router router() {
  Router r;
  RouteOptions big;
  big.is_public = true;
  big.body_limit = size_t(1) << 40;
  r.add_streaming(
      "PUT", "/sink",
      [](Request& req) -> Result<std::unique_ptr<BodySink>> {
        if (req.query_param("refuse")) return fail(codes::kBadPath, "refused before the body");
        uint64_t limit = std::stoull(req.query_param("limit").value_or("1000000000000"));
        return std::make_unique<CountingSink>(limit);
      },
      big);
  r.add_sync(
      "GET", "/pattern",
      [](Request& req) {
        uint64_t n = std::stoull(req.query_param("n").value_or("0"));
        Response res;
        res.headers.set("Content-Type", "application/octet-stream");
        res.source = std::make_shared<PatternSource>(n);
        if (!req.query_param("chunked")) res.source_length = n;
        return res;
      },
      big);
  return r;
}

Result<std::unique_ptr<StreamingRequest>> put(const TestServer& s, const std::string& target,
                                              StreamingRequest::Options o) {
  Headers h;
  h.add("Content-Type", "application/octet-stream");
  return StreamingRequest::open("PUT", s.base + target, h, o);
}

Result<void> send_pattern(StreamingRequest& r, uint64_t n, size_t piece) {
  std::string buf;
  for (uint64_t off = 0; off < n; off += piece) {
    size_t len = size_t(std::min<uint64_t>(piece, n - off));
    buf.resize(len);
    for (size_t i = 0; i < len; ++i) buf[i] = pattern(off + i);
    if (auto w = r.write(buf); !w) return w;
  }
  return {};
}

TEST(StreamingRequest, StreamsABodyWithALengthAfter100Continue) {
  TestServer s(router());
  StreamingRequest::Options o;
  o.content_length = 10 << 20;
  o.expect_continue = true;
  auto r = put(s, "/sink", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE((*r)->answered());
  ASSERT_TRUE(send_pattern(**r, 10 << 20, 65536));
  ASSERT_TRUE((*r)->finish());
  auto head = (*r)->read_head(5s);
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->status, 200);
  auto body = (*r)->read_all(4096);
  ASSERT_TRUE(body);
  auto j = nlohmann::json::parse(*body);
  EXPECT_EQ(j["bytes"], 10 << 20);
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE((*r)->body_done());
}

TEST(StreamingRequest, StreamsAChunkedBody) {
  TestServer s(router());
  StreamingRequest::Options o;
  o.chunked = true;
  auto r = put(s, "/sink", o);
  ASSERT_TRUE(r);
  ASSERT_TRUE(send_pattern(**r, 3'000'001, 100'000));
  ASSERT_TRUE((*r)->finish());
  auto head = (*r)->read_head(5s);
  ASSERT_TRUE(head);
  auto j = nlohmann::json::parse(*(*r)->read_all(4096));
  EXPECT_EQ(j["bytes"], 3'000'001);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["te"], "chunked");
}

TEST(StreamingRequest, ARefusalBeforeTheBodyIsKnownBeforeSendingIt) {
  TestServer s(router());
  StreamingRequest::Options o;
  o.content_length = uint64_t(1) << 33;  // 8 GiB that are never sent
  o.expect_continue = true;
  auto r = put(s, "/sink?refuse=1", o);
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)->answered());
  auto head = (*r)->read_head(5s);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 400);
  auto body = (*r)->read_all(4096);
  ASSERT_TRUE(body);
  EXPECT_NE(body->find("E_BADPATH"), std::string::npos) << *body;
}

TEST(StreamingRequest, ARefusalMidBodyIsStillReadable) {
  TestServer s(router());
  StreamingRequest::Options o;
  o.content_length = 200 << 20;
  auto r = put(s, "/sink?limit=1000000", o);
  ASSERT_TRUE(r);
  // The server answers 413 and drains a bounded amount before it closes:
  // the writes fail, or the answer shows up, well before 200 MiB.
  std::string buf(65536, 'x');
  uint64_t sent = 0;
  while (sent < (200u << 20) && !(*r)->answered()) {
    if (!(*r)->write(buf)) break;
    sent += buf.size();
  }
  EXPECT_LT(sent, 200u << 20);
  auto head = (*r)->read_head(5s);
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->status, 413);
  EXPECT_NE((*r)->read_all(4096).value_or("").find("E_TOO_LARGE"), std::string::npos);
}

TEST(StreamingRequest, ReadsLargeAnswersPieceByPiece) {
  TestServer s(router());
  for (bool chunked : {false, true}) {
    const uint64_t n = 20'000'003;
    auto r = StreamingRequest::open(
        "GET", s.base + "/pattern?n=" + std::to_string(n) + (chunked ? "&chunked=1" : ""), {}, {});
    ASSERT_TRUE(r);
    auto head = (*r)->read_head(5s);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->content_length, chunked ? std::nullopt : std::optional<uint64_t>(n));
    EXPECT_EQ(head->headers.get("Content-Type"), "application/octet-stream");
    std::vector<char> buf(100'000);
    uint64_t got = 0;
    bool ok = true;
    size_t max_piece = 0;
    for (;;) {
      auto k = (*r)->read(buf.data(), buf.size());
      ASSERT_TRUE(k) << k.error().message;
      if (*k == 0) break;
      max_piece = std::max(max_piece, *k);
      for (size_t i = 0; i < *k; ++i)
        if (buf[i] != pattern(got + i)) ok = false;
      got += *k;
    }
    EXPECT_EQ(got, n) << chunked;
    EXPECT_TRUE(ok);
    EXPECT_LE(max_piece, buf.size());
    EXPECT_TRUE((*r)->body_done());
    EXPECT_EQ(*(*r)->read(buf.data(), buf.size()), 0u);  // repeatable end
  }
}

TEST(StreamingRequest, HeadHasALengthButNoBody) {
  TestServer s(router());
  auto r = StreamingRequest::open("HEAD", s.base + "/pattern?n=12345", {}, {});
  ASSERT_TRUE(r);
  auto head = (*r)->read_head(5s);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->content_length, 12345u);
  char c;
  EXPECT_EQ(*(*r)->read(&c, 1), 0u);
}

TEST(StreamingRequest, MisuseAndFailures) {
  TestServer s(router());
  StreamingRequest::Options o;
  o.content_length = 4;
  auto r = put(s, "/sink", o);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->write("12345").error().code, codes::kInvalid);
  ASSERT_TRUE((*r)->write("ab"));
  EXPECT_EQ((*r)->finish().error().code, codes::kInvalid);  // 2 of 4 bytes
  char c;
  EXPECT_EQ((*r)->read(&c, 1).error().code, codes::kInvalid);  // before read_head

  EXPECT_EQ(StreamingRequest::open("GET", "ftp://x/", {}, {}).error().code, codes::kInvalid);
  // Nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string addr = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  auto refused = StreamingRequest::open("GET", addr, {}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, codes::kUpstream);
  // Listening but never answering: bounded by the timeout.
  ASSERT_EQ(::listen(fd, 4), 0);
  auto silent = StreamingRequest::open("GET", addr, {}, {});
  ASSERT_TRUE(silent);
  auto t0 = std::chrono::steady_clock::now();
  auto head = (*silent)->read_head(300ms);
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code, codes::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_FALSE((*silent)->read_head(300ms));  // the connection is gone now
  ::close(fd);
}

}  // namespace
}  // namespace zlh::http
