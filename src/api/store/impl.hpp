// Private to store/: the connection behind Store, and the helpers the
// store's .cpp files share. Engine-neutral: the engine is behind Db
// (db.hpp). Nothing outside src/api/store includes this.
#pragma once

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
#include "api/store/db_pool.hpp"
#include "api/store/store.hpp"

namespace zlh::api::store {

inline int64_t to_ms(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Time from_ms(int64_t ms) {
  return Time(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}
inline std::optional<Time> opt_time(const Col& c) {
  if (c.is_null()) return std::nullopt;
  return from_ms(c.int64());
}
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
bool row_exists(Db& db, const char* sql, int64_t id);

// Runs `sql` once with `args` bound to ?1, ?2, … in order.
template <class... A>
void exec_with(Db& db, const char* sql, const A&... args) {
  Stmt q = db.prepare(sql);
  int i = 0;
  (q.bind(++i, args), ...);
  q.exec();
}

// Runs an `INSERT … RETURNING id` (both engines; no last_insert_id) to its
// end; the id of its row.
inline int64_t returning_id(Stmt& q) {
  if (!q.step()) throw DbError(codes::kInternal, "INSERT … RETURNING id gave no row");
  const int64_t id = q.col(0).int64();
  while (q.step()) {
  }
  return id;
}

// jobs.cpp: inserts a queued job with its pending steps and returns it; the
// caller holds a write transaction.
Job insert_job(Db& db, int64_t server_id, JobKind kind, std::span<const std::string> steps,
               int64_t now_ms, const std::string& params = "{}");
// servers.cpp: the server's columns (read_server) followed by the member's
// permissions (NULL: not a member) of user ?1 and the owner's username, in
// db's engine's spelling (the ports list is an aggregate spelled per engine).
const char* server_access_select(const Db& db);
Server read_server(Stmt& q);
// servers.cpp: whether n.owner_id's live servers leave room for n (E_QUOTA).
Result<void> check_quotas(Db& db, const NewServer& n);

// jobs.cpp: "IN ('queued','running','compensating')".
const std::string& unfinished_in();

// Sleeps before attempt `attempt` + 1 of a transaction that lost a
// serialization conflict: exponential with jitter, so the losers of one
// conflict do not meet again at once (store.cpp).
void retry_pause(int attempt);

// Options::pool_size and `?pool=` are 1..kMaxPoolSize.
inline constexpr int kMaxPoolSize = 64;

struct Store::Impl {
  // SQLite: one connection, every call under `mu`.
  Impl(std::unique_ptr<Db> database, Options options)
      : db(std::move(database)), opts(std::move(options)) {}
  // PostgreSQL: a pool, no process-wide lock; the database isolates.
  Impl(std::unique_ptr<DbPool> connections, Options options)
      : pool(std::move(connections)), opts(std::move(options)) {}

  // A transaction that lost a serialization conflict (DbError::retry) is
  // run this many times in all before write() gives up (E_UNAVAILABLE).
  static constexpr int kWriteAttempts = 5;

  std::mutex mu;  // guards db: one statement or transaction at a time
  std::unique_ptr<Db> db;
  std::unique_ptr<DbPool> pool;
  Options opts;

  int64_t now_ms() const { return to_ms(opts.clock()); }

  // Runs f(db) on a connection of its own (SQLite: under the mutex;
  // PostgreSQL: one borrowed from the pool, outside a transaction, so each
  // statement sees the latest commits). Engine exceptions become Errors
  // prefixed with `context`; f reports its own failures as Result errors.
  template <typename F>
  auto read(std::string_view context, F&& f) -> std::invoke_result_t<F, Db&> {
    if (pool)
      return guarded(context, [&] {
        PooledDb c(*pool);
        return f(c.db());
      });
    std::lock_guard lock(mu);
    return guarded(context, [&] { return f(*db); });
  }

  // Same inside a write transaction (Db::begin_write) … COMMIT; rolled back
  // when f returns an error or throws, so a failed call changes nothing.
  // On PostgreSQL the transaction is SERIALIZABLE, and f runs again from
  // the start when the database failed it for a conflict (40001, 40P01),
  // up to kWriteAttempts times: f must only touch the database (its
  // effects outside it would happen once per attempt).
  template <typename F>
  auto write(std::string_view context, F&& f) -> std::invoke_result_t<F, Db&> {
    return transact(context, Isolation::kSerializable, kWriteAttempts, f);
  }

  // A READ COMMITTED transaction (Db::begin_committed), never re-run: for
  // job claims and lease heartbeats, whose `FOR UPDATE SKIP LOCKED` does
  // the isolating. SQLite: the same as write().
  template <typename F>
  auto write_committed(std::string_view context, F&& f) -> std::invoke_result_t<F, Db&> {
    return transact(context, Isolation::kReadCommitted, 1, f);
  }

 private:
  template <typename F>
  auto transact(std::string_view context, Isolation iso, int attempts, F& f)
      -> std::invoke_result_t<F, Db&> {
    if (!pool) {
      std::lock_guard lock(mu);
      return guarded(context, [&] { return once(*db, iso, f); });
    }
    return guarded(context, [&] {
      PooledDb c(*pool);
      for (int attempt = 1;; ++attempt) {
        try {
          return once(c.db(), iso, f);
        } catch (const DbError& e) {
          if (!e.retry || attempt >= attempts) throw;
        }
        retry_pause(attempt);
      }
    });
  }

  template <typename F>
  static auto once(Db& d, Isolation iso, F& f) -> std::invoke_result_t<F, Db&> {
    WriteTx tx(d, iso);
    auto r = f(d);
    if (r) tx.commit();
    return r;
  }

  template <typename F>
  static auto guarded(std::string_view context, F&& f) -> std::invoke_result_t<F> {
    try {
      return f();
    } catch (const DbError& e) {
      return std::unexpected(to_error(e, context));
    } catch (const std::exception& e) {
      Error err = Error::make(codes::kInternal, std::string(context) + ": " + e.what());
      return std::unexpected(std::move(err));
    }
  }
};

}  // namespace zlh::api::store
