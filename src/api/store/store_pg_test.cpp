// api_store_pg_test: the store suite (test_util.hpp) on PostgreSQL, and
// what is PostgreSQL's own in the store: the URL, the pool, the lock
// timeout, reconnecting, a password. One cluster per binary (a gtest
// Environment stops it), a fresh database per test; every test skips when
// PostgreSQL is not installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_store.hpp"
#include "api/store/pg_url.hpp"
#include "api/store/test_util.hpp"
#include "pg_fixture.hpp"

namespace zlh::api::store::testing {

using namespace std::chrono_literals;
using zlh::testing::percent_encoded;
using zlh::testing::PgServer;

namespace {

// The cluster, started on first use, stopped when the tests end.
class PgEnvironment : public ::testing::Environment {
 public:
  const Result<std::unique_ptr<PgServer>>& server() {
    std::call_once(once_, [&] { server_ = PgServer::start(); });
    return server_;
  }
  void TearDown() override {
    if (server_ && *server_) (void)(*server_)->stop();
  }

 private:
  std::once_flag once_;
  Result<std::unique_ptr<PgServer>> server_ = fail(codes::kUnavailable, "not started");
};

PgEnvironment* const pg_env =
    static_cast<PgEnvironment*>(::testing::AddGlobalTestEnvironment(new PgEnvironment));

// The store URL of `database` on the cluster (its Unix socket).
std::string pg_url(const PgServer& pg, const std::string& database) {
  return "postgresql://" + pg.options().user + "@/" + database +
         "?host=" + percent_encoded(pg.socket_dir()) + "&port=" + std::to_string(pg.port());
}

// A new, empty database on the cluster: its name.
Result<std::string> fresh_database() {
  static std::atomic<int> n{0};
  const auto& pg = pg_env->server();
  if (!pg) return fail(pg.error());
  std::string name = "s" + std::to_string(++n);
  if (auto ci = (*pg)->create_database(name); !ci) return fail(ci.error());
  return name;
}

// A new database already migrated: a copy of one migrated once (CREATE
// DATABASE … TEMPLATE), much faster than migrating each. Its name.
Result<std::string> fresh_migrated_database() {
  static std::atomic<int> n{0};
  static Result<std::string> tmpl = []() -> Result<std::string> {
    auto db = fresh_database();
    if (!db) return db;
    auto s = Store::open(pg_url(*pg_env->server().value(), *db));
    if (!s) return fail(s.error());
    return db;  // the Store closed its connections: usable as a template
  }();
  if (!tmpl) return tmpl;
  std::string name = "m" + std::to_string(++n);
  auto r =
      pg_env->server().value()->exec("CREATE DATABASE " + name + " TEMPLATE " + *tmpl, "postgres");
  if (!r) return fail(r.error());
  return name;
}

}  // namespace

std::vector<StoreEngine> store_engines() {
  return {{"postgres", [](const std::string&) -> Result<std::string> {
             auto db = fresh_migrated_database();
             if (!db) return fail(db.error());
             return pg_url(*pg_env->server().value(), *db);
           }}};
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, engines(), engine_name);

namespace {

TEST(PgStoreUrl, APasswordInTheUrlIsRefusedWithoutShowingIt) {
  for (const char* url :
       {"postgresql://zlh:hunter2@h/d", "postgresql://zlh@h/d?password=hunter2"}) {
    auto s = Store::open(url);
    ASSERT_FALSE(s) << url;
    EXPECT_EQ(s.error().code, codes::kInvalid);
    EXPECT_EQ(s.error().to_string().find("hunter2"), std::string::npos) << s.error().to_string();
  }
}

TEST(PgStoreUrl, BadUrlsAreInvalid) {
  for (const char* url : {"postgresql://h/d?pool=0", "postgresql://h/d?pool=65",
                          "postgresql://h/d?pool=x", "postgresql://h/d?nonsense=1"}) {
    auto s = Store::open(url);
    ASSERT_FALSE(s) << url;
    EXPECT_EQ(s.error().code, codes::kInvalid) << url << ": " << s.error().to_string();
  }
}

TEST(PgStoreUrl, RedactedForLogs) {
  EXPECT_EQ(redact_store_url("postgresql://zlh:hunter2@h:5432/d?pool=2"),
            "postgresql://zlh:***@h:5432/d?pool=2");
  EXPECT_EQ(redact_store_url("postgresql://h/d?sslmode=require&password=hunter2&pool=2"),
            "postgresql://h/d?sslmode=require&password=***&pool=2");
  EXPECT_EQ(redact_store_url("postgresql://zlh@h/d"), "postgresql://zlh@h/d");
  EXPECT_EQ(redact_store_url("sqlite:/var/lib/zlh/zlh.db"), "sqlite:/var/lib/zlh/zlh.db");
}

// A fresh database, its URL, and the cluster to poke at it.
class PgStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = fresh_database();
    if (!db && db.error().code == codes::kUnavailable) GTEST_SKIP() << db.error().to_string();
    ASSERT_TRUE(db) << db.error().to_string();
    name = *db;
    pg = pg_env->server().value().get();
    url = pg_url(*pg, name);
  }
  Result<std::unique_ptr<Store>> open(Options o = {}) { return Store::open(url, std::move(o)); }

