// Private to store/: the database engine behind Store, as the store's .cpp
// files see it. One implementation per engine: sqlite_db.cpp, and
// pg_db.cpp (not opened by Store yet; docs/store-engines.md). Both pass
// db_conformance_test.cpp. Nothing outside src/api/store includes this.
//
// Threading: a Db is one connection. It is not thread-safe; Store::Impl
// serialises every use (its mutex), and a Stmt must not outlive its Db.
//
// Errors: every call may throw DbError, already classified into the shared
// codes (unique/primary key violation → E_CONFLICT, busy/locked →
// E_UNAVAILABLE, disk and file trouble → E_IO, anything else E_INTERNAL).
// Store::Impl's guard turns it into an Error; the store's code never
// catches an engine's own exception type.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::store {

// An engine's failure, classified. what() is the engine's own message.
// `retry`: the transaction lost a conflict with another one (PostgreSQL's
// serialization failure 40001 or deadlock 40P01; code E_UNAVAILABLE) and
// running it again from the start may well succeed: Store::Impl::write does.
class DbError : public std::runtime_error {
 public:
  DbError(Code c, const std::string& message, bool retryable = false)
      : std::runtime_error(message), code(c), retry(retryable) {}
  Code code;
  bool retry;
};

// e as an Error: its code, "context: <engine message>", the engine's
// message as the cause.
inline Error to_error(const DbError& e, std::string_view context) {
  Error err = Error::make(e.code, std::string(context) + ": " + e.what());
  err.cause = e.what();
  return err;
}

// Which engine a Db is: for the few statements whose spelling differs
// (docs/store-engines.md, "Inventory").
enum class Engine { kSqlite, kPostgres };

class Stmt;

// One column of the current row of a Stmt; valid until the next step().
class Col {
 public:
  Col(const Stmt& s, int idx) : s_(&s), idx_(idx) {}
  bool is_null() const;
  int64_t int64() const;
  int int32() const { return static_cast<int>(int64()); }
  double real() const;
  std::string text() const;  // "" for NULL

 private:
  const Stmt* s_;
  int idx_;
};

// A prepared statement. Parameters are numbered from 1 and written in the
// SQL as `?`, `?N` (SQLite's spelling; the PostgreSQL engine rewrites
// them to `$N`). Columns are numbered from 0. Move-only.
class Stmt {
 public:
  // What an engine implements; the public calls below forward to it.
  class Backend {
   public:
    virtual ~Backend() = default;
    virtual void bind_int(int idx, int64_t v) = 0;
    virtual void bind_real(int idx, double v) = 0;
    virtual void bind_text(int idx, std::string_view v) = 0;
    virtual void bind_null(int idx) = 0;
    virtual bool step() = 0;
    virtual int exec() = 0;
    virtual void reset() = 0;
    virtual bool is_null(int col) const = 0;
    virtual int64_t int64(int col) const = 0;
    virtual double real(int col) const = 0;
    virtual std::string text(int col) const = 0;
  };

  explicit Stmt(std::unique_ptr<Backend> b) : b_(std::move(b)) {}

  // Integers (bool as 0/1, as the schema stores booleans), reals, text,
  // NULL, and an optional of any of them (NULL when empty).
  template <std::integral T>
  void bind(int idx, T v) {
    b_->bind_int(idx, static_cast<int64_t>(v));
  }
  void bind(int idx, double v) { b_->bind_real(idx, v); }
  void bind(int idx, std::string_view v) { b_->bind_text(idx, v); }
  void bind(int idx, const std::string& v) { b_->bind_text(idx, v); }
  void bind(int idx, const char* v) { b_->bind_text(idx, v); }
  void bind(int idx, std::nullopt_t) { b_->bind_null(idx); }
  template <class T>
  void bind(int idx, const std::optional<T>& v) {
    if (v)
      bind(idx, *v);
    else
      b_->bind_null(idx);
  }
  void bind_null(int idx) { b_->bind_null(idx); }

  // Advances to the next row: true while there is one.
  bool step() { return b_->step(); }
  // Runs the statement to its end; the number of rows it changed.
  int exec() { return b_->exec(); }
  // Ready to run again; bindings are kept.
  void reset() { b_->reset(); }

  Col col(int idx) const { return Col(*this, idx); }

 private:
  friend class Col;
  std::unique_ptr<Backend> b_;
};

inline bool Col::is_null() const { return s_->b_->is_null(idx_); }
inline int64_t Col::int64() const { return s_->b_->int64(idx_); }
inline double Col::real() const { return s_->b_->real(idx_); }
inline std::string Col::text() const { return s_->b_->text(idx_); }

class Db {
 public:
  virtual ~Db() = default;

  virtual Engine engine() const = 0;
  // Runs SQL without parameters or results; may hold several statements.
  virtual void exec(std::string_view sql) = 0;
  virtual Stmt prepare(std::string_view sql) = 0;
  // The id the last INSERT on this connection gave its row.
  virtual int64_t last_insert_id() = 0;

  // A write transaction: SQLite's BEGIN IMMEDIATE (the write lock taken at
  // the start), PostgreSQL's SERIALIZABLE. Not nested.
  virtual void begin_write() = 0;
  // A transaction that sees each statement's own snapshot and takes row
  // locks as it goes (PostgreSQL's READ COMMITTED), for `FOR UPDATE SKIP
  // LOCKED` claims; SQLite's BEGIN IMMEDIATE already excludes other writers.
  virtual void begin_committed() { begin_write(); }
  virtual void commit() = 0;
  virtual void rollback() = 0;

  // The first column of the first row of `sql`, which must yield one.
  int64_t scalar_int64(std::string_view sql) {
    Stmt q = prepare(sql);
    if (!q.step()) throw DbError(Code::kInternal, "no row: " + std::string(sql));
    return q.col(0).int64();
  }
};

// How a write transaction isolates itself (Db::begin_write, begin_committed).
enum class Isolation { kSerializable, kReadCommitted };

// begin_write() (or begin_committed()) now; rollback() at scope exit unless
// commit() was called.
class WriteTx {
 public:
  explicit WriteTx(Db& db, Isolation iso = Isolation::kSerializable) : db_(db) {
    if (iso == Isolation::kReadCommitted)
      db_.begin_committed();
    else
      db_.begin_write();
  }
  ~WriteTx() {
    if (!open_) return;
    try {
      db_.rollback();
    } catch (const DbError&) {  // the connection is gone, or the engine rolled back already
    }
  }
  void commit() {
    db_.commit();
    open_ = false;
  }
  WriteTx(const WriteTx&) = delete;
  WriteTx& operator=(const WriteTx&) = delete;

 private:
  Db& db_;
  bool open_ = true;
};

}  // namespace zlh::api::store
