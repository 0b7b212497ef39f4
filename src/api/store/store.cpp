#include "api/store/store.hpp"

#include <SQLiteCpp/Statement.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "api/store/impl.hpp"
#include "api/store/migrations.hpp"
#include "api/store/sqlite_db.hpp"

namespace zlh::api::store {

Error from_sqlite(const SQLite::Exception& e, std::string_view context) {
  // SQLiteCpp sets the extended code when the error came from a connection.
  const int ext = e.getExtendedErrorCode() > 0 ? e.getExtendedErrorCode() : e.getErrorCode();
  Error err = Error::make(sqlite_code(ext), std::string(context) + ": " + e.what());
  err.cause = e.what();
  return err;
}

bool is_json_object(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object();
}

bool row_exists(Db& db, const char* sql, int64_t id) {
  Stmt q = db.prepare(sql);
  q.bind(1, id);
  return q.step();
}

namespace {

Result<void> check_options(const Options& o) {
  auto vmids = [](const Range& r, std::string_view what) -> Result<void> {
    // Proxmox accepts vmids 100..999999999.
    if (r.lo < 100 || r.hi > 999'999'999 || r.lo > r.hi)
      return std::unexpected(
          Error::invalid(std::string(what),
                         "bad vmid range " + std::to_string(r.lo) + "-" + std::to_string(r.hi)));
    return {};
  };
  if (auto r = vmids(o.game_vmids, "game_vmids"); !r) return r;
  if (auto r = vmids(o.dev_vmids, "dev_vmids"); !r) return r;
  if (o.ports.lo < 1 || o.ports.hi > 65535 || o.ports.lo > o.ports.hi)
    return std::unexpected(Error::invalid("ports", "bad port range " + std::to_string(o.ports.lo) +
                                                       "-" + std::to_string(o.ports.hi)));
  if (o.busy_timeout.count() < 0)
    return std::unexpected(Error::invalid("busy_timeout", "negative"));
  if (!o.clock) return std::unexpected(Error::invalid("clock", "missing"));
  if (o.pool_size < 1 || o.pool_size > kMaxPoolSize)
    return std::unexpected(Error::invalid("pool_size", "not in 1..64"));
  return {};
}

// SQLite would create the file with the process umask (typically 0644); the
// database holds password hashes and session ids, so it is made 0600 first,
// and tightened if it already exists looser. SQLite gives its -wal and -shm
// files the database file's mode.
Result<void> create_private(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(Error::from_errno("open " + path, errno));
  struct stat st {};
  Result<void> out;
  if (::fstat(fd, &st) != 0)
    out = std::unexpected(Error::from_errno("stat " + path, errno));
  else if ((st.st_mode & 0077) != 0 && ::fchmod(fd, 0600) != 0)
    out = std::unexpected(Error::from_errno("chmod " + path, errno));
  ::close(fd);
  return out;
}

// Switching a fresh file to WAL takes an exclusive lock from a shared one.
// When two connections do that at once (two processes starting on an empty
// store), SQLite answers one of them SQLITE_BUSY at once instead of calling
// the busy handler, since waiting could deadlock. The loser retries, having
// released its shared lock, until the busy timeout runs out.
std::string switch_to_wal(SQLite::Database& db, std::chrono::milliseconds busy_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  for (int attempt = 0;; ++attempt) {
    try {
      return db.execAndGet("PRAGMA journal_mode=WAL").getString();
    } catch (const SQLite::Exception& e) {
      if ((e.getErrorCode() & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline)
        throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + (attempt % 8) * 2));
  }
}

bool starts_with_scheme(std::string_view url, std::string_view scheme) {
  return url.size() > scheme.size() && url.substr(0, scheme.size()) == scheme;
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

void retry_pause(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int cap_ms = std::min(5 << std::min(attempt, 5), 100);  // 10, 20, 40, 80, 100 ms
  std::uniform_int_distribution<int> jitter(1, cap_ms);         // full jitter
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

std::string redact_store_url(std::string_view url) {
  std::string out(url);
  // userinfo: scheme://user:password@host
  if (auto scheme_end = out.find("://"); scheme_end != std::string::npos) {
    const size_t start = scheme_end + 3;
    const size_t auth_end = out.find_first_of("/?#", start);
    const size_t at = out.rfind('@', auth_end == std::string::npos ? out.size() : auth_end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // ?password=… or &password=…
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p)) {
    const bool param = p > 0 && (out[p - 1] == '?' || out[p - 1] == '&');
    p += 9;
    if (!param) continue;
    const size_t end = out.find_first_of("&#", p);
    out.replace(p, (end == std::string::npos ? out.size() : end) - p, "***");
  }
  return out;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& url, Options options) {
  if (auto ok = check_options(options); !ok) return std::unexpected(ok.error().wrap("open store"));
  if (starts_with_scheme(url, "postgres://") || starts_with_scheme(url, "postgresql://")) {
#ifdef ZLH_STORE_POSTGRES
    return open_postgres(url, std::move(options));
#else
    return fail(codes::kUnavailable, "open store: this build has no PostgreSQL support (libpq)");
#endif
  }
  if (options.password)
    return fail(codes::kInvalid, "open store: a password is for a PostgreSQL store only");
  std::string path = url.starts_with("sqlite:") ? url.substr(7) : url;
  if (path.empty()) return fail(codes::kInvalid, "open store: empty path");
  if (url.find("://") != std::string::npos && !url.starts_with("sqlite:"))
    return fail(codes::kInvalid, "open store: unknown scheme in " + redact_store_url(url) +
                                     " (sqlite:<path> or postgres://…)");
  return open_sqlite(path, std::move(options));
}

Result<std::unique_ptr<Store>> Store::open_sqlite(const std::string& path, Options options) {
  if (auto ok = create_private(path); !ok) return std::unexpected(ok.error().wrap("open store"));
  try {
    // NOMUTEX: Impl::mu already serialises every use of the connection, so
    // SQLite's own per-call mutex would only add a lock to each column read.
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        static_cast<int>(options.busy_timeout.count()));
    std::string mode = switch_to_wal(db, options.busy_timeout);
    if (mode != "wal")
      return fail(codes::kIo, "open store: " + path + ": journal mode is " + mode + ", not wal");
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec("PRAGMA foreign_keys=ON");
    if (db.execAndGet("PRAGMA foreign_keys").getInt() != 1)
      return fail(codes::kInternal, "open store: sqlite refuses foreign_keys");
    auto sqlite = std::make_unique<SqliteDb>(std::move(db));
    int64_t now = to_ms(options.clock());
    if (auto r = migrate(*sqlite, *sqlite_migrations(), embedded_migrations(), now); !r)
      return std::unexpected(r.error().wrap("open store " + path));
    return std::unique_ptr<Store>(
        new Store(std::make_unique<Impl>(std::move(sqlite), std::move(options))));
  } catch (const SQLite::Exception& e) {
    return std::unexpected(from_sqlite(e, "open store " + path));
  }
}

Result<int> Store::schema_version() {
  return impl_->read("schema version", [](Db& db) -> Result<int> {
    return static_cast<int>(
        db.scalar_int64("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  });
}

}  // namespace zlh::api::store
