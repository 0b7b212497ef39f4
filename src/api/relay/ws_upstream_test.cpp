// The agent-side WebSocket of the console relay against the real server, in
// process (standing in for an agent's /console).
#include "api/relay/ws_upstream.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/server.hpp"

namespace zlh::api::relay {
namespace {

using namespace std::chrono_literals;

struct TestServer {
  std::unique_ptr<http::Server> server;
  std::thread thread;
  std::string base;
  explicit TestServer(http::Router r) {
    http::ServerOptions o;
    o.listen = "127.0.0.1:0";
    server = std::make_unique<http::Server>(std::move(r), o);
    EXPECT_TRUE(server->listen());
    base = "ws://127.0.0.1:" + std::to_string(server->port());
    thread = std::thread([this] { server->run(1, false); });
  }
  ~TestServer() {
    server->stop();
    thread.join();
  }
};

// Echoes frames; "close" makes it close with 4000 "bye". Counts closes.
struct AgentSide {
  std::mutex mu;
  std::condition_variable cv;
  int closes = 0;
  std::string auth;
};

class Echo : public http::WsHandler {
 public:
  explicit Echo(std::shared_ptr<AgentSide> side) : side_(std::move(side)) {}
  void on_open(std::shared_ptr<http::WsConn> c) override {
    conn_ = c;
    c->send_text("hello " + side_->auth);
  }
  void on_message(std::string data, bool binary) override {
    if (!binary && data == "close") return conn_->close(4000, "bye");
    if (binary)
      conn_->send_binary(std::move(data));
    else
      conn_->send_text(std::move(data));
  }
  void on_close() override {
    conn_.reset();
    std::lock_guard lk(side_->mu);
    side_->closes++;
    side_->cv.notify_all();
  }

 private:
  std::shared_ptr<AgentSide> side_;
  std::shared_ptr<http::WsConn> conn_;
};

http::Router agent_router(std::shared_ptr<AgentSide> side) {
  http::Router r;
  r.add_ws("/console", [side](http::Request& req) -> Result<std::shared_ptr<http::WsHandler>> {
    if (req.query_param("busy")) return fail(codes::kConflict, "no console yet");
    {
      std::lock_guard lk(side->mu);
      side->auth = std::string(req.headers.get("Authorization").value_or("")) + " " + req.query;
    }
    return std::make_shared<Echo>(side);
  });
  return r;
}

// What the relay's callbacks saw.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, bool>> messages;
  int closes = 0;
  uint16_t code = 0;
  std::string reason;

  WsUpstream::Callbacks callbacks() {
    return {.on_message =
                [this](std::string d, bool b) {
                  std::lock_guard lk(mu);
                  messages.push_back({std::move(d), b});
                  cv.notify_all();
                },
            .on_close =
                [this](uint16_t c, std::string r) {
                  std::lock_guard lk(mu);
                  closes++;
                  code = c;
                  reason = std::move(r);
                  cv.notify_all();
                }};
  }
  template <typename P>
  bool wait(P pred) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, 10s, pred);
  }
};

TEST(WsUpstream, PassesFramesBothWaysAndClosesOnce) {
  auto side = std::make_shared<AgentSide>();
  TestServer agent(agent_router(side));
  WsUpstreamIo io;
  int64_t live0 = WsUpstream::live();
  http::Headers h;
  h.add("Authorization", "Bearer agent-token");
  auto up = WsUpstream::connect(io, agent.base + "/console?session=abc", h, 5s);
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ(WsUpstream::live(), live0 + 1);
  Seen seen;
  // Frames sent before start() are kept, and the agent's first frame too.
  (*up)->send(std::string("\x00\xff input", 8), true);
  (*up)->start(seen.callbacks());
  (*up)->send(R"({"type":"resize","cols":80,"rows":24})", false);
  ASSERT_TRUE(seen.wait([&] { return seen.messages.size() == 3; }));
  {
    std::lock_guard lk(seen.mu);
    EXPECT_EQ(seen.messages[0],
              std::pair(std::string("hello Bearer agent-token session=abc"), false));
    EXPECT_EQ(seen.messages[1], std::pair(std::string("\x00\xff input", 8), true));
    EXPECT_EQ(seen.messages[2],
              std::pair(std::string(R"({"type":"resize","cols":80,"rows":24})"), false));
  }
  (*up)->close(1000, "client closed");
  (*up)->close(1000, "again");  // repeatable
  ASSERT_TRUE(seen.wait([&] { return seen.closes == 1; }));
  EXPECT_EQ(seen.code, 1000);
  EXPECT_EQ(seen.reason, "client closed");
  {
    std::unique_lock lk(side->mu);
    ASSERT_TRUE(side->cv.wait_for(lk, 10s, [&] { return side->closes == 1; }));
  }
  up->reset();
  EXPECT_TRUE([&] {
    for (int i = 0; i < 500 && WsUpstream::live() != live0; ++i) std::this_thread::sleep_for(10ms);
    return WsUpstream::live() == live0;
  }());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen.closes, 1);
}

