// Private to store/: Db over SQLiteCpp, the only code of the store that
// touches SQLiteCpp once every file is ported (docs/store-engines.md says
// which are). Same threading contract as Db.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <functional>
#include <optional>
#include <string_view>

#include "api/store/db.hpp"

namespace zlh::api::store {

// The code an SQLite (extended) result code maps to: see Db.
Code sqlite_code(int extended_code);
// SQLite's failure as an Error: sqlite_code's classification, the message
// prefixed with `context`, SQLite's text as the cause.
Error from_sqlite(const SQLite::Exception& e, std::string_view context);

// Tests only (store_sql_pg_test): when set, called with the text of every
// statement a SqliteDb prepares, so the store's SQL can be checked on
// PostgreSQL. Set it before any store runs and clear it after; calls come
// from whichever thread prepares.
void set_sqlite_prepare_hook(std::function<void(std::string_view sql)> hook);

class SqliteDb final : public Db {
 public:
  // Owns `db`.
  explicit SqliteDb(SQLite::Database db) : owned_(std::move(db)), db_(*owned_) {}
  // Uses `db`, which must outlive this object (the SQLite-typed entry
  // points of migrations.hpp, and tests).
  struct Borrow {};
  SqliteDb(SQLite::Database& db, Borrow) : db_(db) {}
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(std::string_view sql) override;
  Stmt prepare(std::string_view sql) override;
  Engine engine() const override { return Engine::kSqlite; }
  int64_t last_insert_id() override;
  void begin_write() override;
  void commit() override;
  void rollback() override;

  // The connection itself, for what is SQLite's own: opening (PRAGMAs)
  // and the migration runner (docs/store-engines.md).
  SQLite::Database& raw() { return db_; }

 private:
  std::optional<SQLite::Database> owned_;
  SQLite::Database& db_;
};

}  // namespace zlh::api::store
