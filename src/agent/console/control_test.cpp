#include "agent/console/control.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

namespace zlh::agent::console {
namespace {

TEST(ConsoleControl, ResizeAndSignal) {
  auto r = parse_control(R"({"type":"resize","cols":120,"rows":40})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->kind, Control::Kind::kResize);
  EXPECT_EQ(r->cols, 120);
  EXPECT_EQ(r->rows, 40);
  auto s = parse_control(R"({"type":"signal","name":"SIGINT","extra":1})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kind, Control::Kind::kSignal);
  EXPECT_EQ(s->signal, SIGINT);
  EXPECT_EQ(signal_from_name("WINCH"), SIGWINCH);
  EXPECT_EQ(signal_from_name("SIGNOPE"), 0);
}

TEST(ConsoleControl, WindowBounds) {
  for (const char* ok :
       {R"({"type":"resize","cols":1,"rows":1})", R"({"type":"resize","cols":1000,"rows":1000})"})
    EXPECT_TRUE(parse_control(ok)) << ok;
  for (const char* bad :
       {R"({"type":"resize","cols":0,"rows":24})", R"({"type":"resize","cols":1001,"rows":24})",
        R"({"type":"resize","cols":80,"rows":-1})", R"({"type":"resize","cols":80})"})
    EXPECT_FALSE(parse_control(bad)) << bad;
}

// Found by fuzz/console_fuzz.cpp (fuzz/corpus/console/crash-type-number):
// j.value("type", "") threw json type_error out of the WebSocket handler,
// which ended the read loop without on_close (the session stayed counted
// as attached). Members of the wrong type, and numbers that do not fit an
// int, are now E_INVALID like any unknown message.
TEST(ConsoleControl, WrongTypesAreErrorsNotExceptions) {
  for (const char* msg : {
           R"({"type":9,"rows":24})",
           R"({"type":null})",
           R"({"type":"resize","cols":"80","rows":24})",
           R"({"type":"resize","cols":80.5,"rows":24})",
           R"({"type":"resize","cols":1e300,"rows":24})",
           R"({"type":"resize","cols":4294967376,"rows":24})",
           R"({"type":"resize","cols":-9223372036854775808,"rows":24})",
           R"({"type":"resize","cols":18446744073709551615,"rows":24})",
           R"({"type":"signal","name":2})",
           R"({"type":"signal","name":["INT"]})",
           R"(["resize"])",
           "not json",
       }) {
    Result<Control> r = fail(codes::kInternal, "not run");
    EXPECT_NO_THROW(r = parse_control(msg)) << msg;
    ASSERT_FALSE(r) << msg;
    EXPECT_EQ(r.error().code, codes::kInvalid) << msg;
  }
}

}  // namespace
}  // namespace zlh::agent::console
