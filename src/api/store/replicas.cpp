// zlh-api replicas, the installation record and the published live-stats
// samples (0014_replicas.sql, docs/operations.md "Replicas").
#include <string>
#include <vector>

#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

constexpr const char* kReplicaSelect =
    "SELECT id, driver, host, pid, started_at, heartbeat_at, expires_at FROM replicas ";

Replica read_replica(Stmt& q) {
  Replica r;
  r.id = q.col(0).text();
  r.driver = q.col(1).text();
  r.host = q.col(2).text();
  r.pid = q.col(3).int64();
  r.started_at = from_ms(q.col(4).int64());
  r.heartbeat_at = from_ms(q.col(5).int64());
  r.expires_at = from_ms(q.col(6).int64());
  return r;
}

std::vector<Replica> live_replicas(Db& db, int64_t now_ms) {
  Stmt q = db.prepare(std::string(kReplicaSelect) + "WHERE expires_at > ? ORDER BY id");
  q.bind(1, now_ms);
  std::vector<Replica> out;
  while (q.step()) out.push_back(read_replica(q));
  return out;
}

std::optional<Deployment> read_deployment(Db& db) {
  Stmt q = db.prepare("SELECT driver, host, recorded_at FROM deployment WHERE one = 1");
  if (!q.step()) return std::nullopt;
  return Deployment{q.col(0).text(), q.col(1).text(), from_ms(q.col(2).int64())};
}

void write_deployment(Db& db, const NewReplica& r, int64_t now_ms) {
  exec_with(db,
            "INSERT INTO deployment(one, driver, host, recorded_at) VALUES (1, ?1, ?2, ?3)"
            " ON CONFLICT (one) DO UPDATE SET driver = ?1, host = ?2, recorded_at = ?3",
            r.driver, r.host, now_ms);
}

std::string seconds_left(const Replica& o, int64_t now_ms) {
  return std::to_string((to_ms(o.expires_at) - now_ms + 999) / 1000);
}

// The registration rules of Store::register_replica over the live `others`;
// records the installation when it may. E_CONFLICT when refused.
Result<void> admit(Db& db, const NewReplica& r, const std::vector<Replica>& others,
                   int64_t now_ms) {
  auto dep = read_deployment(db);
  if (!dep) {
    write_deployment(db, r, now_ms);
    return {};
  }
  if (dep->driver != r.driver) {
    Stmt q = db.prepare("SELECT 1 FROM servers WHERE deleted_at IS NULL LIMIT 1");
    const bool servers = q.step();
    if (servers || !others.empty())
      return fail(codes::kConflict, "this database belongs to a " + dep->driver +
                                        " installation (recorded on host " + dep->host +
                                        "), and zlh-api was started with --driver " + r.driver +
                                        ": start it with --driver " + dep->driver +
                                        ", or give it a database of its own");
    write_deployment(db, r, now_ms);  // an empty installation changes driver
    return {};
  }
  if (!r.single_host) return {};
  if (!others.empty()) {
    const Replica& o = others.front();
    return fail(codes::kConflict,
                "replica " + o.id + " on host " + o.host + " is live (its heartbeat expires in " +
                    seconds_left(o, now_ms) + " s); --driver " + r.driver +
                    " manages containers on one host, so one zlh-api runs at a time: stop that"
                    " one, or wait for its heartbeat to expire");
  }
  if (dep->host != r.host) {
    if (!r.adopt_host)
      return fail(codes::kConflict,
                  "this " + r.driver + " installation keeps its containers on host " + dep->host +
                      ", not " + r.host + ": start zlh-api on " + dep->host +
                      ", or, if the installation (its data directory) was moved here, start it once"
                      " with --adopt-host (docs/operations.md)");
    write_deployment(db, r, now_ms);
  }
  return {};
}

Result<void> check_new(const NewReplica& r) {
  if (r.id.empty()) return std::unexpected(Error::invalid("id", "empty replica id"));
  if (r.driver.empty()) return std::unexpected(Error::invalid("driver", "empty driver"));
  if (r.host.empty()) return std::unexpected(Error::invalid("host", "empty host"));
  if (r.ttl.count() <= 0) return std::unexpected(Error::invalid("ttl", "ttl not positive"));
  return {};
}

