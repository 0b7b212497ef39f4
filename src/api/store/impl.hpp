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

struct Store::Impl {
  Impl(std::unique_ptr<Db> database, Options options)
      : db(std::move(database)), opts(std::move(options)) {}

  std::mutex mu;  // guards db: one statement or transaction at a time
  std::unique_ptr<Db> db;
  Options opts;

  int64_t now_ms() const { return to_ms(opts.clock()); }

  // Runs f(db) under the mutex. Engine exceptions become Errors prefixed
  // with `context`; f reports its own failures as Result errors.
  template <typename F>
  auto read(std::string_view context, F&& f) -> std::invoke_result_t<F, Db&> {
    std::lock_guard lock(mu);
    return guarded(context, [&] { return f(*db); });
  }

  // Same inside a write transaction (Db::begin_write) … COMMIT; rolled back
  // when f returns an error or throws, so a failed call changes nothing.
  template <typename F>
  auto write(std::string_view context, F&& f) -> std::invoke_result_t<F, Db&> {
    std::lock_guard lock(mu);
    return guarded(context, [&] {
      WriteTx tx(*db);
      auto r = f(*db);
      if (r) tx.commit();
      return r;
    });
  }

 private:
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
