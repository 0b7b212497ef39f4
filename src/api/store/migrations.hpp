// Numbered schema migrations (STYLE §13). The files
// src/api/store/migrations/<engine>/NNNN_name.sql are embedded into the binary at build
// time (embed_migrations.cmake: numbers contiguous from 0001, or the build
// fails); nothing is read from disk at run time.
//
// Applied state lives in schema_migrations(version, name, sha256, applied_at).
// A migration, once released, is never edited: the stored sha256 of every
// applied one is compared with the embedded one at each open.
//
// Private to store/ (and its tests). Thread-safety: the caller holds the
// connection exclusively for the duration of a call.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "api/store/impl.hpp"
#include "api/store/sqlite_db.hpp"
#include "base/error.hpp"

namespace zlh::api::store {

struct Migration {
  int version = 0;
  std::string_view name;    // "init" for 0001_init.sql
  std::string_view sql;     // one or more statements
  std::string_view sha256;  // hex of the file's bytes
};

// The engine's embedded migrations (migrations/sqlite/, migrations/postgres/),
// by version, 1..N. Version N is the same logical schema on both engines.
std::span<const Migration> embedded_migrations(Engine engine = Engine::kSqlite);

// What a migration run needs from its engine beyond Db. SQLite's
// (sqlite_migrations()) turns foreign keys off around the run, as SQLite
// documents for table rebuilds, and runs PRAGMA foreign_key_check before
// each commit; PostgreSQL's will take an advisory lock in each
// migration's transaction (docs/store-engines.md).
class MigrationEngine {
 public:
  virtual ~MigrationEngine() = default;
  // CREATE TABLE IF NOT EXISTS schema_migrations (version, name, sha256,
  // applied_at) in the engine's DDL.
  virtual const char* schema_table_sql() const = 0;
  // Outside any transaction, before the first pending migration.
  virtual void before_run(Db&) {}
  // After the run, whatever its outcome; must not throw.
  virtual void after_run(Db&) noexcept {}
  // Inside the migration's transaction, right after begin_write().
  virtual void lock(Db&) {}
  // Inside the transaction after m's SQL ran; an error rolls m back.
  virtual Result<void> check(Db&, const Migration&) { return {}; }
};

// SQLite's hooks (see MigrationEngine). Not thread-safe: one per run.
std::unique_ptr<MigrationEngine> sqlite_migrations();

// Brings `db` to the last of `migrations` (which must be numbered 1..N, in
// order): each pending one runs in its own write transaction (SQLite:
// BEGIN IMMEDIATE) together with its schema_migrations row, so a failure
// leaves the database at the previous version, and two processes opening
// the same database at once apply each migration exactly once. Returns how
// many were applied; an up-to-date database gets no write at all (0).
// Errors: E_CONFLICT (the database is at a version above N, or an applied
// migration's name or sha256 differs from ours), E_INVALID (`migrations` not
// numbered 1..N), plus the engine's errors (a migration's SQL failing is
// E_INTERNAL or E_CONFLICT, naming the migration).
Result<int> migrate(Db& db, MigrationEngine& engine, std::span<const Migration> migrations,
                    int64_t now_ms);
// The same on an SQLite connection with sqlite_migrations().
Result<int> migrate(SQLite::Database& db, std::span<const Migration> migrations, int64_t now_ms);

// Highest applied version, 0 for a database that has none.
Result<int> schema_version(SQLite::Database& db);

}  // namespace zlh::api::store
