#include "api/store/migrations.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace zlh::api::store {
namespace {

struct Applied {
  int version;
  std::string name;
  std::string sha256;
};

std::vector<Applied> read_applied(Db& db) {
  std::vector<Applied> out;
  Stmt q = db.prepare("SELECT version, name, sha256 FROM schema_migrations ORDER BY version");
  while (q.step()) out.push_back({q.col(0).int32(), q.col(1).text(), q.col(2).text()});
  return out;
}

std::string label(int version, std::string_view name) {
  char num[16];
  std::snprintf(num, sizeof num, "%04d", version);
  return std::string(num) + "_" + std::string(name);
}
std::string label(const Migration& m) { return label(m.version, m.name); }

// The database must be a prefix of `ms`: numbered 1..k without gaps, each
// with our name and checksum. Anything else means another binary (newer,
// or built from different migration files) owns this file.
Result<int> check_applied(const std::vector<Applied>& applied, std::span<const Migration> ms) {
  int version = 0;
  for (const Applied& a : applied) {
    if (a.version > static_cast<int>(ms.size()))
      return fail(codes::kConflict,
                  "database schema version " + std::to_string(applied.back().version) +
                      " is newer than this binary (" + std::to_string(ms.size()) + ")");
    if (a.version != version + 1)
      return fail(codes::kConflict,
                  "schema_migrations is missing version " + std::to_string(version + 1));
    const Migration& m = ms[a.version - 1];
    if (a.name != m.name || a.sha256 != m.sha256)
      return fail(codes::kConflict, "applied migration " + label(a.version, a.name) +
                                        " differs from this binary's " + label(m));
    version = a.version;
  }
  return version;
}

// Runs m in its own write transaction with its schema_migrations row: 1
// when applied, 0 when another process applied it first.
Result<int> apply_one(Db& db, MigrationEngine& engine, std::span<const Migration> ms,
                      const Migration& m, int64_t now_ms) {
  WriteTx tx(db);
  engine.lock(db);
  // Re-read under the write lock: another process may have migrated
  // between our check and the lock.
  auto now_at = check_applied(read_applied(db), ms);
  if (!now_at) return std::unexpected(now_at.error());
  if (*now_at >= m.version) return 0;
  try {
    db.exec(m.sql);
  } catch (const DbError& e) {
    return std::unexpected(to_error(e, "migration " + label(m)));
  }
  if (auto ok = engine.check(db, m); !ok) return std::unexpected(ok.error());
  Stmt ins = db.prepare(
      "INSERT INTO schema_migrations(version, name, sha256, applied_at) VALUES (?,?,?,?)");
  ins.bind(1, m.version);
  ins.bind(2, m.name);
  ins.bind(3, m.sha256);
  ins.bind(4, now_ms);
  ins.exec();
  tx.commit();
  return 1;
}

class SqliteMigrations final : public MigrationEngine {
 public:
  const char* schema_table_sql() const override {
    return "CREATE TABLE IF NOT EXISTS schema_migrations ("
           " version INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL,"
           " applied_at INTEGER NOT NULL) STRICT";
  }
  // A migration may rebuild a table (SQLite cannot alter constraints), so
  // they run with foreign keys off, as SQLite documents; each checks the
  // keys itself before it commits. The setting is restored afterwards.
  // (The pragma is a no-op inside a transaction, hence out here.)
  void before_run(Db& db) override {
    fk_was_on_ = db.scalar_int64("PRAGMA foreign_keys") == 1;
    db.exec("PRAGMA foreign_keys=OFF");
  }
  void after_run(Db& db) noexcept override {
    try {
      if (fk_was_on_) db.exec("PRAGMA foreign_keys=ON");
    } catch (const DbError&) {
    }
  }
  Result<void> check(Db& db, const Migration& m) override {
    Stmt fk = db.prepare("PRAGMA foreign_key_check");
    if (fk.step())
      return fail(codes::kInternal, "migration " + label(m) + " breaks a foreign key (table " +
                                        fk.col(0).text() + ")");
    return {};
  }

 private:
  bool fk_was_on_ = false;
};

}  // namespace

std::unique_ptr<MigrationEngine> sqlite_migrations() {
  return std::make_unique<SqliteMigrations>();
}

Result<int> migrate(Db& db, MigrationEngine& engine, std::span<const Migration> ms,
                    int64_t now_ms) {
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].version != static_cast<int>(i) + 1)
      return fail(codes::kInvalid, "migrations must be numbered 1..N in order");
  try {
    db.exec(engine.schema_table_sql());
    auto current = check_applied(read_applied(db), ms);
    if (!current) return std::unexpected(current.error());
    if (static_cast<size_t>(*current) >= ms.size()) return 0;
    engine.before_run(db);
    struct AfterRun {
      Db& db;
      MigrationEngine& engine;
      ~AfterRun() { engine.after_run(db); }
    } after{db, engine};
    int applied = 0;
    for (size_t i = static_cast<size_t>(*current); i < ms.size(); ++i) {
      auto n = apply_one(db, engine, ms, ms[i], now_ms);
      if (!n) return n;
      applied += *n;
    }
    return applied;
  } catch (const DbError& e) {
    return std::unexpected(to_error(e, "migrate"));
  }
}

Result<int> migrate(SQLite::Database& db, std::span<const Migration> ms, int64_t now_ms) {
  SqliteDb sqlite(db, SqliteDb::Borrow{});
  auto engine = sqlite_migrations();
  return migrate(sqlite, *engine, ms, now_ms);
}

Result<int> schema_version(SQLite::Database& db) {
  try {
    return db.execAndGet("SELECT coalesce(max(version), 0) FROM schema_migrations").getInt();
  } catch (const SQLite::Exception& e) {
    return std::unexpected(from_sqlite(e, "schema version"));
  }
}

}  // namespace zlh::api::store
