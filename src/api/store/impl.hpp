// Private to store/: the connection behind Store, and the helpers the
// store's .cpp files share. Engine-neutral: the engine is behind Db
// (db.hpp). Nothing outside src/api/store includes this.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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

// PostgreSQL: a session advisory lock (key "zlh_writ") around each write
// transaction, taken before BEGIN so the snapshot follows the wait, and
// bounded by lock_timeout (E_UNAVAILABLE). A first attempt takes it shared,
// so writers run side by side and SERIALIZABLE sorts them out; a writer
// that already lost a conflict takes it exclusive and so runs alone
// across every replica (new shared requests queue behind it), which
// guarantees progress on hot spots such as 50 creates racing for the
// lowest free vmid. Released at scope exit, and by the server if the
// connection dies. kNone: no lock (SQLite, READ COMMITTED claims).
class WriterGate {
 public:
  enum Mode { kNone, kShared, kExclusive };
  static constexpr int64_t kKey = 0x7a6c685f77726974;
  WriterGate(Db& db, Mode mode) : db_(db), mode_(mode) {
    if (mode_ != kNone) db_.exec(sql(mode_ == kShared ? "lock_shared" : "lock"));
  }
  ~WriterGate() {
    if (mode_ == kNone) return;
    try {
      db_.exec(sql(mode_ == kShared ? "unlock_shared" : "unlock"));
    } catch (const DbError&) {  // the connection is gone, and the lock with it
    }
  }
  WriterGate(const WriterGate&) = delete;
  WriterGate& operator=(const WriterGate&) = delete;

 private:
  static std::string sql(const char* fn) {
    return std::string("SELECT pg_advisory_") + fn + "(" + std::to_string(kKey) + ")";
  }
  Db& db_;
  Mode mode_;
};

// Options::pool_size and `?pool=` are 1..kMaxPoolSize.
inline constexpr int kMaxPoolSize = 64;

// ---- change notifications (notify.cpp; docs/store-engines.md "Cache
// invalidation") ----
// The channel every replica LISTENs on.
inline constexpr const char* kChangeChannel = "zlh_cache";
// PostgreSQL: SELECT pg_notify('zlh_cache', key) on `db`, delivered to
// every listener when its transaction commits, dropped if it rolls back.
void publish_change(Db& db, std::string_view key);

// The callbacks of Store::on_change. Thread-safe; fire() calls them outside
// its lock, in registration order.
class ChangeCallbacks {
 public:
  void add(std::function<void(std::string_view)> f);
  void fire(std::string_view key) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::function<void(std::string_view)>> fs_;
};

// What delivers other replicas' changes (PostgreSQL: pg_listener.hpp's
// LISTEN thread). Stopped by its destructor.
class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
};

// leases.cpp: the innermost LeaseFence of this thread (none: nullptr), and
// whether its lease is still held, read inside the caller's transaction.
const Lease* current_fence();
bool lease_held(Db& db, const Lease& lease);
Error lease_lost();

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
  // notify: on_change's callbacks; the keys the write in progress changed
  // (SQLite, under mu); the feed of PostgreSQL's notifications (destroyed
  // before `changes` and the pool: it calls `changes`).
  ChangeCallbacks changes;
  std::vector<std::string> pending_changes;
  std::unique_ptr<ChangeFeed> feed;

  int64_t now_ms() const { return to_ms(opts.clock()); }

  // Inside a write: `key` changed (docs/store-engines.md "Cache
  // invalidation"). PostgreSQL notifies at commit (every replica's
  // listener, this one's too, fires it; a re-run attempt notifies again,
  // an aborted one not at all); SQLite queues it and write() fires it
  // after the commit. A rolled-back write fires nothing.
  void changed(Db& d, std::string key) {
    if (d.engine() == Engine::kPostgres) return publish_change(d, key);
    for (const auto& k : pending_changes)
      if (k == key) return;
    pending_changes.push_back(std::move(key));
  }
  // changed() for "server:<id>" and "vmid:<n>" of the vmid it holds now
  // (call it before the write releases the vmid).
  void changed_server(Db& d, int64_t server_id);

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
  // SQLite: the keys changed() queued fire after the commit, outside the
  // mutex (a callback may call the store).
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
      std::vector<std::string> committed;
      auto out = [&] {
        std::lock_guard lock(mu);
        pending_changes.clear();
        auto r = guarded(context, [&] { return once(*db, iso, f); });
        if (r) committed.swap(pending_changes);
        pending_changes.clear();
        return r;
      }();
      for (const auto& k : committed) changes.fire(k);
      return out;
    }
    return guarded(context, [&] {
      PooledDb c(*pool);
      for (int attempt = 1;; ++attempt) {
        try {
          WriterGate gate(c.db(), iso != Isolation::kSerializable ? WriterGate::kNone
                                  : attempt == 1                  ? WriterGate::kShared
                                                                  : WriterGate::kExclusive);
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
    // Fencing (LeaseFence): a job's writes only while its lease is held.
    if (const Lease* l = current_fence(); l && !lease_held(d, *l))
      return std::unexpected(lease_lost());
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
