#include "api/store/sqlite_db.hpp"

#include <sqlite3.h>

namespace zlh::api::store {

Code sqlite_code(int ext) {
  switch (ext & 0xff) {
    case SQLITE_CONSTRAINT:
      // Other constraints (CHECK, NOT NULL, foreign keys) are bugs: the
      // store checks those first.
      if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return codes::kConflict;
      return codes::kInternal;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return codes::kUnavailable;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
      return codes::kIo;
    default:
      return codes::kInternal;
  }
}

namespace {

[[noreturn]] void rethrow(const SQLite::Exception& e) {
  // SQLiteCpp sets the extended code when the error came from a connection.
  const int ext = e.getExtendedErrorCode() > 0 ? e.getExtendedErrorCode() : e.getErrorCode();
  throw DbError(sqlite_code(ext), e.what());
}

// Runs f, turning SQLiteCpp's exception into DbError.
template <typename F>
auto translated(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SQLite::Exception& e) {
    rethrow(e);
  }
}

class SqliteStmt final : public Stmt::Backend {
 public:
  SqliteStmt(SQLite::Database& db, std::string_view sql) : q_(db, std::string(sql)) {}

  void bind_int(int idx, int64_t v) override {
    translated([&] { q_.bind(idx, v); });
  }
  void bind_real(int idx, double v) override {
    translated([&] { q_.bind(idx, v); });
  }
  void bind_text(int idx, std::string_view v) override {
    translated([&] { q_.bind(idx, std::string(v)); });
  }
  void bind_null(int idx) override {
    translated([&] { q_.bind(idx); });
  }
  bool step() override {
    return translated([&] { return q_.executeStep(); });
  }
  int exec() override {
    return translated([&] { return q_.exec(); });
  }
  void reset() override {
    translated([&] { q_.reset(); });
  }
  bool is_null(int col) const override {
    return translated([&] { return q_.getColumn(col).isNull(); });
  }
  int64_t int64(int col) const override {
    return translated([&] { return q_.getColumn(col).getInt64(); });
  }
  double real(int col) const override {
    return translated([&] { return q_.getColumn(col).getDouble(); });
  }
  std::string text(int col) const override {
    return translated([&] { return q_.getColumn(col).getString(); });
  }

 private:
  // getColumn is not const in SQLiteCpp; reading a column changes nothing.
  mutable SQLite::Statement q_;
};

}  // namespace

void SqliteDb::exec(std::string_view sql) {
  translated([&] { db_.exec(std::string(sql)); });
}

namespace {
std::function<void(std::string_view)>& prepare_hook() {
  static std::function<void(std::string_view)> hook;
  return hook;
}
}  // namespace

void set_sqlite_prepare_hook(std::function<void(std::string_view sql)> hook) {
  prepare_hook() = std::move(hook);
}

Stmt SqliteDb::prepare(std::string_view sql) {
  if (const auto& hook = prepare_hook()) hook(sql);
  return translated([&] { return Stmt(std::make_unique<SqliteStmt>(db_, sql)); });
}

int64_t SqliteDb::last_insert_id() { return db_.getLastInsertRowid(); }

// What SQLite::Transaction(IMMEDIATE) does, as three calls.
void SqliteDb::begin_write() { exec("BEGIN IMMEDIATE"); }
void SqliteDb::commit() { exec("COMMIT"); }
void SqliteDb::rollback() { exec("ROLLBACK"); }

}  // namespace zlh::api::store
