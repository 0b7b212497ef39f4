// Sharing a server: members, their permissions and ownership transfers
// (docs/sharing.md).
#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

// A row of server_access_select() run for `user_id`.
ServerAccess read_access(Stmt& q, int64_t user_id) {
  ServerAccess a;
  a.server = read_server(q);
  a.owner = a.server.owner_id == user_id;
  if (a.owner)
    a.permissions = PermSet::all();
  else if (!q.col(21).is_null())
    a.permissions = must(parse_permissions_text(q.col(21).text()));
  a.owner_username = q.col(22).text();
  return a;
}

// Servers of server_access_select() + `where` (may use ?1, the user, and ?2).
template <typename Bind>
std::vector<ServerAccess> query_access(Db& db, int64_t user_id, const std::string& where,
                                       Bind bind) {
  Stmt q = db.prepare(std::string(server_access_select(db)) +
                      "WHERE s.deleted_at IS NULL"
                      " AND (s.owner_id = ?1 OR m.user_id IS NOT NULL) AND " +
                      where + " ORDER BY s.id");
  q.bind(1, user_id);
  bind(q);
  std::vector<ServerAccess> out;
  while (q.step()) out.push_back(read_access(q, user_id));
  return out;
}

constexpr const char* kMemberSelect =
    "SELECT m.server_id, m.user_id, u.username, u.email, m.permissions, m.added_by,"
    " m.created_at, m.updated_at FROM server_members m JOIN users u ON u.id = m.user_id ";

Member read_member(Stmt& q) {
  Member m;
  m.server_id = q.col(0).int64();
  m.user_id = q.col(1).int64();
  m.username = q.col(2).text();
  m.email = q.col(3).text();
  m.permissions = must(parse_permissions_text(q.col(4).text()));
  if (!q.col(5).is_null()) m.added_by = q.col(5).int64();
  m.added_at = from_ms(q.col(6).int64());
  m.updated_at = from_ms(q.col(7).int64());
  return m;
}

Result<Member> one_member(Db& db, int64_t server_id, int64_t user_id) {
  Stmt q = db.prepare(std::string(kMemberSelect) + "WHERE m.server_id = ? AND m.user_id = ?");
  q.bind(1, server_id);
  q.bind(2, user_id);
  if (!q.step()) return fail(codes::kNotFound, "no such member");
  return read_member(q);
}

// The live server's owner; E_NOT_FOUND when the server is gone.
Result<int64_t> live_owner(Db& db, int64_t server_id) {
  Stmt q = db.prepare("SELECT owner_id FROM servers WHERE id = ? AND deleted_at IS NULL");
  q.bind(1, server_id);
  if (!q.step()) return fail(codes::kNotFound, "server not found");
  return q.col(0).int64();
}

constexpr const char* kTransferSelect =
    "SELECT t.server_id, s.name, t.from_user_id, f.username, t.to_user_id, u.username,"
    " t.created_at, t.expires_at FROM server_transfers t JOIN servers s ON s.id = t.server_id"
    " JOIN users f ON f.id = t.from_user_id JOIN users u ON u.id = t.to_user_id ";

Transfer read_transfer(Stmt& q) {
  return Transfer{q.col(0).int64(),          q.col(1).text(),          q.col(2).int64(),
                  q.col(3).text(),           q.col(4).int64(),         q.col(5).text(),
                  from_ms(q.col(6).int64()), from_ms(q.col(7).int64())};
}

// The live offer of the server (its current owner's) at `now_ms`.
Result<Transfer> live_transfer(Db& db, int64_t server_id, int64_t now_ms) {
  Stmt q = db.prepare(std::string(kTransferSelect) +
                      "WHERE t.server_id = ? AND t.expires_at > ?"
                      " AND s.deleted_at IS NULL AND s.owner_id = t.from_user_id");
  q.bind(1, server_id);
  q.bind(2, now_ms);
  if (!q.step()) return fail(codes::kNotFound, "no ownership offer for this server");
  return read_transfer(q);
}

}  // namespace

