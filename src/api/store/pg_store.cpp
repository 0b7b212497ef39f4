// Store on PostgreSQL: the URL, the connection pool, and open_postgres
// (docs/store-engines.md, "Opening" and "Transactions and locking").
#include "api/store/pg_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "api/store/impl.hpp"
#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_listener.hpp"

#if __has_include("api/store/pg_migrations.hpp")
#include "api/store/pg_migrations.hpp"
#else
// Until s25-schema's PostgreSQL MigrationEngine is merged: no migrations
// embedded for postgres yet, so only the schema_migrations table.
namespace zlh::api::store {
namespace {
class PgMigrationsStub final : public MigrationEngine {
 public:
  const char* schema_table_sql() const override {
    return "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
           " name TEXT NOT NULL, sha256 TEXT NOT NULL, applied_at BIGINT NOT NULL)";
  }
};
std::unique_ptr<MigrationEngine> pg_migrations() { return std::make_unique<PgMigrationsStub>(); }
}  // namespace
}  // namespace zlh::api::store
#endif

namespace zlh::api::store {
namespace {

// libpq's conninfo quoting: 'value' with \ and ' escaped.
std::string conninfo_quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

// `url` without its `pool=N` query parameter; N in *pool (0 when absent).
Result<std::string> take_pool(std::string_view url, int* pool) {
  *pool = 0;
  const size_t q = url.find('?');
  if (q == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, q));
  std::string_view rest = url.substr(q + 1);
  char sep = '?';
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (param.starts_with("pool=")) {
      std::string_view n = param.substr(5);
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), *pool);
      if (ec != std::errc() || p != n.data() + n.size() || *pool < 1 || *pool > kMaxPoolSize)
        return fail(codes::kInvalid, "store url: pool must be 1.." + std::to_string(kMaxPoolSize));
      continue;
    }
    out += sep;
    out += param;
    sep = '&';
  }
  return out;
}

}  // namespace

Result<PgUrl> parse_pg_url(std::string_view url, const std::optional<std::string>& password) {
  if (!url.starts_with("postgres://") && !url.starts_with("postgresql://"))
    return fail(codes::kInvalid, "store url: not postgres:// or postgresql://");
  PgUrl out;
  auto rest = take_pool(url, &out.pool);
  if (!rest) return fail(rest.error());
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(rest->c_str(), &err);
  // libpq's message may quote the URL; ours names only the redacted URL.
  PQfreemem(err);
  if (opts == nullptr)
    return fail(codes::kInvalid, "store url: malformed: " + redact_store_url(url));
  std::string ci;
  bool has_password = false;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string_view(o->keyword) == "password") {
      has_password = true;
      continue;
    }
    if (!ci.empty()) ci += ' ';
    ci += std::string(o->keyword) + "=" + conninfo_quote(o->val);
  }
  PQconninfoFree(opts);
  if (has_password)
    return fail(codes::kInvalid,
                "store url: holds a password; give it in --store-password-file or "
                "ZLH_STORE_PASSWORD instead");
  if (password) ci += " password=" + conninfo_quote(*password);
  out.conninfo = std::move(ci);
  return out;
}

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
  auto parsed = parse_pg_url(url, options.password);
  if (!parsed) return std::unexpected(parsed.error().wrap("open store"));
  options.password.reset();  // now only inside the pool's conninfo
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
