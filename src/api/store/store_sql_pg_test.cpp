// Every SQL text the store prepares must prepare on PostgreSQL too (issue
// 25), before Store can open a PostgreSQL database (docs/store-engines.md).
// This binary runs the store's behavioural tests on SQLite, as
// api_store_test does, while set_sqlite_prepare_hook records each
// statement; at the end an Environment prepares every one of them on a
// PostgreSQL database migrated with migrations/postgres/. Preparing parses
// and type-checks the statement (unknown functions, int4-inferred or
// untyped parameters, operators on mismatched types) without running it.
//
// The one fragment the store spells per engine (the ports list,
// servers.cpp) is swapped for its PostgreSQL spelling first; anything else
// SQLite-only (PRAGMA, sqlite_*) is skipped: it is SQLite's own code.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>

#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_migrations.hpp"
#include "api/store/sqlite_db.hpp"
#include "pg_fixture.hpp"

namespace zlh::api::store {
namespace {

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

bool sqlite_only(const std::string& sql) {
  return sql.starts_with("PRAGMA") || sql.find("sqlite_") != std::string::npos;
}

class PrepareOnPostgres : public ::testing::Environment {
 public:
  void SetUp() override {
    set_sqlite_prepare_hook([this](std::string_view sql) {
      std::lock_guard lock(mu_);
      seen_.emplace(sql);
    });
  }

  void TearDown() override {
    set_sqlite_prepare_hook(nullptr);
    auto pg = zlh::testing::PgServer::start();
    if (!pg && pg.error().code == codes::kUnavailable) {
      std::cout << "[ SKIPPED  ] prepare on PostgreSQL: " << pg.error().message << "\n";
      return;
    }
    ASSERT_TRUE(pg) << pg.error().message;
    auto ci = (*pg)->create_database("prep");
    ASSERT_TRUE(ci) << ci.error().message;
    auto db = PgDb::connect(*ci);
    ASSERT_TRUE(db) << db.error().message;
    auto engine = pg_migrations();
    ASSERT_TRUE(migrate(**db, *engine, embedded_migrations(Engine::kPostgres), 1));
    db = PgDb::connect(*ci);  // nothing cached across the migrations
    ASSERT_TRUE(db) << db.error().message;
    int checked = 0;
    for (const std::string& raw : seen_) {
      if (sqlite_only(raw)) continue;
      const std::string sql =
          replace_all(raw, "group_concat(p.port)", "string_agg(CAST(p.port AS TEXT), ',')");
      try {
        (*db)->prepare(sql);
        ++checked;
      } catch (const DbError& e) {
        ADD_FAILURE() << "does not prepare on PostgreSQL: " << e.what() << "\n  " << raw;
      }
    }
    std::cout << "[ PREPARED ] " << checked << " distinct statements on PostgreSQL\n";
    EXPECT_GT(checked, 100);
  }

 private:
  std::mutex mu_;
  std::set<std::string> seen_;
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PrepareOnPostgres);

}  // namespace
}  // namespace zlh::api::store
