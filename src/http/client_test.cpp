// The streaming client (download into a sink, chunked upload from a source)
// against an in-process server on loopback.
#include "http/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "base/crypto.hpp"
#include "http/server.hpp"

namespace zlh::http {
namespace {

using namespace std::chrono_literals;

struct Served {
  std::unique_ptr<Server> server;
  std::thread thread;
  std::string base;
  explicit Served(Router r) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.handler_threads = 2;
    server = std::make_unique<Server>(std::move(r), o);
    EXPECT_TRUE(server->listen());
    base = "http://127.0.0.1:" + std::to_string(server->port());
    thread = std::thread([this] { server->run(1, false); });
  }
  ~Served() {
    server->stop();
    thread.join();
  }
};

// `total` bytes of a repeating pattern, produced while sent; fails after
// `fail_at` bytes when set.
class Pattern : public BodySource {
 public:
  Pattern(uint64_t total, uint64_t fail_at) : left_(total), fail_at_(fail_at) {}
  Result<size_t> read(char* buf, size_t cap) override {
    if (fail_at_ && sent_ >= fail_at_) return fail(codes::kIo, "source broke");
    size_t n = size_t(std::min<uint64_t>(cap, left_));
    for (size_t i = 0; i < n; ++i) buf[i] = char('a' + (sent_ + i) % 26);
    left_ -= n;
    sent_ += n;
    return n;
  }

 private:
  uint64_t left_, fail_at_, sent_ = 0;
};

// Counts and hashes a request body.
struct Counter : BodySink {
  crypto::Sha256 sha;
  uint64_t n = 0;
  Result<void> write(std::string_view c) override {
    sha.update(c);
    n += c.size();
    return {};
  }
  void finish(Request&, Responder res) override {
    res.send(Response::json(200, {{"bytes", n}, {"sha256", sha.hex_digest()}}));
  }
};

Router router() {
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  pub.blocking = true;
  r.add_sync(
      "GET", "/blob/{n}",
      [](Request& req) {
        Response res;
        const uint64_t n = std::stoull(req.params["n"]);
        res.source = std::make_shared<Pattern>(n, req.query == "fail" ? n / 2 : 0);
        if (req.query == "length") res.source_length = n;
        return res;
      },
      pub);
  r.add_sync(
      "GET", "/missing",
      [](Request&) { return Response::error(Error::make(codes::kNotFound, "no")); }, pub);
  RouteOptions up = pub;
  up.body_limit = SIZE_MAX;
  r.add_streaming(
      "PUT", "/count",
      [](Request&) -> Result<std::unique_ptr<BodySink>> { return std::make_unique<Counter>(); },
      up);
  r.add_streaming(
      "PUT", "/refuse",
      [](Request&) -> Result<std::unique_ptr<BodySink>> {
        return fail(codes::kConflict, "workload running");
      },
      up);
  return r;
}

std::string pattern_sha(uint64_t n) {
  crypto::Sha256 sha;
  std::vector<char> buf(65536);
  Pattern p(n, 0);
  for (;;) {
    auto k = p.read(buf.data(), buf.size());
    if (!k || *k == 0) break;
    sha.update(std::string_view(buf.data(), *k));
  }
  return sha.hex_digest();
}

TEST(StreamClient, DownloadsChunkedAndSizedBodiesIntoTheSink) {
  Served s(router());
  for (std::string q : {"", "?length"}) {
    crypto::Sha256 sha;
    uint64_t got = 0;
    size_t biggest = 0;
    auto r = download("GET", s.base + "/blob/5000000" + q, {}, [&](std::string_view piece) {
      sha.update(piece);
      got += piece.size();
      biggest = std::max(biggest, piece.size());
      return Result<void>{};
    });
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(got, 5000000u);
    EXPECT_LE(biggest, 64u * 1024);
    EXPECT_TRUE(r->body.empty());
    EXPECT_EQ(sha.hex_digest(), pattern_sha(5000000));
  }
}

TEST(StreamClient, ATruncatedBodyIsAnError) {
  Served s(router());
  uint64_t got = 0;
  auto r = download("GET", s.base + "/blob/4000000?fail", {}, [&](std::string_view piece) {
    got += piece.size();
    return Result<void>{};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kUpstream);
  EXPECT_LT(got, 4000000u);
}

TEST(StreamClient, ErrorAnswersAreReadNotStreamed) {
  Served s(router());
  bool called = false;
  auto r = download("GET", s.base + "/missing", {}, [&](std::string_view) {
    called = true;
    return Result<void>{};
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 404);
  EXPECT_FALSE(called);
  EXPECT_NE(r->body.find("E_NOT_FOUND"), std::string::npos);
}

TEST(StreamClient, ASinkErrorStopsTheDownload) {
  Served s(router());
  auto r = download("GET", s.base + "/blob/9000000", {}, [](std::string_view) -> Result<void> {
    return fail(codes::kQuota, "too big");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kQuota);
}

TEST(StreamClient, IdleDeadlineEndsAStalledDownload) {
  Router r;
  RouteOptions pub;
  pub.is_public = true;
  auto held = std::make_shared<std::vector<Responder>>();
  auto mu = std::make_shared<std::mutex>();
  r.add(
      "GET", "/stall",
      [held, mu](Request&, Responder res) {  // answers only when the test ends
        std::lock_guard lk(*mu);
        held->push_back(std::move(res));
      },
      pub);
  Served s(std::move(r));
  auto t0 = std::chrono::steady_clock::now();
  auto res = download("GET", s.base + "/stall", {}, [](std::string_view) { return Result<void>{}; },
                      {.idle = 300ms, .total = std::nullopt});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, codes::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  std::lock_guard lk(*mu);
  for (auto& r : *held) r.send(Response::text(200, "late"));
}

TEST(StreamClient, UploadsChunkedFromTheSource) {
  Served s(router());
  Pattern p(3000001, 0);
  auto r =
      upload("PUT", s.base + "/count", {}, [&](char* buf, size_t cap) { return p.read(buf, cap); });
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["bytes"], 3000001);
  EXPECT_EQ(j["sha256"], pattern_sha(3000001));
}

TEST(StreamClient, ASourceErrorIsReturnedAndTheBodyNeverCompletes) {
  Served s(router());
  Pattern p(3000000, 1000000);
  auto r =
      upload("PUT", s.base + "/count", {}, [&](char* buf, size_t cap) { return p.read(buf, cap); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kIo);
}

TEST(StreamClient, AnEarlyRefusalIsReturned) {
  Served s(router());
  Pattern p(50'000'000, 0);
  auto r = upload("PUT", s.base + "/refuse", {},
                  [&](char* buf, size_t cap) { return p.read(buf, cap); });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 409);
  EXPECT_NE(r->body.find("E_CONFLICT"), std::string::npos);
}

}  // namespace
}  // namespace zlh::http
