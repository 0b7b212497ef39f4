// Counters every replica shares (migrations/*/0015_cluster_counters.sql):
// login rate-limit events and concurrent per-user quotas.
#include <algorithm>

#include "api/store/impl.hpp"

namespace zlh::api::store {

namespace {

// The wait until `b` has room for one more event at `now` (ms), or 0.
// Exactly the in-process limiter's rule: of the key's `limit` newest
// events in the window, the oldest frees the next place when it leaves.
int64_t rate_wait(Db& db, const RateBudget& b, int64_t now) {
  Stmt q = db.prepare(
      "SELECT count(*), coalesce(min(at), 0) FROM (SELECT at FROM rate_events"
      " WHERE key = ?1 AND at > ?2 ORDER BY at DESC LIMIT ?3) AS w");
  q.bind(1, b.key);
  q.bind(2, now - b.window.count());
  q.bind(3, b.limit);
  if (!q.step() || q.col(0).int64() < b.limit) return 0;
  return std::max<int64_t>(1, q.col(1).int64() + b.window.count() - now);
}

void insert_event(Db& db, const std::string& key, int64_t now) {
  exec_with(db, "INSERT INTO rate_events(key, at) VALUES (?, ?)", key, now);
}

// Drops the key's events that left the window and those past its `limit`
// newest.
void trim_events(Db& db, const RateBudget& b, int64_t now) {
  Stmt q = db.prepare(
      "DELETE FROM rate_events WHERE key = ?1 AND (at <= ?2 OR id NOT IN"
      " (SELECT id FROM rate_events WHERE key = ?1 ORDER BY at DESC, id DESC LIMIT ?3))");
  q.bind(1, b.key);
  q.bind(2, now - b.window.count());
  q.bind(3, b.limit);
  q.exec();
}

Result<void> check_kind(std::string_view kind, std::string_view replica_id) {
  if (kind != "console" && kind != "upload")
    return std::unexpected(Error::invalid("kind", "unknown kind of place " + std::string(kind)));
  if (replica_id.empty()) return std::unexpected(Error::invalid("replica_id", "no replica id"));
  return {};
}

// The condition that a user_slots row `s` counts, seen from replica ?3 at ?4.
constexpr const char* kSlotCounts =
    "(s.replica_id = ?3 OR EXISTS (SELECT 1 FROM replicas r"
    " WHERE r.id = s.replica_id AND r.expires_at > ?4))";

int64_t count_slots(Db& db, int64_t user_id, const std::string& kind, const std::string& replica,
                    int64_t now) {
  Stmt q = db.prepare(std::string("SELECT count(*) FROM user_slots s"
                                  " WHERE s.user_id = ?1 AND s.kind = ?2 AND ") +
                      kSlotCounts);
  q.bind(1, user_id);
  q.bind(2, kind);
  q.bind(3, replica);
  q.bind(4, now);
  q.step();
  return q.col(0).int64();
}

}  // namespace

Result<std::optional<std::chrono::milliseconds>> Store::check_rate(
    std::span<const RateBudget> budgets, Time now, bool record) {
  const int64_t at = to_ms(now);
  auto run = [&](Db& db) -> Result<std::optional<std::chrono::milliseconds>> {
    int64_t wait = 0;
    for (const auto& b : budgets)
      if (b.limit > 0) wait = std::max(wait, rate_wait(db, b, at));
    if (wait > 0) return std::chrono::milliseconds(wait);
    if (record)
      for (const auto& b : budgets)
        if (b.limit > 0) insert_event(db, b.key, at);
    return std::nullopt;
  };
  if (!record) return impl_->read("check rate", run);
  return impl_->write("reserve rate", run);
}

Result<void> Store::record_rate(std::span<const RateBudget> budgets, Time now) {
  const int64_t at = to_ms(now);
  return impl_->write("record rate", [&](Db& db) -> Result<void> {
    for (const auto& b : budgets) {
      if (b.limit <= 0) continue;
      insert_event(db, b.key, at);
      trim_events(db, b, at);
    }
    return {};
  });
}

Result<void> Store::clear_rate(std::string_view key, bool newest_only) {
  std::string k(key);
  return impl_->write("clear rate", [&](Db& db) -> Result<void> {
    if (newest_only)
      exec_with(db,
                "DELETE FROM rate_events WHERE id = (SELECT id FROM rate_events WHERE key = ?1"
                " ORDER BY at DESC, id DESC LIMIT 1)",
                k);
    else
      exec_with(db, "DELETE FROM rate_events WHERE key = ?", k);
    return {};
  });
}

Result<int64_t> Store::count_rate_keys(std::string_view prefix, Time since) {
  std::string p(prefix);
  return impl_->read("count rate keys", [&](Db& db) -> Result<int64_t> {
    Stmt q = db.prepare(
        "SELECT count(DISTINCT key) FROM rate_events"
        " WHERE substr(key, 1, CAST(?1 AS INTEGER)) = ?2 AND at > ?3");
    q.bind(1, static_cast<int64_t>(p.size()));
    q.bind(2, p);
    q.bind(3, to_ms(since));
    q.step();
    return q.col(0).int64();
  });
}

Result<int> Store::purge_rate_events(std::string_view prefix, Time before) {
  std::string p(prefix);
  return impl_->write("purge rate events", [&](Db& db) -> Result<int> {
    Stmt q = db.prepare(
        "DELETE FROM rate_events WHERE at <= ?1 AND substr(key, 1, CAST(?2 AS INTEGER)) = ?3");
    q.bind(1, to_ms(before));
    q.bind(2, static_cast<int64_t>(p.size()));
    q.bind(3, p);
    return q.exec();
  });
}

Result<std::optional<int64_t>> Store::acquire_user_slot(int64_t user_id, std::string_view kind,
                                                        std::string_view replica_id,
                                                        int64_t limit) {
  if (auto ok = check_kind(kind, replica_id); !ok) return std::unexpected(ok.error());
  std::string k(kind), r(replica_id);
  return impl_->write("acquire user slot", [&](Db& db) -> Result<std::optional<int64_t>> {
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", user_id))
      return fail(codes::kNotFound, "user not found");
    const int64_t now = impl_->now_ms();
    // The user's places held by dead replicas: gone for good.
    Stmt purge = db.prepare(std::string("DELETE FROM user_slots AS s"
                                        " WHERE s.user_id = ?1 AND s.kind = ?2 AND NOT ") +
                            kSlotCounts);
    purge.bind(1, user_id);
    purge.bind(2, k);
    purge.bind(3, r);
    purge.bind(4, now);
    purge.exec();
    if (limit > 0 && count_slots(db, user_id, k, r, now) >= limit) return std::nullopt;
    Stmt ins = db.prepare(
        "INSERT INTO user_slots(user_id, kind, replica_id, created_at) VALUES (?, ?, ?, ?)"
        " RETURNING id");
    ins.bind(1, user_id);
    ins.bind(2, k);
    ins.bind(3, r);
    ins.bind(4, now);
    if (!ins.step()) return fail(codes::kInternal, "insert returned no id");
    const int64_t id = ins.col(0).int64();
    while (ins.step()) {
    }
    return id;
  });
}

Result<void> Store::release_user_slot(int64_t slot_id) {
  return impl_->write("release user slot", [&](Db& db) -> Result<void> {
    exec_with(db, "DELETE FROM user_slots WHERE id = ?", slot_id);
    return {};
  });
}

Result<int64_t> Store::count_user_slots(int64_t user_id, std::string_view kind,
                                        std::string_view replica_id) {
  std::string k(kind), r(replica_id);
  return impl_->read("count user slots", [&](Db& db) -> Result<int64_t> {
    return count_slots(db, user_id, k, r, impl_->now_ms());
  });
}

}  // namespace zlh::api::store
