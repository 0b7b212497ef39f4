// Private to store/: Db over libpq, one PostgreSQL connection
// (docs/store-engines.md). Not wired into Store yet. Same threading
// contract as Db: one thread at a time; a Stmt must not outlive its PgDb.
//
// Parameters: the store's `?`/`?N` become `$N` (pg_placeholders.hpp). Every
// value goes as text with type 0, so the server infers each parameter's
// type from where it stands, as SQLite's untyped values behave: `email = ?`
// on a citext column stays case-insensitive, text reaches a json column.
// Where nothing gives a type the server refuses the statement at prepare
// ("could not determine data type of parameter", 42P18 → E_INTERNAL), as
// in `? IS NULL`. Where a literal gives it, `? + 1`, `coalesce(?, 1)`,
// `?1 AS c UNION ALL SELECT 2`, the parameter is an int4 and a value past
// 2^31 (a time in ms) fails when run (22003 → E_INTERNAL). A bare
// `SELECT ?` reads back as text, which the getters convert. Write
// `CAST(? AS BIGINT)` in those places (both engines accept it).
//
// Statements are prepared once per connection: a map from the SQL text to
// a server-side name (zlh_1, zlh_2, …), kept until the connection closes.
// Results are read whole (PQexecPrepared), so Stmts of the same SQL never
// interfere. A statement prepared before DDL that changes its result's
// columns fails when run again ("cached plan must not change result
// type", 0A000 → E_INTERNAL): migrations run on a connection of their own.
//
// Reading columns, as SQLite's getters do: int64() of a NULL is 0; of an
// integer, numeric or float text its value (floats truncated toward zero);
// boolean `t`/`f` read as 1/0 (text() too: "1"/"0"), so `SELECT EXISTS(…)`
// reads the same on both engines. real() likewise. text() of a NULL is "".
//
// Errors (pg_code): SQLSTATE 23505 → E_CONFLICT; other 23xxx (foreign key,
// CHECK, NOT NULL) → E_INTERNAL, as SQLite's other constraints; 40001,
// 40P01, 55P03, 57014, class 08 and 57, 53300 and a lost connection →
// E_UNAVAILABLE (40001 and 40P01 with DbError::retry set: the SERIALIZABLE
// retry loop belongs to Store::Impl); other 53xxx, 58xxx, XX001/XX002 → E_IO;
// the rest → E_INTERNAL. A connection that was lost stays lost: broken()
// says so and its owner opens another.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/store/db.hpp"
#include "api/store/pg_placeholders.hpp"

namespace zlh::api::store {

// The code a SQLSTATE maps to: see above.
Code pg_code(std::string_view sqlstate);

class PgDb final : public Db {
 public:
  // Connects with a libpq connection string or URI (the password given
  // inside it, or by PGPASSFILE/PGPASSWORD: the caller's business). The
  // connection string is never logged nor put into an error, since it may
  // hold the password. client_encoding is forced to UTF8. Errors:
  // E_INVALID when libpq cannot parse it, E_UNAVAILABLE when the server
  // refuses or cannot be reached (with libpq's message, which names the
  // host or socket but not the password).
  static Result<std::unique_ptr<PgDb>> connect(const std::string& conninfo);
  ~PgDb() override;
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  void exec(std::string_view sql) override;
  Stmt prepare(std::string_view sql) override;
  // SELECT lastval(): the value the last nextval() of this session gave,
  // whichever sequence it came from. Right for the store's INSERTs, whose
  // only sequence is the table's identity, and only then: an INSERT that
  // gives its id explicitly leaves it unchanged, a trigger or DEFAULT that
  // draws from another sequence changes it, and before any nextval it
  // fails (55000, E_INTERNAL). A stopgap: the INSERTs get `RETURNING id`
  // (both engines) and this call goes (docs/store-engines.md).
  Engine engine() const override { return Engine::kPostgres; }
  int64_t last_insert_id() override;
  // BEGIN ISOLATION LEVEL SERIALIZABLE: the store's check-then-write code
  // assumes one writer at a time; PostgreSQL gives that guarantee by
  // failing one of two conflicting transactions with 40001 (E_UNAVAILABLE),
  // at any statement or at commit. Not nested: begin_write() inside a
  // transaction, and commit()/rollback() outside one, throw E_INTERNAL
  // (SQLite refuses them too). commit() of a transaction that an earlier
  // error aborted rolls back and throws E_INTERNAL.
  void begin_write() override;
  // BEGIN ISOLATION LEVEL READ COMMITTED (same nesting rules).
  void begin_committed() override;
  void commit() override;
  void rollback() override;

  // The connection is gone (the server closed it, or the network did).
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Not broken(), having first read what the server sent while the
  // connection sat idle (a poll without waiting): a connection the server
  // closed meanwhile (restart, pg_terminate_backend) is found here rather
  // than by the next statement. Outside a transaction only.
  bool alive();

  // Raw libpq, for the engine's own statements (tests).
  PGconn* raw() { return conn_; }

  // ---- LISTEN (pg_listener.hpp) ----
  // The server process serving this connection (pg_backend_pid).
  int backend_pid() const { return PQbackendPID(conn_); }
  struct Notification {
    std::string channel;
    std::string payload;
  };
  // The notifications that arrived for the channels this connection
  // LISTENs on, waiting up to `timeout` for the first one, or for `wake_fd`
  // (>= 0) to become readable: then it returns at once, maybe with none.
  // Throws DbError (E_UNAVAILABLE) when the connection is lost.
  std::vector<Notification> wait_notifications(std::chrono::milliseconds timeout, int wake_fd = -1);

 private:
  struct Prepared {
    std::string name;
    int params = 0;
  };
  explicit PgDb(PGconn* c) : conn_(c) {}
  PGconn* conn_;
  std::unordered_map<std::string, Prepared> prepared_;
};

}  // namespace zlh::api::store
