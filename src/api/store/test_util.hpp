// Shared by the store's unit tests: a temporary directory holding a real
// SQLite file, a settable clock, and shorthands.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "api/store/store.hpp"

namespace zlh::api::store::testing {

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/zlh-store-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// A clock the test moves by hand; safe to read from many threads.
class FakeClock {
 public:
  Time now() const { return Time(Clock::duration(ns_.load())); }
  void set(Time t) { ns_.store(t.time_since_epoch().count()); }
  void advance(std::chrono::milliseconds d) {
    ns_.fetch_add(std::chrono::duration_cast<Clock::duration>(d).count());
  }
  std::function<Time()> fn() {
    return [this] { return now(); };
  }

 private:
  // 2026-11-24T10:00:00Z, a whole millisecond, so round trips compare equal.
  std::atomic<Clock::rep> ns_{
      std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(1795514400000))
          .count()};
};

// Fixture: a store opened on <tmp>/zlh.db with a fake clock.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(Options o = {}) {
    store.reset();
    o.clock = clock.fn();
    auto s = Store::open(db_path(), std::move(o));
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    store = std::move(*s);
  }

  std::string db_path() const { return dir.path + "/zlh.db"; }

  int64_t make_user(const std::string& name) {
    auto u = store->create_user({name + "@example.com", name, "hash-" + name, false});
    EXPECT_TRUE(u.has_value()) << u.error().to_string();
    return u ? u->id : 0;
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store;
};

}  // namespace zlh::api::store::testing
