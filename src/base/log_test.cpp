#include "base/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace zlh::log {
namespace {

// Records written while it lives go to a pipe; lines() reads what arrived.
class Capture {
 public:
  Capture() {
    EXPECT_EQ(::pipe2(fds_, O_CLOEXEC | O_NONBLOCK), 0);
    set_fd(fds_[1]);
  }
  ~Capture() {
    set_fd(2);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  std::vector<nlohmann::json> lines() {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) text_.append(buf, size_t(n));
    std::vector<nlohmann::json> out;
    std::istringstream in(text_);
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  int fds_[2];
  std::string text_;
};

TEST(Log, FlatRecordsCarryTheSameFieldsAsTreeRecords) {
  Capture c;
  set_base_fields({{"node", "n\"1"}, {"pid", 42}});
  const std::string path = "/a \"b\"\n\x01\\\t\x7f\xc3\xa9 tail";
  write_flat(Level::kInfo, "request", "http",
             {{"method", "GET"}, {"path", path}, {"status", int64_t(200)}, {"duration_ms", 1.25}});
  write(Level::kInfo, "request", "http",
        {{"method", "GET"}, {"path", path}, {"status", 200}, {"duration_ms", 1.25}});
  set_base_fields(nlohmann::json::object());
  auto l = c.lines();
  ASSERT_EQ(l.size(), 2u);
  for (auto& j : l) {
    // RFC 3339 with microseconds: 2026-11-24T10:00:00.123456Z
    std::string t = j["time"];
    EXPECT_EQ(t.size(), 27u) << t;
    EXPECT_TRUE(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t.back() == 'Z') << t;
    j.erase("time");
  }
  EXPECT_EQ(l[0], l[1]);
  EXPECT_EQ(l[0]["path"], path);
  EXPECT_EQ(l[0]["node"], "n\"1");
  EXPECT_EQ(l[0]["pid"], 42);
  EXPECT_EQ(l[0]["level"], "INFO");
}

// Plain runs are skipped 8 bytes at a time: every byte that needs an escape
// (and a UTF-8 sequence) is still found wherever it sits in a word.
TEST(Log, FlatRecordsEscapeEveryByteAtEveryPosition) {
  Capture c;
  const std::string filler = "abcdefghijklmnopqrstuvwxyz0123";
  std::vector<std::string> sent;
  size_t seen = 0;
  for (size_t pos = 0; pos < 18; ++pos) {
    for (int b = 0; b < 0x80; ++b) {
      std::string v = filler;
      v.insert(v.begin() + long(pos), char(b));
      sent.push_back(v);
    }
    std::string e = filler;
    e.insert(pos, "\xc3\xa9");  // é, across a word boundary at some positions
    sent.push_back(e);
    for (size_t i = seen; i < sent.size(); ++i)
      write_flat(Level::kInfo, "request", "http", {{"path", sent[i]}});
    auto l = c.lines();  // read per position: the pipe holds 64 KiB
    ASSERT_EQ(l.size(), sent.size());
    for (size_t i = seen; i < sent.size(); ++i)
      EXPECT_EQ(l[i]["path"], sent[i]) << "position " << pos << ", record " << i;
    seen = sent.size();
  }
}

TEST(Log, FlatRecordsWithBadUtf8AreStillValidJson) {
  Capture c;
  write_flat(Level::kWarn, "request", "http", {{"path", std::string_view("/\xff\xfe", 3)}});
  auto l = c.lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0]["path"].is_string());
  EXPECT_EQ(l[0]["level"], "WARN");
}

TEST(Log, ABufferedThreadWritesWholeLinesWhenFlushed) {
  Capture c;
  {
    ThreadBuffer batched;
    for (int i = 0; i < 5; ++i) write_flat(Level::kInfo, "request", "http", {{"i", int64_t(i)}});
    EXPECT_TRUE(c.lines().empty()) << "held until a flush";
    flush_thread();  // hands the batch to the writer thread
    wait_written();
    EXPECT_EQ(c.lines().size(), 5u);
    // Past 4 KiB a batch goes out by itself, in whole lines.
    for (int i = 0; i < 100; ++i) write_flat(Level::kInfo, "request", "http", {{"i", int64_t(i)}});
    wait_written();
    auto some = c.lines();
    EXPECT_GT(some.size(), 5u);
    EXPECT_LT(some.size(), 105u);
  }
  // The buffer's end flushes the rest.
  auto all = c.lines();
  ASSERT_EQ(all.size(), 105u);
  EXPECT_EQ(all.back()["i"], 99);
  // Without a ThreadBuffer a record leaves at once.
  write_flat(Level::kInfo, "request", "http", {});
  EXPECT_EQ(c.lines().size(), 106u);
}

// A record too long for a batch (over 4 KiB) still arrives in its place:
// after the records written before it, before those written after.
TEST(Log, ALongRecordFromABufferedThreadKeepsItsPlace) {
  Capture c;
  {
    ThreadBuffer batched;
    write_flat(Level::kInfo, "request", "http", {{"i", int64_t(0)}});
    const std::string big(6000, 'x');
    write_flat(Level::kInfo, "request", "http",
               {{"i", int64_t(1)}, {"path", std::string_view(big)}});
    write_flat(Level::kInfo, "request", "http", {{"i", int64_t(2)}});
  }
  auto l = c.lines();
  ASSERT_EQ(l.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(l[size_t(i)]["i"], i);
  EXPECT_EQ(l[1]["path"].get<std::string>().size(), 6000u);
}

// Batches go through the writer thread: from several buffered threads at
// once, every record arrives, as a whole line, in its thread's order.
TEST(Log, BatchesFromManyThreadsArriveWholeAndInOrder) {
  char path[] = "/tmp/zlh-log-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  set_fd(fd);
  constexpr int kThreads = 3, kEach = 3000;
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([t] {
        ThreadBuffer batched;
        for (int i = 0; i < kEach; ++i) {
          write_flat(Level::kInfo, "request", "http", {{"t", int64_t(t)}, {"i", int64_t(i)}});
          if (i % 500 == 0) flush_thread();
        }
      });  // ~ThreadBuffer returns once its batches are written
    for (auto& th : ts) th.join();
  }
  set_fd(2);
  std::string text;
  char buf[65536];
  ssize_t n;
  ::lseek(fd, 0, SEEK_SET);
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  ::close(fd);
  std::vector<int> next(kThreads, 0);
  std::istringstream in(text);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    const int t = j["t"], i = j["i"];
    ASSERT_EQ(i, next[size_t(t)]) << "thread " << t;
    ++next[size_t(t)];
    ++lines;
  }
  EXPECT_EQ(lines, kThreads * kEach);
}

}  // namespace
}  // namespace zlh::log
