#include "proto/shim_protocol.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

namespace zlh::shim {
namespace {

std::string must_encode(FrameType t, std::string_view p) {
  auto r = encode(t, p);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r ? *r : std::string();
}

TEST(ShimProtocol, EncodeLayoutIsTypeThenBigEndianLength) {
  std::string f = must_encode(FrameType::kInput, "abc");
  ASSERT_EQ(f.size(), kHeaderSize + 3);
  EXPECT_EQ(uint8_t(f[0]), 0x02);
  EXPECT_EQ(f.substr(1, 4), std::string("\0\0\0\3", 4));
  EXPECT_EQ(f.substr(5), "abc");

  std::string big(300000, 'x');  // 0x000493E0
  f = must_encode(FrameType::kOutput, big);
  EXPECT_EQ(uint8_t(f[0]), 0x81);
  EXPECT_EQ(f.substr(1, 4), std::string("\x00\x04\x93\xE0", 4));

  f = must_encode(FrameType::kStatus, "");
  EXPECT_EQ(f, std::string("\x05\0\0\0\0", 5));
}

TEST(ShimProtocol, RoundTripSeveralFramesInOneFeed) {
  std::string wire = must_encode(FrameType::kAttach, std::string(1, char(kAttachScrollback))) +
                     must_encode(FrameType::kResize, resize_payload(100, 30)) +
                     must_encode(FrameType::kStop, "") +
                     must_encode(FrameType::kOutput, std::string("\0bin\xff", 5));
  Decoder d;
  auto frames = d.feed(wire);
  ASSERT_TRUE(frames);
  ASSERT_EQ(frames->size(), 4u);
  EXPECT_EQ((*frames)[0].type, FrameType::kAttach);
  EXPECT_EQ((*frames)[0].payload, "\x01");
  EXPECT_EQ((*frames)[1].type, FrameType::kResize);
  auto ws = parse_resize((*frames)[1].payload);
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->cols, 100);
  EXPECT_EQ(ws->rows, 30);
  EXPECT_EQ((*frames)[2].type, FrameType::kStop);
  EXPECT_EQ((*frames)[2].payload, "");
  EXPECT_EQ((*frames)[3].payload, std::string("\0bin\xff", 5));
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(ShimProtocol, PartialFeedsByteByByte) {
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(i * 7);
  std::string wire = must_encode(FrameType::kOutput, payload) +
                     must_encode(FrameType::kExit, "{}") + must_encode(FrameType::kInput, "z");
  Decoder d;
  std::vector<Frame> got;
  // Uneven slices, including splits inside the header.
  size_t i = 0, step = 1;
  while (i < wire.size()) {
    size_t n = std::min(step, wire.size() - i);
    auto r = d.feed(std::string_view(wire).substr(i, n));
    ASSERT_TRUE(r);
    for (auto& f : *r) got.push_back(std::move(f));
    i += n;
    step = step * 3 % 1013 + 1;
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, FrameType::kOutput);
  EXPECT_EQ(got[0].payload, payload);
  EXPECT_EQ(got[1].type, FrameType::kExit);
  EXPECT_EQ(got[1].payload, "{}");
  EXPECT_EQ(got[2].payload, "z");

  Decoder one;
  std::vector<Frame> got1;
  for (char c : must_encode(FrameType::kSignal, "\x0f")) {
    auto r = one.feed(std::string_view(&c, 1));
    ASSERT_TRUE(r);
    for (auto& f : *r) got1.push_back(std::move(f));
  }
  ASSERT_EQ(got1.size(), 1u);
  EXPECT_EQ(got1[0].payload, "\x0f");
}

TEST(ShimProtocol, OversizeIsRefused) {
  EXPECT_TRUE(encode(FrameType::kOutput, std::string(kMaxPayload, 'a')));
  auto e = encode(FrameType::kOutput, std::string(kMaxPayload + 1, 'a'));
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(codes::kTooLarge));

  // Refused from the header alone, before the payload arrives.
  Decoder d;
  std::string hdr = "\x02";
  hdr += std::string("\x00\x10\x00\x01", 4);  // kMaxPayload + 1
  auto r = d.feed(hdr);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(codes::kTooLarge));
  // Stays failed.
  auto again = d.feed(must_encode(FrameType::kStatus, ""));
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(codes::kTooLarge));

  // Exactly the maximum is fine.
  Decoder ok;
  auto max = ok.feed(must_encode(FrameType::kInput, std::string(kMaxPayload, 'b')));
  ASSERT_TRUE(max);
  ASSERT_EQ(max->size(), 1u);
  EXPECT_EQ((*max)[0].payload.size(), kMaxPayload);
}

