// Store on PostgreSQL: the connection pool and open_postgres
// (docs/store-engines.md, "Opening" and "Transactions and locking").
#include "api/store/pg_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "api/store/impl.hpp"
#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_listener.hpp"
#include "api/store/pg_migrations.hpp"
#include "api/store/pg_url.hpp"

namespace zlh::api::store {
namespace {

Result<std::unique_ptr<PgDb>> connect_with_timeout(const std::string& conninfo,
                                                   std::chrono::milliseconds lock_timeout) {
  auto db = PgDb::connect(conninfo);
  if (!db) return db;
  try {
    // 0 would mean "wait forever" to PostgreSQL; SQLite's 0 fails at once.
    (*db)->exec("SET lock_timeout = " + std::to_string(std::max<int64_t>(1, lock_timeout.count())));
  } catch (const DbError& e) {
    return std::unexpected(to_error(e, "postgresql: set lock_timeout"));
  }
  return db;
}

class PgPool final : public DbPool {
 public:
  PgPool(std::string conninfo, int size, std::chrono::milliseconds lock_timeout,
         std::chrono::milliseconds wait)
      : conninfo_(std::move(conninfo)), size_(size), lock_timeout_(lock_timeout), wait_(wait) {}

  Db& acquire() override {
    const auto deadline = std::chrono::steady_clock::now() + wait_;
    std::unique_lock lock(mu_);
    for (;;) {
      while (!idle_.empty()) {
        std::unique_ptr<PgDb> c = std::move(idle_.back());
        idle_.pop_back();
        if (c->alive()) return *c.release();
        --open_;  // lost while idle (a restart): close it, open another
      }
      if (open_ < size_) return connect_new(lock);
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= size_)
        throw DbError(codes::kUnavailable, "postgresql: no free connection in the pool within " +
                                               std::to_string(wait_.count()) + " ms");
    }
  }

  void release(Db& db) noexcept override {
    std::unique_ptr<PgDb> c(static_cast<PgDb*>(&db));
    const bool keep = PQtransactionStatus(c->raw()) == PQTRANS_IDLE && !c->broken();
    {
      std::lock_guard lock(mu_);
      if (keep)
        idle_.push_back(std::move(c));
      else
        --open_;
    }
    cv_.notify_one();
    // A dropped connection is closed here, outside the lock (c's destructor).
  }

  ~PgPool() override = default;

 private:
  // A new connection, counted before connecting (outside the lock) so the
  // pool never passes its size.
  Db& connect_new(std::unique_lock<std::mutex>& lock) {
    ++open_;
    lock.unlock();
    auto c = connect_with_timeout(conninfo_, lock_timeout_);
    lock.lock();
    if (!c) {
      --open_;
      cv_.notify_one();
      throw DbError(c.error().code == codes::kInvalid ? codes::kInternal : c.error().code,
                    c.error().message);
    }
    return *c->release();
  }

  const std::string conninfo_;
  const int size_;
  const std::chrono::milliseconds lock_timeout_;
  const std::chrono::milliseconds wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgDb>> idle_;
  int open_ = 0;  // idle + lent out
};

}  // namespace

std::unique_ptr<DbPool> make_pg_pool(std::string conninfo, int size,
                                     std::chrono::milliseconds lock_timeout,
                                     std::chrono::milliseconds wait) {
  return std::make_unique<PgPool>(std::move(conninfo), size, lock_timeout, wait);
}

Result<std::unique_ptr<Store>> Store::open_postgres(const std::string& url, Options options) {
  const std::string shown = redact_store_url(url);
  auto parsed = pg_conninfo_from_url(url);
  if (!parsed) return std::unexpected(parsed.error().wrap("open store"));
  if (options.password) {
    parsed->conninfo = pg_conninfo_with_password(std::move(parsed->conninfo), *options.password);
    options.password.reset();  // now only inside the pool's conninfo
  }
  const int size = parsed->pool > 0 ? parsed->pool : options.pool_size;
  {
    // Migrations on a connection of their own: statements the pool's
    // connections cached before a migration changed their tables would
    // fail (pg_db.hpp).
    auto db = connect_with_timeout(parsed->conninfo, options.busy_timeout);
    if (!db) return std::unexpected(db.error().wrap("open store " + shown));
    auto engine = pg_migrations();
    if (auto r =
            migrate(**db, *engine, embedded_migrations(Engine::kPostgres), to_ms(options.clock()));
        !r)
      return std::unexpected(r.error().wrap("open store " + shown));
  }
  auto pool = make_pg_pool(parsed->conninfo, size, options.busy_timeout, options.busy_timeout);
  auto impl = std::make_unique<Impl>(std::move(pool), std::move(options));
  // Every replica's changes (Store::on_change), on a connection of its own.
  auto feed =
      PgListener::start(std::move(parsed->conninfo),
                        [changes = &impl->changes](std::string_view key) { changes->fire(key); });
  if (!feed) return std::unexpected(feed.error().wrap("open store " + shown));
  impl->feed = std::move(*feed);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

}  // namespace zlh::api::store
