// Job leases and fencing (issue 25; docs/store-engines.md "Transactions and
// locking"): which replica runs which job, and the check every job write
// makes that its replica still does.
#include <string>

#include "api/store/impl.hpp"

namespace zlh::api::store {

namespace {

thread_local const LeaseFence* t_fence = nullptr;

Result<void> check_claim_args(const std::string& owner, std::chrono::milliseconds ttl) {
  if (owner.empty()) return std::unexpected(Error::invalid("owner", "a lease needs an owner"));
  if (ttl < std::chrono::milliseconds(1))
    return std::unexpected(Error::invalid("ttl", "a lease needs a ttl of 1 ms or more"));
  return {};
}

// Runs a claim statement (owner ?1, expiry ?2, now ?3, maybe ?4) returning
// (id, lease_epoch): the lease it took, if any.
std::optional<Lease> take(Stmt& q, const std::string& owner, int64_t expires) {
  if (!q.step()) return std::nullopt;
  Lease l{q.col(0).int64(), owner, q.col(1).int64(), from_ms(expires)};
  while (q.step()) {
  }
  return l;
}

}  // namespace

LeaseFence::LeaseFence(Lease lease) : lease_(std::move(lease)), prev_(t_fence) { t_fence = this; }
LeaseFence::~LeaseFence() { t_fence = prev_; }

const Lease* current_fence() { return t_fence ? &t_fence->lease() : nullptr; }

bool lease_held(Db& db, const Lease& l) {
  Stmt q = db.prepare("SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? AND lease_epoch = ?");
  q.bind(1, l.job_id);
  q.bind(2, l.owner);
  q.bind(3, l.epoch);
  return q.step();
}

Error lease_lost() { return Error::make(codes::kConflict, "lease lost"); }

bool is_lease_lost(const Error& e) { return e.is(codes::kConflict) && e.message == "lease lost"; }

Result<std::optional<Lease>> Store::claim_job(const std::string& owner,
                                              std::chrono::milliseconds ttl) {
  if (auto a = check_claim_args(owner, ttl); !a) return std::unexpected(a.error());
  // TODO(s25-open): impl_->write_committed once it lands (READ COMMITTED is
  // what SKIP LOCKED is for; SERIALIZABLE works but may make claims retry).
  return impl_->write("claim job", [&](Db& db) -> Result<std::optional<Lease>> {
    const int64_t now = impl_->now_ms();
    const int64_t expires = now + ttl.count();
    std::string sql =
        "UPDATE jobs SET lease_owner = ?1, lease_epoch = lease_epoch + 1, lease_expires_at = ?2"
        " WHERE id = (SELECT id FROM jobs WHERE state " +
        unfinished_in() +
        " AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= ?3)"
        " ORDER BY id LIMIT 1";
    if (db.engine() == Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
    sql += ") RETURNING id, lease_epoch";
    Stmt q = db.prepare(sql);
    q.bind(1, owner);
    q.bind(2, expires);
    q.bind(3, now);
    return take(q, owner, expires);
  });
}

Result<std::optional<Lease>> Store::claim_job_by_id(int64_t job_id, const std::string& owner,
                                                    std::chrono::milliseconds ttl) {
  if (auto a = check_claim_args(owner, ttl); !a) return std::unexpected(a.error());
  return impl_->write("claim job", [&](Db& db) -> Result<std::optional<Lease>> {
    const int64_t now = impl_->now_ms();
    const int64_t expires = now + ttl.count();
    Stmt q = db.prepare(
        "UPDATE jobs SET lease_owner = ?1, lease_epoch = lease_epoch + 1, lease_expires_at = ?2"
        " WHERE id = ?4 AND state " +
        unfinished_in() +
        " AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= ?3)"
        " RETURNING id, lease_epoch");
    q.bind(1, owner);
    q.bind(2, expires);
    q.bind(3, now);
    q.bind(4, job_id);
    return take(q, owner, expires);
  });
}

Result<LeaseRenewal> Store::renew_leases(std::span<const Lease> held,
                                         std::chrono::milliseconds ttl) {
  if (ttl < std::chrono::milliseconds(1))
    return std::unexpected(Error::invalid("ttl", "a lease needs a ttl of 1 ms or more"));
  if (held.empty()) return LeaseRenewal{};
  return impl_->write("renew leases", [&](Db& db) -> Result<LeaseRenewal> {
    const int64_t expires = impl_->now_ms() + ttl.count();
    LeaseRenewal out;
    Stmt q = db.prepare(
        "UPDATE jobs SET lease_expires_at = ?1"
        " WHERE id = ?2 AND lease_owner = ?3 AND lease_epoch = ?4 RETURNING state");
    for (const Lease& l : held) {
      q.reset();
      q.bind(1, expires);
      q.bind(2, l.job_id);
      q.bind(3, l.owner);
      q.bind(4, l.epoch);
      if (!q.step()) {
        out.lost.push_back(l);
        continue;
      }
      if (q.col(0).text() == to_string(JobState::kCancelled)) out.cancelled.push_back(l.job_id);
      while (q.step()) {
      }
      Lease r = l;
      r.expires_at = from_ms(expires);
      out.renewed.push_back(std::move(r));
    }
    return out;
  });
}

Result<void> Store::release_lease(const Lease& l) {
  return impl_->write("release lease", [&](Db& db) -> Result<void> {
    exec_with(db,
              "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL"
              " WHERE id = ? AND lease_owner = ? AND lease_epoch = ?",
              l.job_id, l.owner, l.epoch);
    return {};
  });
}

Result<JobState> Store::check_lease(const Lease& l) {
  return impl_->read("check lease", [&](Db& db) -> Result<JobState> {
    Stmt q =
        db.prepare("SELECT state FROM jobs WHERE id = ? AND lease_owner = ? AND lease_epoch = ?");
    q.bind(1, l.job_id);
    q.bind(2, l.owner);
    q.bind(3, l.epoch);
    if (!q.step()) return std::unexpected(lease_lost());
    return must(parse_job_state(q.col(0).text()));
  });
}

Result<bool> Store::other_job_leased(int64_t server_id, int64_t job_id) {
  return impl_->read("other job leased", [&](Db& db) -> Result<bool> {
    Stmt q = db.prepare(
        "SELECT 1 FROM jobs WHERE server_id = ? AND id != ? AND lease_owner IS NOT NULL"
        " AND lease_expires_at > ?");
    q.bind(1, server_id);
    q.bind(2, job_id);
    q.bind(3, impl_->now_ms());
    return q.step();
  });
}

Result<void> Store::update_job_state(const Lease& l, JobState state,
                                     std::optional<std::string> error) {
  LeaseFence f(l);
  return update_job_state(l.job_id, state, std::move(error));
}

Result<void> Store::update_job_step(const Lease& l, int idx, StepState state,
                                    std::optional<std::string> detail) {
  LeaseFence f(l);
  return update_job_step(l.job_id, idx, state, std::move(detail));
}

Result<void> Store::update_server(const Lease& l, int64_t server_id, const ServerUpdate& u) {
  LeaseFence f(l);
  return update_server(server_id, u);
}

Result<Server> Store::move_to_free_vmid(const Lease& l, int64_t server_id, int taken,
                                        const std::string& reason) {
  LeaseFence f(l);
  return move_to_free_vmid(server_id, taken, reason);
}

Result<void> Store::release_allocations(const Lease& l, int64_t server_id) {
  LeaseFence f(l);
  return release_allocations(server_id);
}

Result<void> Store::delete_server(const Lease& l, int64_t server_id) {
  LeaseFence f(l);
  return delete_server(server_id);
}

}  // namespace zlh::api::store
