#include "api/store/pg_db.hpp"

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

namespace zlh::api::store {

Code pg_code(std::string_view s) {
  if (s == "23505") return codes::kConflict;
  // Serialization failure and deadlock (the transaction is worth another
  // try), lock_timeout, statement_timeout or cancel, too many connections.
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014" || s == "53300")
    return codes::kUnavailable;
  // A read-only transaction: connected to a standby, as during a failover.
  if (s == "25006") return codes::kUnavailable;
  const std::string_view cls = s.substr(0, 2);
  if (cls == "08" || cls == "57") return codes::kUnavailable;  // connection, shutdown
  if (cls == "53" || cls == "58" || s == "XX001" || s == "XX002") return codes::kIo;
  return codes::kInternal;
}

namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultFree>;

[[noreturn]] void throw_failure(PGconn* c, const PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  // A lost connection may come with no SQLSTATE (libpq's own error) or
  // with one of the server's last words (57P01 when terminated).
  Code code = state ? pg_code(state) : codes::kInternal;
  const bool lost = PQstatus(c) != CONNECTION_OK;
  if (lost) code = codes::kUnavailable;
  const std::string_view st = state ? state : "";
  const bool retry = !lost && (st == "40001" || st == "40P01");
  throw DbError(code, msg.empty() ? "postgresql: unknown failure" : msg, retry);
}

// r, unless it is a failure (thrown as DbError).
PgResult checked(PGconn* c, PGresult* raw) {
  PgResult r(raw);
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  // EMPTY_QUERY: SQL of only whitespace and comments, a no-op in SQLite too.
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
    throw_failure(c, r.get());
  return r;
}

constexpr Oid kBoolOid = 16;

// SQLite's text → integer: the leading integer, else a number truncated,
// else 0.
int64_t to_int64(std::string_view v) {
  int64_t i = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ec == std::errc() && p == v.data() + v.size()) return i;
  double d = 0;
  auto [q, ec2] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec2 != std::errc() || std::isnan(d)) return ec == std::errc() ? i : 0;
  if (d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

double to_double(std::string_view v) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  return ec == std::errc() ? d : 0.0;
}

class PgStmt final : public Stmt::Backend {
 public:
  PgStmt(PGconn* c, std::string name, int params)
      : conn_(c), name_(std::move(name)), values_(params), set_(params, false) {}

  void bind_int(int idx, int64_t v) override { set(idx, std::to_string(v)); }
  void bind_real(int idx, double v) override {
    if (std::isnan(v)) return set(idx, "NaN");
    if (std::isinf(v)) return set(idx, v > 0 ? "Infinity" : "-Infinity");
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest, exact round trip
    set(idx, std::string(buf, p));
  }
  void bind_text(int idx, std::string_view v) override { set(idx, std::string(v)); }
  void bind_null(int idx) override {
    slot(idx);
    set_[idx - 1] = false;
  }

  bool step() override {
    if (!res_) {
      if (done_) return false;
      res_ = run();
      row_ = -1;
    }
    if (++row_ < PQntuples(res_.get())) return true;
    res_.reset();
    done_ = true;
    return false;
  }
  int exec() override {
    reset();
    PgResult r = run();
    done_ = true;
    int n = 0;
    std::string_view t = PQcmdTuples(r.get());
    std::from_chars(t.data(), t.data() + t.size(), n);
    return n;
  }
  void reset() override {
    res_.reset();
    done_ = false;
  }

  bool is_null(int col) const override { return PQgetisnull(res_.get(), row_, check(col)) != 0; }
  int64_t int64(int col) const override {
    check(col);
    if (PQgetisnull(res_.get(), row_, col)) return 0;
    return to_int64(text(col));
  }
  double real(int col) const override {
    check(col);
    if (PQgetisnull(res_.get(), row_, col)) return 0;
    return to_double(text(col));
  }
  std::string text(int col) const override {
    check(col);
    const char* v = PQgetvalue(res_.get(), row_, col);
    if (PQftype(res_.get(), col) == kBoolOid && !PQgetisnull(res_.get(), row_, col))
      return v[0] == 't' ? "1" : "0";
    return std::string(v, PQgetlength(res_.get(), row_, col));
  }

 private:
  void slot(int idx) const {
    if (idx < 1 || idx > static_cast<int>(values_.size()))
      throw DbError(codes::kInternal, "bind index " + std::to_string(idx) + " out of range 1.." +
                                          std::to_string(values_.size()));
  }
  void set(int idx, std::string v) {
    slot(idx);
    values_[idx - 1] = std::move(v);
    set_[idx - 1] = true;
  }
  int check(int col) const {
    if (!res_ || row_ < 0 || row_ >= PQntuples(res_.get()))
      throw DbError(codes::kInternal, "no current row");
    if (col < 0 || col >= PQnfields(res_.get()))
      throw DbError(codes::kInternal, "column index " + std::to_string(col) + " out of range");
    return col;
  }
  // Unbound parameters go as NULL, as in SQLite.
  PgResult run() {
    std::vector<const char*> vals(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) vals[i] = set_[i] ? values_[i].c_str() : nullptr;
    return checked(conn_, PQexecPrepared(conn_, name_.c_str(), static_cast<int>(vals.size()),
                                         vals.data(), nullptr, nullptr, 0));
  }