TEST(ShimProtocol, UnknownTypeIsRefused) {
  for (uint8_t t : {0x00, 0x07, 0x80, 0x84, 0xff}) {
    Decoder d;
    std::string wire(1, char(t));
    wire += std::string("\0\0\0\0", 4);
    auto r = d.feed(wire);
    ASSERT_FALSE(r) << int(t);
    EXPECT_TRUE(r.error().is(codes::kInvalid));
  }
  // A good frame before the bad one does not save the stream.
  Decoder d;
  std::string wire = must_encode(FrameType::kStatus, "") + std::string("\x42\0\0\0\0", 5);
  EXPECT_FALSE(d.feed(wire));
}

TEST(ShimProtocol, ResizePayload) {
  EXPECT_EQ(resize_payload(0x1234, 0x0a0b), std::string("\x12\x34\x0a\x0b", 4));
  EXPECT_FALSE(parse_resize("abc"));
  EXPECT_FALSE(parse_resize(std::string("\0\0\0\1", 4)));
  auto w = parse_resize(resize_payload(65535, 1));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->cols, 65535);
  EXPECT_EQ(w->rows, 1);
}

TEST(ShimProtocol, StatusJsonRoundTrip) {
  ShimStatus s;
  s.name = "mc";
  s.shim_pid = 10;
  s.shim_start_time = 111;
  s.pid = 42;
  s.pid_start_time = 12345678901ull;
  s.socket = "/run/x.sock";
  s.state = ShimState::kExited;
  s.signal = 9;
  s.started_at = "2026-01-01T00:00:00.000000Z";
  s.exited_at = "2026-01-01T00:00:01.000000Z";
  s.graceful = false;
  s.stop_duration_ms = 2500;
  auto j = nlohmann::json::parse(to_json(s));
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_EQ(j["signal"], 9);
  EXPECT_EQ(j["graceful"], false);
  EXPECT_FALSE(j.contains("error"));
  auto back = parse_status(to_json(s));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->name, "mc");
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->pid_start_time, 12345678901ull);
  EXPECT_EQ(back->shim_start_time, 111u);
  EXPECT_EQ(back->state, ShimState::kExited);
  EXPECT_FALSE(back->exit_code);
  EXPECT_EQ(back->signal, 9);
  EXPECT_EQ(back->graceful, false);
  EXPECT_EQ(back->stop_duration_ms, 2500);
  EXPECT_EQ(back->exited_at, s.exited_at);

  ShimStatus running;
  running.name = "x";
  running.state = ShimState::kRunning;
  auto r = parse_status(to_json(running));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->graceful);
  EXPECT_FALSE(r->stop_duration_ms);
  EXPECT_TRUE(r->exited_at.empty());

  EXPECT_FALSE(parse_status("[]"));
  EXPECT_FALSE(parse_status("{\"name\":\"x\"}"));
  EXPECT_FALSE(parse_status("not json"));
}

// Found by fuzz/shim_fuzz.cpp (fuzz/corpus/shim/crash-float-start-time,
// UBSan: 1.55e80 is outside the range of unsigned long): numbers were read
// with get<T>(), which converts an out-of-range float with undefined
// behaviour and wraps an out-of-range integer. They are malformed now.
TEST(ShimProtocol, StatusNumbersOutOfRangeAreMalformed) {
  const std::string base = R"("name":"w","state":"running")";
  for (const char* bad :
       {R"("pid":1,"shim_start_time":1.5e80)", R"("pid":1e300)", R"("pid":4294967297)",
        R"("pid":1,"pid_start_time":-1)", R"("pid":1,"exit_code":1e10)", R"("pid":1,"signal":2.5)",
        R"("pid":1,"stop_duration_ms":18446744073709551615)", R"("pid":"1")"}) {
    auto r = parse_status("{" + base + "," + bad + "}");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, codes::kInvalid) << bad;
  }
  auto ok = parse_status(
      "{" + base +
      R"(,"pid":2147483647,"shim_start_time":18446744073709551615,"exit_code":-1,"shim_pid":null})");
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->pid, 2147483647);
  EXPECT_EQ(ok->shim_start_time, UINT64_MAX);
  EXPECT_EQ(ok->exit_code, -1);
  EXPECT_EQ(ok->shim_pid, 0);
}

TEST(ShimProtocol, ProcStartTime) {
  auto self = proc_start_time(getpid());
  ASSERT_TRUE(self) << self.error().to_string();
  EXPECT_GT(*self, 0u);
  auto again = proc_start_time(getpid());
  ASSERT_TRUE(again);
  EXPECT_EQ(*self, *again);
  auto none = proc_start_time(0x3ffffff0);
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().is(codes::kNotFound));
}

TEST(ShimProtocol, ClientConnectToMissingSocket) {
  auto c = ShimClient::connect("/tmp/zlh-no-such-dir/shim.sock", std::chrono::milliseconds(50));
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().is(codes::kNotFound));
  auto longp = ShimClient::connect(std::string(200, 'a'), std::chrono::milliseconds(0));
  ASSERT_FALSE(longp);
  EXPECT_TRUE(longp.error().is(codes::kInvalid));
}

}  // namespace
}  // namespace zlh::shim
