#include "api/store/migrations.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

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

std::vector<Applied> read_applied(SQLite::Database& db) {
  std::vector<Applied> out;
  SQLite::Statement q(db, "SELECT version, name, sha256 FROM schema_migrations ORDER BY version");
  while (q.executeStep())
    out.push_back(
        {q.getColumn(0).getInt(), q.getColumn(1).getString(), q.getColumn(2).getString()});
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

}  // namespace

Result<int> migrate(SQLite::Database& db, std::span<const Migration> ms, int64_t now_ms) {
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].version != static_cast<int>(i) + 1)
      return fail(codes::kInvalid, "migrations must be numbered 1..N in order");
  try {
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL,"
        " applied_at INTEGER NOT NULL) STRICT");
    auto current = check_applied(read_applied(db), ms);
    if (!current) return std::unexpected(current.error());
    if (static_cast<size_t>(*current) >= ms.size()) return 0;
    // A migration may rebuild a table (SQLite cannot alter constraints), so
    // they run with foreign keys off, as SQLite documents; each checks the
    // keys itself before it commits. The setting is restored afterwards.
    // (The pragma is a no-op inside a transaction, hence out here.)
    const bool fk_was_on = db.execAndGet("PRAGMA foreign_keys").getInt() == 1;
    db.exec("PRAGMA foreign_keys=OFF");
    struct RestoreForeignKeys {
      SQLite::Database& db;
      bool on;
      ~RestoreForeignKeys() {
        try {
          if (on) db.exec("PRAGMA foreign_keys=ON");
        } catch (const SQLite::Exception&) {
        }
      }
    } restore{db, fk_was_on};
    int applied = 0;
    for (size_t i = static_cast<size_t>(*current); i < ms.size(); ++i) {
      const Migration& m = ms[i];
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      // Re-read under the write lock: another process may have migrated
      // between our check and BEGIN IMMEDIATE.
      auto now_at = check_applied(read_applied(db), ms);
      if (!now_at) return std::unexpected(now_at.error());
      if (*now_at >= m.version) continue;
      try {
        db.exec(std::string(m.sql));
      } catch (const SQLite::Exception& e) {
        return std::unexpected(from_sqlite(e, "migration " + label(m)));
      }
      SQLite::Statement fk(db, "PRAGMA foreign_key_check");
      if (fk.executeStep())
        return fail(codes::kInternal, "migration " + label(m) + " breaks a foreign key (table " +
                                          fk.getColumn(0).getString() + ")");
      SQLite::Statement ins(
          db, "INSERT INTO schema_migrations(version, name, sha256, applied_at) VALUES (?,?,?,?)");
      ins.bind(1, m.version);
      ins.bind(2, std::string(m.name));
      ins.bind(3, std::string(m.sha256));
      ins.bind(4, now_ms);
      ins.exec();
      tx.commit();
      ++applied;
    }
    return applied;
  } catch (const SQLite::Exception& e) {
    return std::unexpected(from_sqlite(e, "migrate"));
  }
}

Result<int> schema_version(SQLite::Database& db) {
  try {
    return db.execAndGet("SELECT coalesce(max(version), 0) FROM schema_migrations").getInt();
  } catch (const SQLite::Exception& e) {
    return std::unexpected(from_sqlite(e, "schema version"));
  }
}

}  // namespace zlh::api::store