Result<Replica> one_replica(Db& db, std::string_view id) {
  Stmt q = db.prepare(std::string(kReplicaSelect) + "WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return fail(codes::kNotFound, "replica not found");
  return read_replica(q);
}

}  // namespace

Result<Replica> Store::register_replica(const NewReplica& r) {
  if (auto c = check_new(r); !c) return fail(c.error());
  return impl_->write("register replica", [&](Db& db) -> Result<Replica> {
    const int64_t now = impl_->now_ms();
    exec_with(db, "DELETE FROM replicas WHERE expires_at <= ?1", now);
    auto others = live_replicas(db, now);
    for (const auto& o : others)
      if (o.id == r.id) return fail(codes::kConflict, "replica " + r.id + " is registered already");
    if (auto a = admit(db, r, others, now); !a) return fail(a.error());
    exec_with(db,
              "INSERT INTO replicas(id, driver, host, pid, started_at, heartbeat_at, expires_at)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
              r.id, r.driver, r.host, r.pid, now, now + int64_t(r.ttl.count()));
    return one_replica(db, r.id);
  });
}

// Heartbeats, removals and samples are single-row or idempotent writes:
// READ COMMITTED (never re-run) spares them serialization failures against
// each other on PostgreSQL. Registration's checks need SERIALIZABLE.
Result<Replica> Store::heartbeat_replica(std::string_view id, std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return std::unexpected(Error::invalid("ttl", "ttl not positive"));
  return impl_->write_committed("heartbeat replica", [&](Db& db) -> Result<Replica> {
    const int64_t now = impl_->now_ms();
    Stmt q = db.prepare(
        "UPDATE replicas SET heartbeat_at = ?1, expires_at = ?2 WHERE id = ?3 AND expires_at > ?1");
    q.bind(1, now);
    q.bind(2, now + int64_t(ttl.count()));
    q.bind(3, id);
    if (q.exec() == 0) return fail(codes::kNotFound, "replica not registered or expired");
    return one_replica(db, id);
  });
}

Result<std::vector<Replica>> Store::list_live_replicas(Time now) {
  return impl_->read("list live replicas", [&](Db& db) -> Result<std::vector<Replica>> {
    return live_replicas(db, to_ms(now));
  });
}

Result<void> Store::deregister_replica(std::string_view id) {
  return impl_->write_committed("deregister replica", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare("DELETE FROM replicas WHERE id = ?");
    q.bind(1, id);
    q.exec();
    return {};
  });
}

Result<int> Store::purge_expired_replicas(Time now) {
  return impl_->write_committed("purge expired replicas", [&](Db& db) -> Result<int> {
    Stmt q = db.prepare("DELETE FROM replicas WHERE expires_at <= ?");
    q.bind(1, to_ms(now));
    return int(q.exec());
  });
}

Result<Deployment> Store::get_deployment() {
  return impl_->read("get deployment", [&](Db& db) -> Result<Deployment> {
    auto d = read_deployment(db);
    if (!d) return fail(codes::kNotFound, "no deployment recorded");
    return *d;
  });
}

Result<void> Store::append_server_samples(std::span<const SampleRow> rows, int64_t keep_from_ms) {
  return impl_->write_committed("append server samples", [&](Db& db) -> Result<void> {
    for (const auto& r : rows)
      exec_with(db,
                "INSERT INTO server_samples(server_id, t_ms, sample) VALUES (?1, ?2, ?3)"
                " ON CONFLICT (server_id, t_ms) DO NOTHING",
                r.server_id, r.t_ms, r.json);
    exec_with(db, "DELETE FROM server_samples WHERE t_ms < ?1", keep_from_ms);
    return {};
  });
}

Result<std::vector<SampleRow>> Store::list_server_samples(int64_t server_id, int64_t after_ms) {
  return impl_->read("list server samples", [&](Db& db) -> Result<std::vector<SampleRow>> {
    Stmt q = db.prepare(
        "SELECT server_id, t_ms, sample FROM server_samples WHERE server_id = ? AND t_ms > ?"
        " ORDER BY t_ms");
    q.bind(1, server_id);
    q.bind(2, after_ms);
    std::vector<SampleRow> out;
    while (q.step()) out.push_back({q.col(0).int64(), q.col(1).int64(), q.col(2).text()});
    return out;
  });
}

}  // namespace zlh::api::store
