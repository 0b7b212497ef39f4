// Private to store/: a pool of connections to one database, as
// Store::Impl uses it on PostgreSQL (docs/store-engines.md, "Transactions
// and locking"). SQLite has no pool: one connection behind Impl's mutex.
#pragma once

#include "api/store/db.hpp"

namespace zlh::api::store {

class DbPool {
 public:
  virtual ~DbPool() = default;
  // A connection for the caller alone until release(); outside any
  // transaction. Waits up to the pool's timeout (Options::busy_timeout)
  // when every connection is lent out. Throws DbError E_UNAVAILABLE when
  // none came in time or a new connection could not be made (the server
  // is down). Thread-safe.
  virtual Db& acquire() = 0;
  // Gives `db` (from acquire()) back. A connection that was lost, or that
  // is still inside a transaction, is closed instead; a later acquire()
  // opens a new one in its place. Thread-safe.
  virtual void release(Db& db) noexcept = 0;
};

// acquire() now, release() at scope exit.
class PooledDb {
 public:
  explicit PooledDb(DbPool& pool) : pool_(pool), db_(pool.acquire()) {}
  ~PooledDb() { pool_.release(db_); }
  PooledDb(const PooledDb&) = delete;
  PooledDb& operator=(const PooledDb&) = delete;
  Db& db() { return db_; }

 private:
  DbPool& pool_;
  Db& db_;
};

}  // namespace zlh::api::store