Result<ServerAccess> Store::get_server_access(int64_t server_id, int64_t user_id) {
  return impl_->read("get server", [&](Db& db) -> Result<ServerAccess> {
    auto rows = query_access(db, user_id, "s.id = ?2", [&](Stmt& q) { q.bind(2, server_id); });
    if (rows.empty()) return fail(codes::kNotFound, "server not found");
    return std::move(rows.front());
  });
}

Result<ServerAccess> Store::get_server_access_by_vmid(int vmid, int64_t user_id) {
  return impl_->read("get server", [&](Db& db) -> Result<ServerAccess> {
    auto rows = query_access(db, user_id, "v.vmid = ?2", [&](Stmt& q) { q.bind(2, vmid); });
    if (rows.empty()) return fail(codes::kNotFound, "server not found");
    return std::move(rows.front());
  });
}

Result<std::vector<ServerAccess>> Store::list_servers_for_user(int64_t user_id) {
  return impl_->read("list servers", [&](Db& db) -> Result<std::vector<ServerAccess>> {
    return query_access(db, user_id, "TRUE", [](Stmt&) {});
  });
}

Result<std::vector<Member>> Store::list_members(int64_t server_id) {
  return impl_->read("list members", [&](Db& db) -> Result<std::vector<Member>> {
    Stmt q = db.prepare(std::string(kMemberSelect) + "WHERE m.server_id = ? ORDER BY m.user_id");
    q.bind(1, server_id);
    std::vector<Member> out;
    while (q.step()) out.push_back(read_member(q));
    return out;
  });
}

Result<Member> Store::add_member(int64_t server_id, int64_t user_id, PermSet permissions,
                                 int64_t added_by) {
  return impl_->write("add member", [&](Db& db) -> Result<Member> {
    auto owner = live_owner(db, server_id);
    if (!owner) return fail(owner.error());
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", user_id))
      return fail(codes::kNotFound, "no such user");
    if (*owner == user_id) return fail(codes::kConflict, "the owner is not made a member");
    Stmt dup = db.prepare("SELECT 1 FROM server_members WHERE server_id = ? AND user_id = ?");
    dup.bind(1, server_id);
    dup.bind(2, user_id);
    if (dup.step()) return fail(codes::kConflict, "already a member of this server");
    const int64_t now = impl_->now_ms();
    exec_with(db,
              "INSERT INTO server_members(server_id, user_id, permissions, added_by, created_at,"
              " updated_at) VALUES (?,?,?,?,?,?)",
              server_id, user_id, permissions_text(permissions), added_by, now, now);
    return one_member(db, server_id, user_id);
  });
}

Result<Member> Store::update_member(int64_t server_id, int64_t user_id, PermSet permissions) {
  return impl_->write("update member", [&](Db& db) -> Result<Member> {
    Stmt q = db.prepare(
        "UPDATE server_members SET permissions = ?, updated_at = ?"
        " WHERE server_id = ? AND user_id = ?");
    q.bind(1, permissions_text(permissions));
    q.bind(2, impl_->now_ms());
    q.bind(3, server_id);
    q.bind(4, user_id);
    if (q.exec() == 0) return fail(codes::kNotFound, "no such member");
    impl_->changed_server(db, server_id);
    return one_member(db, server_id, user_id);
  });
}

Result<void> Store::remove_member(int64_t server_id, int64_t user_id) {
  return impl_->write("remove member", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare("DELETE FROM server_members WHERE server_id = ? AND user_id = ?");
    q.bind(1, server_id);
    q.bind(2, user_id);
    if (q.exec() == 0) return fail(codes::kNotFound, "no such member");
    impl_->changed_server(db, server_id);
    return {};
  });
}

Result<int> Store::revoke_ide_access(int64_t user_id, int vmid) {
  return impl_->write("revoke ide access", [&](Db& db) -> Result<int> {
    Stmt c = db.prepare("DELETE FROM ide_cookies WHERE user_id = ? AND vmid = ?");
    c.bind(1, user_id);
    c.bind(2, vmid);
    Stmt t = db.prepare("DELETE FROM ide_tickets WHERE user_id = ? AND vmid = ?");
    t.bind(1, user_id);
    t.bind(2, vmid);
    const int n = c.exec() + t.exec();
    impl_->changed(db, "vmid:" + std::to_string(vmid));
    return n;
  });
}

