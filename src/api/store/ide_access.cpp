// The IDE origin's tickets and cookies (migrations/0006_ide_access.sql).
#include "api/store/impl.hpp"

namespace zlh::api::store {

namespace {

bool valid_hash(std::string_view h) {
  if (h.size() != 64) return false;
  for (char c : h)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<void> check_grant(std::string_view hash, const IdeGrant& g) {
  if (!valid_hash(hash)) return std::unexpected(Error::invalid("hash", "not a SHA-256 in hex"));
  if (g.vmid < 1 || g.vmid > 65535)
    return std::unexpected(Error::invalid("vmid", "vmid out of range"));
  if (g.session_id.empty()) return std::unexpected(Error::invalid("session_id", "no session"));
  return {};
}

// The session exists and belongs to the grant's user.
bool session_of_user(Db& db, const IdeGrant& g) {
  Stmt q = db.prepare("SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2");
  q.bind(1, g.session_id);
  q.bind(2, g.user_id);
  return q.step();
}

// ?1..?4 of an INSERT of a ticket or cookie: its hash and what it grants.
void bind_grant(Stmt& ins, const std::string& hash, const IdeGrant& grant) {
  ins.bind(1, hash);
  ins.bind(2, grant.session_id);
  ins.bind(3, grant.user_id);
  ins.bind(4, grant.vmid);
}

}  // namespace

Result<void> Store::create_ide_ticket(std::string_view hash, const IdeGrant& grant,
                                      Time expires_at) {
  if (auto ok = check_grant(hash, grant); !ok) return ok;
  std::string h(hash);
  return impl_->write("create ide ticket", [&](Db& db) -> Result<void> {
    const int64_t now = impl_->now_ms();
    if (to_ms(expires_at) <= now)
      return std::unexpected(Error::invalid("expires_at", "ticket would be born expired"));
    if (!session_of_user(db, grant)) return fail(codes::kNotFound, "session not found");
    Stmt purge = db.prepare("DELETE FROM ide_tickets WHERE expires_at < ?1");
    purge.bind(1, now - 60'000);
    purge.exec();
    Stmt ins = db.prepare(
        "INSERT INTO ide_tickets (hash, session_id, user_id, vmid, created_at, expires_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    bind_grant(ins, h, grant);
    ins.bind(5, now);
    ins.bind(6, to_ms(expires_at));
    ins.exec();
    return {};
  });
}

Result<IdeGrant> Store::redeem_ide_ticket(std::string_view hash, Time now) {
  if (!valid_hash(hash)) return fail(codes::kNotFound, "no such ticket");
  std::string h(hash);
  return impl_->write("redeem ide ticket", [&](Db& db) -> Result<IdeGrant> {
    const int64_t at = to_ms(now);
    Stmt q = db.prepare(
        "UPDATE ide_tickets SET used_at = ?2"
        " WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2"
        " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ide_tickets.session_id"
        "             AND s.revoked_at IS NULL AND s.expires_at > ?2)"
        " RETURNING session_id, user_id, vmid");
    q.bind(1, h);
    q.bind(2, at);
    if (!q.step()) return fail(codes::kNotFound, "no such ticket (unknown, used or expired)");
    IdeGrant g{q.col(0).text(), q.col(1).int64(), q.col(2).int32()};
    while (q.step()) {
    }
    return g;
  });
}

Result<void> Store::create_ide_cookie(std::string_view hash, const IdeGrant& grant) {
  if (auto ok = check_grant(hash, grant); !ok) return ok;
  std::string h(hash);
  return impl_->write("create ide cookie", [&](Db& db) -> Result<void> {
    if (!session_of_user(db, grant)) return fail(codes::kNotFound, "session not found");
    Stmt ins = db.prepare(
        "INSERT INTO ide_cookies (hash, session_id, user_id, vmid, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)");
    bind_grant(ins, h, grant);
    ins.bind(5, impl_->now_ms());
    ins.exec();
    return {};
  });
}

Result<IdeGrant> Store::get_ide_cookie(std::string_view hash, Time now) {
  if (!valid_hash(hash)) return fail(codes::kNotFound, "no such IDE cookie");
  std::string h(hash);
  return impl_->read("get ide cookie", [&](Db& db) -> Result<IdeGrant> {
    Stmt q = db.prepare(
        "SELECT c.session_id, c.user_id, c.vmid FROM ide_cookies c"
        " JOIN sessions s ON s.id = c.session_id AND s.user_id = c.user_id"
        " WHERE c.hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2");
    q.bind(1, h);
    q.bind(2, to_ms(now));
    if (!q.step())
      return fail(codes::kNotFound, "no such IDE cookie (unknown, or its session ended)");
    return IdeGrant{q.col(0).text(), q.col(1).int64(), q.col(2).int32()};
  });
}

}  // namespace zlh::api::store