  PgServer* pg = nullptr;
  std::string name, url;
};

TEST_F(PgStore, OpenMigratesOnceAndReopensWithoutWriting) {
  auto a = open();
  ASSERT_TRUE(a) << a.error().to_string();
  auto v = (*a)->schema_version();
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_EQ(*v, static_cast<int>(embedded_migrations(Engine::kPostgres).size()));
  auto b = open();
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ((*b)->schema_version().value(), *v);
}

TEST_F(PgStore, ALockHeldElsewhereIsUnavailableAfterTheBusyTimeout) {
  Options o;
  o.busy_timeout = 100ms;
  auto s = open(o);
  ASSERT_TRUE(s) << s.error().to_string();
  auto other = PgDb::connect(pg->conninfo(name));
  ASSERT_TRUE(other) << other.error().to_string();
  (*other)->exec("BEGIN; LOCK TABLE users IN EXCLUSIVE MODE");
  auto r = (*s)->create_user({"a@b.c", "a", "h", false});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, codes::kUnavailable) << r.error().to_string();
  EXPECT_TRUE((*s)->count_users().has_value()) << "EXCLUSIVE mode lets readers through";
  (*other)->exec("COMMIT");
  EXPECT_TRUE((*s)->create_user({"a@b.c", "a", "h", false}).has_value());
}

TEST_F(PgStore, TheStoreReconnectsAfterItsConnectionsAreKilled) {
  Options o;
  o.pool_size = 3;
  auto s = open(o);
  ASSERT_TRUE(s) << s.error().to_string();
  // Use several pooled connections at once so more than one is open.
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&, i] {
      (*s)->create_user({"u" + std::to_string(i) + "@x", "u" + std::to_string(i), "h", false});
    });
  for (auto& t : ts) t.join();
  ASSERT_TRUE(
      pg->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
               " WHERE datname = '" +
               name + "' AND pid <> pg_backend_pid()"));
  // Each idle connection the server closed is found and replaced; the
  // store answers as if nothing happened (the wait is for the server's
  // close to reach the sockets).
  Result<int64_t> n = fail(codes::kInternal, "not yet");
  for (int i = 0; i < 200; ++i) {
    n = (*s)->count_users();
    if (n) break;
    ::usleep(10'000);
  }
  ASSERT_TRUE(n) << n.error().to_string();
  EXPECT_EQ(*n, 6);
  EXPECT_TRUE((*s)->create_user({"late@x", "late", "h", false}));
}

TEST_F(PgStore, APoolWithEveryConnectionLentOutIsUnavailableAfterItsWait) {
  auto ci = pg_conninfo_from_url(url);
  ASSERT_TRUE(ci);
  auto pool = make_pg_pool(ci->conninfo, 1, 1000ms, 50ms);
  Db& held = pool->acquire();
  try {
    pool->acquire();
    ADD_FAILURE() << "a second connection from a pool of one";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code, codes::kUnavailable);
  }
  std::thread giver([&] {
    std::this_thread::sleep_for(10ms);
    pool->release(held);
  });
  Db& again = pool->acquire();  // waits for the release (the wait is 50 ms; no assert on it)
  giver.join();
  EXPECT_EQ(again.scalar_int64("SELECT 1"), 1);
  pool->release(again);
}

TEST_F(PgStore, SerializationConflictsAreRunAgain) {
  Options o;
  o.pool_size = 8;
  auto s = open(o);
  ASSERT_TRUE(s) << s.error().to_string();
  auto owner = (*s)->create_user({"o@x", "o", "h", false});
  ASSERT_TRUE(owner);
  // Each create reads the lowest free vmid and port and the owner's count:
  // concurrent ones conflict, and every one must still succeed.
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 16; ++i)
    ts.emplace_back([&] {
      NewServer n;
      n.owner_id = owner->id;
      n.type = ServerType::kDev;
      n.name = "x";
      std::vector<std::string> steps = {"a"};
      auto c = (*s)->create_server(n, steps);
      if (!c) {
        ADD_FAILURE() << c.error().to_string();
        ++failures;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*s)->list_servers()->size(), 16u);
  auto rolled = pg->exec("SELECT 1", name);
  EXPECT_TRUE(rolled);
}

TEST(PgStorePassword, ComesFromOptionsAndNeverShows) {
  PgServer::Options po;
  po.password = "s3cret-pw";
  auto pg = PgServer::start(po);
  if (!pg && pg.error().code == codes::kUnavailable) GTEST_SKIP() << pg.error().to_string();
  ASSERT_TRUE(pg) << pg.error().to_string();
  const std::string url = pg_url(**pg, po.database);
  auto none = Store::open(url);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, codes::kUnavailable) << none.error().to_string();
  Options bad;
  bad.password = "wrong-pw";
  auto wrong = Store::open(url, bad);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().to_string().find("wrong-pw"), std::string::npos);
  Options good;
  good.password = po.password;
  auto s = Store::open(url, good);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_TRUE((*s)->count_users());
}

}  // namespace
}  // namespace zlh::api::store::testing