  PGconn* conn_;
  std::string name_;
  std::vector<std::string> values_;
  std::vector<bool> set_;
  PgResult res_;
  int row_ = -1;
  bool done_ = false;
};

void ignore_notice(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<PgDb>> PgDb::connect(const std::string& conninfo) {
  // libpq's parse errors quote the string, password included: check it
  // here and say only that it is wrong.
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  PQfreemem(err);
  if (opts == nullptr) return fail(codes::kInvalid, "postgresql: malformed connection string");
  PQconninfoFree(opts);

  const char* keys[] = {"dbname", "client_encoding", "fallback_application_name", nullptr};
  const char* vals[] = {conninfo.c_str(), "UTF8", "zlh-api", nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  if (c == nullptr) return fail(codes::kUnavailable, "postgresql: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return fail(codes::kUnavailable, "postgresql: " + msg);
  }
  // Notices (WARNING, NOTICE) would go to stderr; the store has no use for them.
  PQsetNoticeProcessor(c, ignore_notice, nullptr);
  return std::unique_ptr<PgDb>(new PgDb(c));
}

PgDb::~PgDb() { PQfinish(conn_); }

void PgDb::exec(std::string_view sql) { checked(conn_, PQexec(conn_, std::string(sql).c_str())); }

Stmt PgDb::prepare(std::string_view sql) {
  auto it = prepared_.find(std::string(sql));
  if (it == prepared_.end()) {
    auto pg = pg_placeholders(sql);
    if (!pg)
      throw DbError(pg.error().code == codes::kInvalid ? codes::kInternal : pg.error().code,
                    pg.error().message);
    Prepared p{"zlh_" + std::to_string(prepared_.size() + 1), pg->params};
    checked(conn_, PQprepare(conn_, p.name.c_str(), pg->text.c_str(), 0, nullptr));
    it = prepared_.emplace(std::string(sql), std::move(p)).first;
  }
  return Stmt(std::make_unique<PgStmt>(conn_, it->second.name, it->second.params));
}

int64_t PgDb::last_insert_id() { return scalar_int64("SELECT lastval()"); }

void PgDb::begin_write() {
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE && !broken())
    throw DbError(codes::kInternal, "cannot start a transaction within a transaction");
  exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
}

void PgDb::begin_committed() {
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE && !broken())
    throw DbError(codes::kInternal, "cannot start a transaction within a transaction");
  exec("BEGIN ISOLATION LEVEL READ COMMITTED");
}

bool PgDb::alive() {
  if (broken()) return false;
  pollfd p{PQsocket(conn_), POLLIN, 0};
  // Readable while idle: the server closed the connection (or sent its last
  // words, 57P01, before doing so); reading it lets libpq notice.
  if (::poll(&p, 1, 0) > 0) PQconsumeInput(conn_);
  return !broken();
}

void PgDb::commit() {
  const PGTransactionStatusType st = PQtransactionStatus(conn_);
  if (st == PQTRANS_IDLE)
    throw DbError(codes::kInternal, "cannot commit: no transaction is active");
  PgResult r = checked(conn_, PQexec(conn_, "COMMIT"));
  // COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK.
  if (std::string_view(PQcmdStatus(r.get())) == "ROLLBACK")
    throw DbError(codes::kInternal, "commit: the transaction had failed and was rolled back");
}

std::vector<PgDb::Notification> PgDb::wait_notifications(std::chrono::milliseconds timeout,
                                                         int wake_fd) {
  std::vector<Notification> out;
  auto drain = [&] {
    while (PGnotify* n = PQnotifies(conn_)) {
      out.push_back({n->relname, n->extra});
      PQfreemem(n);
    }
  };
  auto lost = [&] {
    std::string msg = PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return DbError(codes::kUnavailable,
                   "postgresql: connection lost" + (msg.empty() ? "" : ": " + msg));
  };
  drain();  // what earlier commands' replies carried
  if (!out.empty()) return out;
  const int sock = PQsocket(conn_);
  if (sock < 0 || broken()) throw lost();
  pollfd fds[2] = {{sock, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int n = ::poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n < 0 && errno != EINTR) throw DbError(codes::kIo, "poll failed");
  if (n > 0 && fds[0].revents != 0) {
    if (PQconsumeInput(conn_) == 0) throw lost();
    drain();
  }
  if (broken()) throw lost();
  return out;
}

void PgDb::rollback() {
  if (PQtransactionStatus(conn_) == PQTRANS_IDLE)
    throw DbError(codes::kInternal, "cannot rollback: no transaction is active");
  exec("ROLLBACK");
}

}  // namespace zlh::api::store
