// Shared by the store's tests: a temporary directory, a settable clock,
// the store suite's fixture over each engine, and shorthands.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

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

// An engine the store suite runs on (docs/store-engines.md, "The test
// suite on both engines").
struct StoreEngine {
  std::string name;  // "sqlite", "postgres": the suffix of the test names
  // The URL of a new, empty store; `dir` is the test's own temporary
  // directory. E_UNAVAILABLE: the engine cannot run here (the test skips).
  std::function<Result<std::string>(const std::string& dir)> fresh_url;
};

inline void PrintTo(const StoreEngine& e, std::ostream* os) { *os << e.name; }

inline StoreEngine sqlite_engine() {
  return {"sqlite", [](const std::string& dir) -> Result<std::string> {
            return "sqlite:" + dir + "/zlh.db";
          }};
}

// The engines this test binary runs the parameterised suites on:
// store_engines_sqlite.cpp in api_store_test, store_pg_test.cpp in
// api_store_pg_test. Each file that declares a suite instantiates it:
//   INSTANTIATE_TEST_SUITE_P(Engines, MySuite, testing::engines(), testing::engine_name);
std::vector<StoreEngine> store_engines();
inline auto engines() { return ::testing::ValuesIn(store_engines()); }
inline std::string engine_name(const ::testing::TestParamInfo<StoreEngine>& info) {
  return info.param.name;
}

// Fixture: a fresh store on the engine (a file <tmp>/zlh.db, or a new
// PostgreSQL database) with a fake clock. A subclass's SetUp calls this
// one first and returns when IsSkipped() or HasFatalFailure().
template <class Base>
class StoreFixture : public Base {
 protected:
  void SetUp() override {
    auto u = engine().fresh_url(dir.path);
    if (!u && u.error().code == codes::kUnavailable) GTEST_SKIP() << u.error().to_string();
    ASSERT_TRUE(u.has_value()) << u.error().to_string();
    url_ = *u;
    reopen();
  }

  void reopen(Options o = {}) {
    store.reset();
    o.clock = clock.fn();
    auto s = Store::open(url_, std::move(o));
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    store = std::move(*s);
  }

  const StoreEngine& engine() const {
    if constexpr (std::is_base_of_v<::testing::WithParamInterface<StoreEngine>, Base>) {
      return this->GetParam();
    } else {
      static const StoreEngine sqlite = sqlite_engine();
      return sqlite;
    }
  }
  bool on_postgres() const { return engine().name == "postgres"; }

  // The store's URL, for a second Store on the same database.
  const std::string& url() const { return url_; }
  // The SQLite file (SqliteStoreTest only).
  std::string db_path() const { return dir.path + "/zlh.db"; }

  int64_t make_user(const std::string& name) {
    auto u = store->create_user({name + "@example.com", name, "hash-" + name, false});
    EXPECT_TRUE(u.has_value()) << u.error().to_string();
    return u ? u->id : 0;
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store;

 private:
  std::string url_;
};

// The store suite: TEST_P on every engine of store_engines().
class StoreTest : public StoreFixture<::testing::TestWithParam<StoreEngine>> {};
// What is SQLite's own (the file, WAL, PRAGMAs, the migration runner on
// the file): TEST_F on SQLite only.
class SqliteStoreTest : public StoreFixture<::testing::Test> {};

}  // namespace zlh::api::store::testing
