#include "agent/backups/save_pause.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <vector>

namespace zlh::agent::backups {
namespace {

using namespace std::chrono_literals;

// A console that records what the backup does to it and answers commands
// with scripted output, the way a server prints after reading a line.
struct Script {
  std::vector<std::string> events;             // "attach", "send:<line>", "detach"
  std::map<std::string, std::string> replies;  // command -> output it causes
  std::map<std::string, Error> send_errors;    // command -> send fails
  std::deque<std::string> pending;             // output not yet read
  bool console_gone = false;
};

class FakeConsole : public GameConsole {
 public:
  explicit FakeConsole(Script& s) : s_(s) {}
  Result<void> attach() override {
    s_.events.push_back("attach");
    return {};
  }
  Result<void> send_line(std::string_view line) override {
    s_.events.push_back("send:" + std::string(line));
    if (auto it = s_.send_errors.find(std::string(line)); it != s_.send_errors.end())
      return fail(it->second);
    if (auto it = s_.replies.find(std::string(line)); it != s_.replies.end())
      s_.pending.push_back(it->second);
    return {};
  }
  Result<std::string> read_output(std::chrono::milliseconds) override {
    if (!s_.pending.empty()) {
      std::string out = s_.pending.front();
      s_.pending.pop_front();
      return out;
    }
    if (s_.console_gone) return fail(codes::kUnavailable, "gone");
    return fail(codes::kTimeout, "no output");
  }
  void detach() override { s_.events.push_back("detach"); }

 private:
  Script& s_;
};

catalog::BackupSpec minecraft(int timeout_s = 2) {
  return {{"save-off", "save-all flush"}, "Saved the game", {"save-on"}, timeout_s};
}

const std::string kSaved = "[12:00:00] [Server thread/INFO]: Saved the game\r\n";

TEST(SavePause, PausesWaitsThenResumesInOrder) {
  Script s;
  s.replies["save-off"] = "[12:00:00] [Server thread/INFO]: Automatic saving is now disabled\n";
  s.replies["save-all flush"] = "\x1b[0mSaving the game (this may take a moment!)\n" + kSaved;
  auto p = pause_saves(std::make_unique<FakeConsole>(s), minecraft());
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(s.events,
            (std::vector<std::string>{"attach", "send:save-off", "send:save-all flush", "detach"}));
  s.events.clear();
  s.events.push_back("archive");
  ASSERT_TRUE((*p)->resume());
  EXPECT_TRUE((*p)->resume());  // once only
  p->reset();
  EXPECT_EQ(s.events, (std::vector<std::string>{"archive", "detach", "send:save-on"}));
}

TEST(SavePause, DestructionResumes) {
  Script s;
  s.replies["save-all flush"] = kSaved;
  {
    auto p = pause_saves(std::make_unique<FakeConsole>(s), minecraft());
    ASSERT_TRUE(p);
    s.events.push_back("client went away");
  }
  EXPECT_EQ(s.events.back(), "send:save-on");
  EXPECT_EQ(s.events[s.events.size() - 3], "client went away");
}

// Output that answers an earlier command does not count, even if it
// matches: only lines printed after the last pause command.
TEST(SavePause, OnlyOutputAfterTheLastPauseCommandCounts) {
  Script s;
  s.replies["save-off"] = kSaved;  // an old "Saved the game" still in the pipe
  auto p = pause_saves(std::make_unique<FakeConsole>(s), minecraft(1));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, codes::kTimeout);
  EXPECT_NE(p.error().message.find("Saved the game"), std::string::npos) << p.error().message;
  EXPECT_EQ(s.events.back(), "send:save-on");  // resumed although the pause failed
}

TEST(SavePause, ResumesWhenTheConsoleFails) {
  Script s;
  s.send_errors.emplace("save-all flush", Error::make(codes::kUnavailable, "shim gone"));
  auto p = pause_saves(std::make_unique<FakeConsole>(s), minecraft());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, codes::kUnavailable);
  EXPECT_EQ(s.events, (std::vector<std::string>{"attach", "send:save-off", "send:save-all flush",
                                                "detach", "send:save-on"}));

  Script gone;
  gone.console_gone = true;
  auto q = pause_saves(std::make_unique<FakeConsole>(gone), minecraft());
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, codes::kUnavailable);
  EXPECT_EQ(gone.events.back(), "send:save-on");
}

TEST(SavePause, EveryResumeCommandIsSentEvenAfterOneFails) {
  Script s;
  s.replies["save-all flush"] = kSaved;
  s.send_errors.emplace("first", Error::make(codes::kIo, "broken"));
  auto spec = minecraft();
  spec.resume = {"first", "second"};
  auto p = pause_saves(std::make_unique<FakeConsole>(s), spec);
  ASSERT_TRUE(p);
  auto r = (*p)->resume();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kIo);
  EXPECT_EQ(s.events.back(), "send:second");
}

TEST(SavePause, CancelResumes) {
  Script s;
  std::atomic<bool> cancel{true};
  auto p = pause_saves(std::make_unique<FakeConsole>(s), minecraft(), &cancel);
  ASSERT_FALSE(p);
  EXPECT_EQ(s.events.back(), "send:save-on");
}

}  // namespace
}  // namespace zlh::agent::backups