Result<Transfer> Store::offer_transfer(int64_t server_id, int64_t to_user_id, Time expires_at) {
  return impl_->write("offer transfer", [&](Db& db) -> Result<Transfer> {
    auto owner = live_owner(db, server_id);
    if (!owner) return fail(owner.error());
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", to_user_id))
      return fail(codes::kNotFound, "no such user");
    if (*owner == to_user_id) return fail(codes::kConflict, "the server is already theirs");
    const int64_t now = impl_->now_ms();
    if (to_ms(expires_at) <= now)
      return std::unexpected(Error::invalid("expires_at", "the offer would be born expired"));
    exec_with(db,
              "INSERT INTO server_transfers(server_id, from_user_id, to_user_id,"
              " created_at, expires_at) VALUES (?,?,?,?,?)"
              " ON CONFLICT (server_id) DO UPDATE SET from_user_id = excluded.from_user_id,"
              " to_user_id = excluded.to_user_id, created_at = excluded.created_at,"
              " expires_at = excluded.expires_at",
              server_id, *owner, to_user_id, now, to_ms(expires_at));
    return live_transfer(db, server_id, now);
  });
}

Result<void> Store::cancel_transfer(int64_t server_id) {
  return impl_->write("cancel transfer", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare("DELETE FROM server_transfers WHERE server_id = ?");
    q.bind(1, server_id);
    if (q.exec() == 0) return fail(codes::kNotFound, "no ownership offer for this server");
    return {};
  });
}

Result<Transfer> Store::get_transfer(int64_t server_id, Time now) {
  return impl_->read("get transfer",
                     [&](Db& db) { return live_transfer(db, server_id, to_ms(now)); });
}

Result<std::vector<Transfer>> Store::list_transfers_to(int64_t user_id, Time now) {
  return impl_->read("list transfers", [&](Db& db) -> Result<std::vector<Transfer>> {
    Stmt q = db.prepare(std::string(kTransferSelect) +
                        "WHERE t.to_user_id = ? AND t.expires_at > ?"
                        " AND s.deleted_at IS NULL AND s.owner_id = t.from_user_id"
                        " ORDER BY t.server_id");
    q.bind(1, user_id);
    q.bind(2, to_ms(now));
    std::vector<Transfer> out;
    while (q.step()) out.push_back(read_transfer(q));
    return out;
  });
}

Result<Transfer> Store::accept_transfer(int64_t server_id, int64_t user_id, Time now,
                                        const NewServer& quotas) {
  return impl_->write("accept transfer", [&](Db& db) -> Result<Transfer> {
    auto t = live_transfer(db, server_id, to_ms(now));
    if (!t || t->to_user_id != user_id)
      return fail(codes::kNotFound, "no ownership offer of this server to you");
    // The server counts against its new owner's quotas from now on.
    NewServer n = quotas;
    n.owner_id = user_id;
    Stmt size = db.prepare(
        "SELECT coalesce(CAST(payload ->> 'memory_mb' AS BIGINT), 0),"
        " coalesce(CAST(payload ->> 'disk_gb' AS BIGINT), 0)"
        " FROM servers WHERE id = ?");
    size.bind(1, server_id);
    size.step();
    n.memory_mb = size.col(0).int64();
    n.disk_gb = size.col(1).int64();
    if (auto ok = check_quotas(db, n); !ok) return fail(ok.error());
    exec_with(db, "UPDATE servers SET owner_id = ?, updated_at = ? WHERE id = ?", user_id,
              impl_->now_ms(), server_id);
    exec_with(db, "DELETE FROM server_members WHERE server_id = ? AND user_id = ?", server_id,
              user_id);
    exec_with(db, "DELETE FROM server_transfers WHERE server_id = ?", server_id);
    impl_->changed_server(db, server_id);
    return *t;
  });
}

}  // namespace zlh::api::store
