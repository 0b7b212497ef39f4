// Private to store/: the connection behind Store, and the helpers the
// store's .cpp files share. Nothing outside src/api/store includes this.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "api/store/db.hpp"
#include "api/store/sqlite_db.hpp"
#include "api/store/store.hpp"

namespace zlh::api::store {

inline int64_t to_ms(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Time from_ms(int64_t ms) {
  return Time(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}
inline std::optional<Time> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_ms(c.getInt64());
}
inline std::optional<Time> opt_time(const Col& c) {
  if (c.is_null()) return std::nullopt;
  return from_ms(c.int64());
}
// SQLite's failure as an Error: a UNIQUE or PRIMARY KEY violation →
// E_CONFLICT, busy/locked → E_UNAVAILABLE, disk and file trouble → E_IO,
// anything else (other constraints included: the store checks those first)
// E_INTERNAL.
Error from_sqlite(const SQLite::Exception& e, std::string_view context);

// The value of a parse_* result read back from a row. The schema's CHECK
// constraints make a bad enum value impossible; one appearing anyway is a bug,
// thrown here and reported as E_INTERNAL by Impl's guard.
template <typename T>
T must(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return *std::move(r);
}

// True when `text` parses as a JSON object.
bool is_json_object(std::string_view text);

// Whether `sql`, with one `?` bound to `id`, finds a row.
bool row_exists(SQLite::Database& db, const char* sql, int64_t id);
bool row_exists(Db& db, const char* sql, int64_t id);

// Runs `sql` once with `args` bound to ?1, ?2, … in order.
template <class... A>
void exec_with(SQLite::Database& db, const char* sql, const A&... args) {
  SQLite::Statement q(db, sql);
  int i = 0;
  (q.bind(++i, args), ...);
  q.exec();
}

template <class... A>
void exec_with(Db& db, const char* sql, const A&... args) {
  Stmt q = db.prepare(sql);
  int i = 0;
  (q.bind(++i, args), ...);
  q.exec();
}

// Binds `v` to parameter `idx`; NULL when there is none.
void bind_or_null(SQLite::Statement& q, int idx, const std::optional<std::string>& v);

// jobs.cpp: inserts a queued job with its pending steps and returns it; the
// caller holds a write transaction.
Job insert_job(Db& db, int64_t server_id, JobKind kind, std::span<const std::string> steps,
               int64_t now_ms, const std::string& params = "{}");
// servers.cpp: the server's columns (read_server) followed by the member's
// permissions (NULL: not a member) of user ?1 and the owner's username.
extern const char* const kServerAccessSelect;
Server read_server(Stmt& q);
// servers.cpp: whether n.owner_id's live servers leave room for n (E_QUOTA).
Result<void> check_quotas(Db& db, const NewServer& n);

// jobs.cpp: "IN ('queued','running','compensating')".
const std::string& unfinished_in();

struct Store::Impl {
  Impl(std::unique_ptr<SqliteDb> database, Options options)
      : db(std::move(database)),
        sqlite(static_cast<SqliteDb&>(*db).raw()),
        opts(std::move(options)) {}

  std::mutex mu;  // guards db: one statement or transaction at a time
  std::unique_ptr<Db> db;
  // db's own connection, for the files not yet ported to Db
  // (docs/store-engines.md); goes away with the last of them.
  SQLite::Database& sqlite;
  Options opts;

  int64_t now_ms() const { return to_ms(opts.clock()); }

  // f's result, whether it takes a Db& (ported) or an SQLite::Database&.
  template <typename F>
  using Ret = typename std::conditional_t<std::is_invocable_v<F, Db&>, std::invoke_result<F, Db&>,
                                          std::invoke_result<F, SQLite::Database&>>::type;

  // Runs f(db) under the mutex. Engine exceptions become Errors prefixed
  // with `context`; f reports its own failures as Result errors.
  template <typename F>
  auto read(std::string_view context, F&& f) -> Ret<F> {
    std::lock_guard lock(mu);
    return guarded(context, [&] { return call(f); });
  }

  // Same inside a write transaction (Db::begin_write) … COMMIT; rolled back
  // when f returns an error or throws, so a failed call changes nothing.
  template <typename F>
  auto write(std::string_view context, F&& f) -> Ret<F> {
    std::lock_guard lock(mu);
    return guarded(context, [&] {
      WriteTx tx(*db);
      auto r = call(f);
      if (r) tx.commit();
      return r;
    });
  }

 private:
  template <typename F>
  Ret<F> call(F& f) {
    if constexpr (std::is_invocable_v<F, Db&>)
      return f(*db);
    else
      return f(sqlite);
  }

  template <typename F>
  static auto guarded(std::string_view context, F&& f) -> std::invoke_result_t<F> {
    try {
      return f();
    } catch (const DbError& e) {
      Error err = Error::make(e.code, std::string(context) + ": " + e.what());
      err.cause = e.what();
      return std::unexpected(std::move(err));
    } catch (const SQLite::Exception& e) {
      return std::unexpected(from_sqlite(e, context));
    } catch (const std::exception& e) {
      Error err = Error::make(codes::kInternal, std::string(context) + ": " + e.what());
      return std::unexpected(std::move(err));
    }
  }
};

}  // namespace zlh::api::store