TEST(WsUpstream, TheAgentsCloseCodeAndReasonComeThrough) {
  auto side = std::make_shared<AgentSide>();
  TestServer agent(agent_router(side));
  WsUpstreamIo io;
  auto up = WsUpstream::connect(io, agent.base + "/console", {}, 5s);
  ASSERT_TRUE(up);
  Seen seen;
  (*up)->start(seen.callbacks());
  (*up)->send("close", false);
  ASSERT_TRUE(seen.wait([&] { return seen.closes == 1; }));
  EXPECT_EQ(seen.code, 4000);
  EXPECT_EQ(seen.reason, "bye");
}

TEST(WsUpstream, AServerGoingAwayIsA1011Close) {
  auto side = std::make_shared<AgentSide>();
  auto agent = std::make_unique<TestServer>(agent_router(side));
  WsUpstreamIo io;
  auto up = WsUpstream::connect(io, agent->base + "/console", {}, 5s);
  ASSERT_TRUE(up);
  Seen seen;
  (*up)->start(seen.callbacks());
  ASSERT_TRUE(seen.wait([&] { return seen.messages.size() == 1; }));
  agent.reset();  // shutdown closes with 1001 "going away"
  ASSERT_TRUE(seen.wait([&] { return seen.closes == 1; }));
  EXPECT_TRUE(seen.code == 1001 || seen.code == 1011) << seen.code;
}

TEST(WsUpstream, RefusedUnreachableAndBacklog) {
  auto side = std::make_shared<AgentSide>();
  TestServer agent(agent_router(side));
  WsUpstreamIo io;
  WsUpstream::Refusal refusal;
  auto busy = WsUpstream::connect(io, agent.base + "/console?busy=1", {}, 5s, &refusal);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, codes::kUpstream);
  EXPECT_EQ(refusal.status, 409);
  EXPECT_NE(refusal.body.find("E_CONFLICT"), std::string::npos) << refusal.body;

  auto nothing = WsUpstream::connect(io, "ws://127.0.0.1:1/console", {}, 2s);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, codes::kUpstream);
  EXPECT_EQ(WsUpstream::connect(io, "http://127.0.0.1:1/", {}, 2s).error().code, codes::kInvalid);

  // More input queued than allowed: closed with 1008, nothing dropped silently.
  auto up = WsUpstream::connect(io, agent.base + "/console", {}, 5s, nullptr, 16);
  ASSERT_TRUE(up);
  Seen seen;
  (*up)->start(seen.callbacks());
  (*up)->send(std::string(64, 'x'), true);
  ASSERT_TRUE(seen.wait([&] { return seen.closes == 1; }));
  EXPECT_EQ(seen.code, 1008);
}

TEST(WsUpstream, DroppingTheHandleClosesTheAgentSide) {
  auto side = std::make_shared<AgentSide>();
  TestServer agent(agent_router(side));
  WsUpstreamIo io;
  {
    auto up = WsUpstream::connect(io, agent.base + "/console", {}, 5s);
    ASSERT_TRUE(up);
  }
  std::unique_lock lk(side->mu);
  EXPECT_TRUE(side->cv.wait_for(lk, 10s, [&] { return side->closes == 1; }));
}

}  // namespace
}  // namespace zlh::api::relay
