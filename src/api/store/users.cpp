// Users and sessions.
#include "api/store/impl.hpp"
#include "base/crypto.hpp"

namespace zlh::api::store {
namespace {

constexpr const char* kUserColumns = "id, email, username, password_hash, is_admin, created_at";

User read_user(Stmt& q) {
  return User{q.col(0).int64(), q.col(1).text(),       q.col(2).text(),
              q.col(3).text(),  q.col(4).int32() != 0, from_ms(q.col(5).int64())};
}

// Runs a query for at most one user; E_NOT_FOUND when it yields none.
template <typename Bind>
Result<User> one_user(Db& db, const std::string& where, Bind bind) {
  Stmt q = db.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE " + where);
  bind(q);
  if (!q.step()) return fail(codes::kNotFound, "user not found");
  return read_user(q);
}

bool exists(Db& db, const char* sql, const std::string& value) {
  Stmt q = db.prepare(sql);
  q.bind(1, value);
  return q.step();
}

}  // namespace

namespace {

Result<void> check_new_user(const NewUser& u) {
  if (u.email.empty()) return std::unexpected(Error::invalid("email", "empty email"));
  if (u.username.empty()) return std::unexpected(Error::invalid("username", "empty username"));
  if (u.password_hash.empty())
    return std::unexpected(Error::invalid("password_hash", "empty password hash"));
  return {};
}

// Inside a write transaction.
Result<User> insert_user(Db& db, const NewUser& u, int64_t now) {
  // Checked first so the caller learns which one is taken; the UNIQUE
  // constraints stay the guarantee.
  if (exists(db, "SELECT 1 FROM users WHERE email = ?", u.email))
    return fail(codes::kConflict, "email already registered");
  if (exists(db, "SELECT 1 FROM users WHERE username = ?", u.username))
    return fail(codes::kConflict, "username already taken");
  Stmt ins = db.prepare(
      "INSERT INTO users(email, username, password_hash, is_admin, created_at)"
      " VALUES (?,?,?,?,?) RETURNING id");
  ins.bind(1, u.email);
  ins.bind(2, u.username);
  ins.bind(3, u.password_hash);
  ins.bind(4, u.is_admin ? 1 : 0);
  ins.bind(5, now);
  const int64_t id = returning_id(ins);
  return User{id, u.email, u.username, u.password_hash, u.is_admin, from_ms(now)};
}

}  // namespace

Result<User> Store::create_user(const NewUser& u) {
  if (auto c = check_new_user(u); !c) return std::unexpected(c.error());
  return impl_->write("create user",
                      [&](Db& db) -> Result<User> { return insert_user(db, u, impl_->now_ms()); });
}

Result<User> Store::get_user(int64_t id) {
  return impl_->read(
      "get user", [&](Db& db) { return one_user(db, "id = ?", [&](Stmt& q) { q.bind(1, id); }); });
}

Result<User> Store::find_user_by_login(std::string_view identifier) {
  std::string ident(identifier);
  return impl_->read("find user", [&](Db& db) {
    auto by_email = one_user(db, "email = ?", [&](Stmt& q) { q.bind(1, ident); });
    if (by_email || !by_email.error().is(codes::kNotFound)) return by_email;
    return one_user(db, "username = ?", [&](Stmt& q) { q.bind(1, ident); });
  });
}

Result<int64_t> Store::count_users() {
  return impl_->read("count users", [](Db& db) -> Result<int64_t> {
    return db.scalar_int64("SELECT count(*) FROM users");
  });
}

Result<Session> Store::create_session(int64_t user_id, Time expires_at) {
  return impl_->write("create session", [&](Db& db) -> Result<Session> {
    int64_t now = impl_->now_ms();
    if (to_ms(expires_at) <= now)
      return std::unexpected(Error::invalid("expires_at", "session would be born expired"));
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", user_id))
      return fail(codes::kNotFound, "user not found");
    Session s{crypto::base64url_encode(crypto::random_bytes(32)), user_id, from_ms(now),
              from_ms(to_ms(expires_at)), std::nullopt};
    Stmt ins =
        db.prepare("INSERT INTO sessions(id, user_id, created_at, expires_at) VALUES (?,?,?,?)");
    ins.bind(1, s.id);
    ins.bind(2, user_id);
    ins.bind(3, now);
    ins.bind(4, to_ms(s.expires_at));
    ins.exec();
    return s;
  });
}

Result<Session> Store::get_session(std::string_view sid, Time now) {
  std::string id(sid);
  return impl_->read("get session", [&](Db& db) -> Result<Session> {
    Stmt q = db.prepare(
        "SELECT user_id, created_at, expires_at FROM sessions"
        " WHERE id = ? AND revoked_at IS NULL AND expires_at > ?");
    q.bind(1, id);
    q.bind(2, to_ms(now));
    if (!q.step()) return fail(codes::kNotFound, "session not found");
    return Session{id, q.col(0).int64(), from_ms(q.col(1).int64()), from_ms(q.col(2).int64()),
                   std::nullopt};
  });
}

Result<void> Store::revoke_session(std::string_view sid) {
  std::string id(sid);
  return impl_->write("revoke session", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare("UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?");
    q.bind(1, impl_->now_ms());
    q.bind(2, id);
    if (q.exec() == 0) return fail(codes::kNotFound, "session not found");
    impl_->changed(db, "session:" + id);  // every replica's IDE cookie cache
    return {};
  });
}

Result<int> Store::purge_sessions(Time before) {
  return impl_->write("purge sessions", [&](Db& db) -> Result<int> {
    Stmt q = db.prepare("DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1");
    q.bind(1, to_ms(before));
    return q.exec();
  });
}

Result<void> Store::create_invite(std::string_view hash, int64_t admin_id, Time expires_at) {
  if (hash.size() != 64) return std::unexpected(Error::invalid("hash", "not a SHA-256 in hex"));
  std::string h(hash);
  return impl_->write("create invite", [&](Db& db) -> Result<void> {
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", admin_id))
      return fail(codes::kNotFound, "user not found");
    Stmt ins = db.prepare(
        "INSERT INTO invites (hash, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)");
    ins.bind(1, h);
    ins.bind(2, admin_id);
    ins.bind(3, impl_->now_ms());
    ins.bind(4, to_ms(expires_at));
    ins.exec();
    return {};
  });
}

Result<User> Store::create_user_with_invite(const NewUser& nu, std::string_view invite_hash,
                                            Time now) {
  std::string h(invite_hash);
  // The user first (its own checks and conflicts), then the invite, in one
  // transaction: a used or expired invite rolls the user back.
  if (auto c = check_new_user(nu); !c) return std::unexpected(c.error());
  return impl_->write("create user with invite", [&](Db& db) -> Result<User> {
    Stmt inv =
        db.prepare("SELECT 1 FROM invites WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2");
    inv.bind(1, h);
    inv.bind(2, to_ms(now));
    if (!inv.step())
      return fail(codes::kForbidden, "the invite code is not valid (unknown, used or expired)");
    auto u = insert_user(db, nu, impl_->now_ms());
    if (!u) return u;
    Stmt use = db.prepare(
        "UPDATE invites SET used_by = ?1, used_at = ?2 WHERE hash = ?3 AND used_at IS NULL");
    use.bind(1, u->id);
    use.bind(2, to_ms(now));
    use.bind(3, h);
    if (use.exec() != 1)
      return fail(codes::kForbidden, "the invite code is not valid (unknown, used or expired)");
    return u;
  });
}

}  // namespace zlh::api::store
