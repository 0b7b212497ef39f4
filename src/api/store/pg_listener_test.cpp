// Change notifications on PostgreSQL (pg_listener.hpp): a write's key
// reaches another connection's listener after the commit, never after a
// rollback; a listener whose backend is killed says "*" and listens again.
#include "api/store/pg_listener.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "api/store/pg_db.hpp"
#include "pg_fixture.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

const Result<std::unique_ptr<zlh::testing::PgServer>>& cluster() {
  static auto server = zlh::testing::PgServer::start();
  return server;
}

// The keys a listener heard, waited for with deadlines.
class Heard {
 public:
  void operator()(std::string_view k) {
    std::lock_guard lk(mu_);
    keys_.emplace_back(k);
    cv_.notify_all();
  }
  // Whether `key` arrives (counting from the start) within `d`.
  bool wait_for(const std::string& key, std::chrono::milliseconds d, size_t nth = 1) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, d, [&] { return std::ranges::count(keys_, key) >= long(nth); });
  }
  std::vector<std::string> keys() {
    std::lock_guard lk(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> keys_;
};

bool eventually(auto pred, std::chrono::milliseconds d = 10s) {
  const auto end = SteadyClock::now() + d;
  while (SteadyClock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class PgListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    const auto& pg = cluster();
    if (!pg && pg.error().code == codes::kUnavailable) GTEST_SKIP() << pg.error().message;
    ASSERT_TRUE(pg) << pg.error().message;
    auto ci = (*pg)->create_database("l" + std::to_string(++n));
    ASSERT_TRUE(ci) << ci.error().message;
    conninfo = *ci;
    writer = PgDb::connect(conninfo).value();
    auto l = PgListener::start(
        conninfo, [this](std::string_view k) { heard(k); }, PgListener::Options{50ms, 10s});
    ASSERT_TRUE(l);
    listener = std::move(*l);
    ASSERT_TRUE(eventually([&] { return listener->listening(); }));
    ASSERT_TRUE(heard.wait_for("*", 5s));  // the first LISTEN
  }
  // Commits a write transaction that changed `key` (Impl::changed's SQL).
  void commit_change(const std::string& key) {
    writer->begin_write();
    publish_change(*writer, key);
    writer->commit();
  }

  std::string conninfo;
  std::unique_ptr<PgDb> writer;
  Heard heard;
  std::unique_ptr<PgListener> listener;
};

TEST_F(PgListenerTest, ACommittedChangeReachesAnotherConnectionsListener) {
  // Rolled back: never delivered. Committed after it: delivered, so once
  // it is here the first would have been too.
  writer->begin_write();
  publish_change(*writer, "server:1");
  writer->rollback();
  const auto t0 = SteadyClock::now();
  commit_change("session:abc");
  ASSERT_TRUE(heard.wait_for("session:abc", 5s));
  const auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0);
  std::cout << "[ latency ] commit to callback: " << latency.count() << " us\n";
  EXPECT_EQ(heard.keys(), (std::vector<std::string>{"*", "session:abc"}));
  // Nothing is sent before the commit.
  writer->begin_write();
  publish_change(*writer, "vmid:5001");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(heard.keys().size(), 2u);
  writer->commit();
  ASSERT_TRUE(heard.wait_for("vmid:5001", 5s));
}

TEST_F(PgListenerTest, AKilledBackendSaysDropEverythingAndListensAgain) {
  const int pid = listener->backend_pid();
  ASSERT_NE(pid, 0);
  Stmt kill = writer->prepare("SELECT pg_terminate_backend(CAST(? AS INTEGER))");
  kill.bind(1, pid);
  ASSERT_TRUE(kill.step());
  // "*" when the loss is found, and again after the new LISTEN.
  ASSERT_TRUE(heard.wait_for("*", 10s, 3)) << heard.keys().size();
  ASSERT_TRUE(eventually([&] { return listener->connections() == 2 && listener->listening(); }));
  EXPECT_NE(listener->backend_pid(), pid);
  commit_change("session:after");
  EXPECT_TRUE(heard.wait_for("session:after", 5s));
}

TEST_F(PgListenerTest, StopsPromptlyWhileTheServerIsUnreachable) {
  auto l = PgListener::start(
      "host=/nonexistent dbname=x", [](std::string_view) {}, PgListener::Options{5s, 10s});
  ASSERT_TRUE(l);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE((*l)->listening());
  l->reset();  // within one pause, not the 5 s retry
}

}  // namespace
}  // namespace zlh::api::store
