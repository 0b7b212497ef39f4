// Servers and their vmid and port allocations.
#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <variant>

#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

// vmid and ports come from the allocation tables, the one record of what a
// server holds. The ports subquery is an index lookup per row
// (port_allocations_server).
// The list of ports is "a,b,c": group_concat on SQLite (3.40 has no
// string_agg), string_agg on PostgreSQL.
#define ZLH_PORTS_SQLITE "group_concat(p.port)"
#define ZLH_PORTS_PG "string_agg(CAST(p.port AS TEXT), ',')"
#define ZLH_SERVER_COLUMNS(PORTS)                                                    \
  "SELECT s.id, s.owner_id, s.type, s.name, v.vmid,"                                 \
  " (SELECT " PORTS                                                                  \
  " FROM port_allocations p WHERE p.server_id = s.id),"                              \
  " s.hostname, s.ip, s.node, s.payload, s.state, s.agent_state, s.agent_last_seen," \
  " s.crash_count, s.install_step, s.progress, s.error, s.created_at, s.updated_at," \
  " s.deleted_at, s.last_exit"
#define ZLH_SERVER_FROM " FROM servers s LEFT JOIN vmid_allocations v ON v.server_id = s.id "
constexpr const char* kServerSelectSqlite = ZLH_SERVER_COLUMNS(ZLH_PORTS_SQLITE) ZLH_SERVER_FROM;
constexpr const char* kServerSelectPg = ZLH_SERVER_COLUMNS(ZLH_PORTS_PG) ZLH_SERVER_FROM;
#undef ZLH_SERVER_FROM

const char* server_select(const Db& db) {
  return db.engine() == Engine::kPostgres ? kServerSelectPg : kServerSelectSqlite;
}

std::vector<int> parse_ports(const Col& c) {
  std::vector<int> out;
  if (c.is_null()) return out;
  std::string s = c.text();
  const char* p = s.data();
  const char* end = s.data() + s.size();
  while (p < end) {
    int v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) throw std::runtime_error("bad port list \"" + s + "\"");
    out.push_back(v);
    p = next < end ? next + 1 : end;  // skip the comma
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

#define ZLH_ACCESS_FROM                                                \
  ", m.permissions, o.username"                                        \
  " FROM servers s LEFT JOIN vmid_allocations v ON v.server_id = s.id" \
  " JOIN users o ON o.id = s.owner_id"                                 \
  " LEFT JOIN server_members m ON m.server_id = s.id AND m.user_id = ?1 "
const char* server_access_select(const Db& db) {
  static constexpr const char* kSqlite = ZLH_SERVER_COLUMNS(ZLH_PORTS_SQLITE) ZLH_ACCESS_FROM;
  static constexpr const char* kPg = ZLH_SERVER_COLUMNS(ZLH_PORTS_PG) ZLH_ACCESS_FROM;
  return db.engine() == Engine::kPostgres ? kPg : kSqlite;
}
#undef ZLH_ACCESS_FROM
#undef ZLH_SERVER_COLUMNS
#undef ZLH_PORTS_SQLITE
#undef ZLH_PORTS_PG

Server read_server(Stmt& q) {
  Server s;
  s.id = q.col(0).int64();
  s.owner_id = q.col(1).int64();
  s.type = must(parse_server_type(q.col(2).text()));
  s.name = q.col(3).text();
  if (!q.col(4).is_null()) s.vmid = q.col(4).int32();
  s.ports = parse_ports(q.col(5));
  s.hostname = q.col(6).text();
  s.ip = q.col(7).text();
  s.node = q.col(8).text();
  s.payload = q.col(9).text();
  s.state = must(parse_server_state(q.col(10).text()));
  s.agent_state = q.col(11).text();
  s.agent_last_seen = opt_time(q.col(12));
  s.crash_count = q.col(13).int32();
  s.install_step = q.col(14).text();
  s.progress = q.col(15).real();
  s.error = q.col(16).text();
  s.created_at = from_ms(q.col(17).int64());
  s.updated_at = from_ms(q.col(18).int64());
  s.deleted_at = opt_time(q.col(19));
  s.last_exit = q.col(20).text();
  return s;
}

namespace {

template <typename Bind>
std::vector<Server> query_servers(Db& db, std::string_view tail, Bind bind) {
  Stmt q = db.prepare(std::string(server_select(db)) + std::string(tail));
  bind(q);
  std::vector<Server> out;
  while (q.step()) out.push_back(read_server(q));
  return out;
}

template <typename Bind>
Result<Server> one_server(Db& db, std::string_view where, Bind bind) {
  auto rows = query_servers(db, std::string("WHERE ") + std::string(where), bind);
  if (rows.empty()) return fail(codes::kNotFound, "server not found");
  return std::move(rows.front());
}

// The lowest value in [r.lo, r.hi] with no row in table(col): either r.lo
// itself or one past an allocated value, so only allocated rows are scanned.
std::optional<int> lowest_free(Db& db, const std::string& table, const std::string& col, Range r) {
  Stmt q = db.prepare("SELECT c FROM (SELECT CAST(?1 AS BIGINT) AS c UNION ALL SELECT " + col +
                      " + 1 FROM " + table + " WHERE " + col + " >= ?1 AND " + col +
                      " < ?2) AS f WHERE NOT EXISTS (SELECT 1 FROM " + table + " WHERE " + col +
                      " = c) ORDER BY c LIMIT 1");
  q.bind(1, r.lo);
  q.bind(2, r.hi);
  if (!q.step()) return std::nullopt;
  return q.col(0).int32();
}

// lowest_free for vmids: neither allocated nor reserved (0003_vmid_reserved).
std::optional<int> lowest_free_vmid(Db& db, Range r) {
  Stmt q = db.prepare(
      "WITH taken(v) AS (SELECT vmid FROM vmid_allocations UNION ALL SELECT vmid FROM "
      "vmid_reserved)"
      " SELECT c FROM (SELECT CAST(?1 AS BIGINT) AS c UNION ALL"
      " SELECT v + 1 FROM taken WHERE v >= ?1 AND v < ?2) AS f"
      " WHERE NOT EXISTS (SELECT 1 FROM taken WHERE v = c) ORDER BY c LIMIT 1");
  q.bind(1, r.lo);
  q.bind(2, r.hi);
  if (!q.step()) return std::nullopt;
  return q.col(0).int32();
}

// PostgreSQL: creates run one at a time. Each reads the lowest free vmid
// and port and takes them, so two concurrent creates always conflict and
// SERIALIZABLE would fail all but one of them (40001) round after round.
// LOCK TABLE takes no snapshot, so it must be the transaction's first
// statement: the snapshot is then taken after the wait and sees the
// previous create's commit. SQLite: BEGIN IMMEDIATE serialises already.
void lock_allocations(Db& db) {
  if (db.engine() == Engine::kPostgres)
    db.exec("LOCK TABLE vmid_allocations, port_allocations IN SHARE ROW EXCLUSIVE MODE");
}

bool server_exists(Db& db, int64_t id) {
  return row_exists(db, "SELECT 1 FROM servers WHERE id = ?", id);
}

void release(Db& db, int64_t server_id) {
  for (const char* sql : {"DELETE FROM vmid_allocations WHERE server_id = ?",
                          "DELETE FROM port_allocations WHERE server_id = ?"}) {
    Stmt q = db.prepare(sql);
    q.bind(1, server_id);
    q.exec();
  }
}

}  // namespace

// Whether the owner's live servers (their stored payloads) leave room for
// `n` under the quotas it carries; E_QUOTA naming the first one exceeded.
Result<void> check_quotas(Db& db, const NewServer& n) {
  if (n.quota_servers <= 0 && n.quota_memory_mb <= 0 && n.quota_disk_gb <= 0) return {};
  Stmt held = db.prepare(
      "SELECT count(*), CAST(coalesce(sum(CAST(payload ->> 'memory_mb' AS BIGINT)), 0) AS BIGINT),"
      " CAST(coalesce(sum(CAST(payload ->> 'disk_gb' AS BIGINT)), 0) AS BIGINT)"
      " FROM servers WHERE owner_id = ? AND deleted_at IS NULL");
  held.bind(1, n.owner_id);
  held.step();
  const int64_t count = held.col(0).int64(), mem = held.col(1).int64(), disk = held.col(2).int64();
  auto over = [](std::string_view quota, int64_t limit, int64_t have, int64_t want,
                 std::string_view unit) {
    return Error::make(codes::kQuota, "quota " + std::string(quota) +
                                          " reached: " + std::to_string(have) + std::string(unit) +
                                          " in use, " + std::to_string(want) + std::string(unit) +
                                          " more asked, the limit is " + std::to_string(limit) +
                                          std::string(unit));
  };
  if (n.quota_servers > 0 && count + 1 > n.quota_servers)
    return std::unexpected(over("servers", n.quota_servers, count, 1, ""));
  if (n.quota_memory_mb > 0 && mem + n.memory_mb > n.quota_memory_mb)
    return std::unexpected(over("memory_mb", n.quota_memory_mb, mem, n.memory_mb, " MB"));
  if (n.quota_disk_gb > 0 && disk + n.disk_gb > n.quota_disk_gb)
    return std::unexpected(over("disk_gb", n.quota_disk_gb, disk, n.disk_gb, " GB"));
  return {};
}

namespace {

// The lowest free vmid of the pool of `type`; E_UNAVAILABLE when none is.
Result<int> free_vmid(Db& db, ServerType type, Range range) {
  auto vmid = lowest_free_vmid(db, range);
  if (!vmid)
    return fail(codes::kUnavailable, "vmid pool exhausted (" + std::string(to_string(type)) + " " +
                                         std::to_string(range.lo) + "-" + std::to_string(range.hi) +
                                         ")");
  return *vmid;
}

// Records `vmid` as the server's.
void allocate_vmid(Db& db, int vmid, int64_t server_id, int64_t now) {
  exec_with(db, "INSERT INTO vmid_allocations(vmid, server_id, allocated_at) VALUES (?,?,?)", vmid,
            server_id, now);
}

// `count` of the pool's lowest free ports, recorded as the server's.
Result<void> allocate_ports(Db& db, Range ports, int count, int64_t server_id, int64_t now) {
  Stmt take_port =
      db.prepare("INSERT INTO port_allocations(port, server_id, allocated_at) VALUES (?,?,?)");
  for (int i = 0; i < count; ++i) {
    auto port = lowest_free(db, "port_allocations", "port", ports);
    if (!port)
      return fail(codes::kUnavailable, "port pool exhausted (" + std::to_string(ports.lo) + "-" +
                                           std::to_string(ports.hi) + ")");
    take_port.reset();
    take_port.bind(1, *port);
    take_port.bind(2, server_id);
    take_port.bind(3, now);
    take_port.exec();
  }
  return {};
}

// The new server's row, provisioning; its id.
int64_t insert_server(Db& db, const NewServer& n, int vmid, int64_t now) {
  Stmt ins = db.prepare(
      "INSERT INTO servers(owner_id, type, name, hostname, payload, state,"
      " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id");
  ins.bind(1, n.owner_id);
  ins.bind(2, std::string(to_string(n.type)));
  ins.bind(3, n.name);
  ins.bind(4, n.hostname_prefix.empty() ? std::string() : n.hostname_prefix + std::to_string(vmid));
  ins.bind(5, n.payload);
  ins.bind(6, std::string(to_string(ServerState::kProvisioning)));
  ins.bind(7, now);
  ins.bind(8, now);
  return returning_id(ins);
}

}  // namespace

Result<CreatedServer> Store::create_server(const NewServer& n, std::span<const std::string> steps) {
  if (!is_json_object(n.payload))
    return std::unexpected(Error::invalid("payload", "payload is not a JSON object"));
  if (n.port_count < 0 || n.port_count > kMaxPortsPerServer)
    return std::unexpected(Error::invalid("port_count", "port_count out of range"));
  if (steps.empty()) return std::unexpected(Error::invalid("steps", "a job needs steps"));
  return impl_->write("create server", [&](Db& db) -> Result<CreatedServer> {
    lock_allocations(db);
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", n.owner_id))
      return fail(codes::kNotFound, "owner not found");
    if (auto q = check_quotas(db, n); !q) return std::unexpected(q.error());
    auto vmid = free_vmid(
        db, n.type, n.type == ServerType::kGame ? impl_->opts.game_vmids : impl_->opts.dev_vmids);
    if (!vmid) return std::unexpected(vmid.error());
    const int64_t now = impl_->now_ms();
    const int64_t id = insert_server(db, n, *vmid, now);
    allocate_vmid(db, *vmid, id, now);
    if (auto p = allocate_ports(db, impl_->opts.ports, n.port_count, id, now); !p)
      return std::unexpected(p.error());
    Job job = insert_job(db, id, JobKind::kCreate, steps, now);
    impl_->changed(db, "vmid:" + std::to_string(*vmid));  // cached "no such vmid" decisions
    auto server = one_server(db, "s.id = ?", [&](Stmt& q) { q.bind(1, id); });
    if (!server) return std::unexpected(server.error());
    return CreatedServer{std::move(*server), std::move(job)};
  });
}

Result<Server> Store::move_to_free_vmid(int64_t server_id, int taken, const std::string& reason) {
  return impl_->write("move vmid", [&](Db& db) -> Result<Server> {
    lock_allocations(db);
    auto cur =
        one_server(db, "s.id = ? AND s.deleted_at IS NULL", [&](Stmt& q) { q.bind(1, server_id); });
    if (!cur) return std::unexpected(cur.error());
    int64_t now = impl_->now_ms();
    exec_with(db,
              "INSERT INTO vmid_reserved(vmid, reason, reserved_at) VALUES (?,?,?)"
              " ON CONFLICT DO NOTHING",
              taken, reason, now);
    if (cur->vmid != taken) return std::move(*cur);  // moved already (a repeated call)
    impl_->changed_server(db, server_id);            // the vmid it leaves
    Stmt drop = db.prepare("DELETE FROM vmid_allocations WHERE server_id = ?");
    drop.bind(1, server_id);
    drop.exec();
    auto vmid =
        free_vmid(db, cur->type,
                  cur->type == ServerType::kGame ? impl_->opts.game_vmids : impl_->opts.dev_vmids);
    if (!vmid) return std::unexpected(vmid.error());
    allocate_vmid(db, *vmid, server_id, now);
    impl_->changed(db, "vmid:" + std::to_string(*vmid));
    // dev-<vmid> / mc-<variant>-<vmid>: the prefix stays, the number follows.
    std::string host = cur->hostname;
    const std::string old_tail = std::to_string(taken);
    if (host.ends_with(old_tail))
      host = host.substr(0, host.size() - old_tail.size()) + std::to_string(*vmid);
    Stmt up = db.prepare("UPDATE servers SET hostname = ?, updated_at = ? WHERE id = ?");
    up.bind(1, host);
    up.bind(2, now);
    up.bind(3, server_id);
    up.exec();
    return one_server(db, "s.id = ?", [&](Stmt& q) { q.bind(1, server_id); });
  });
}

Result<Server> Store::get_server_for_owner(int64_t id, int64_t owner_id) {
  return impl_->read("get server", [&](Db& db) {
    return one_server(db, "s.id = ? AND s.owner_id = ? AND s.deleted_at IS NULL", [&](Stmt& q) {
      q.bind(1, id);
      q.bind(2, owner_id);
    });
  });
}

Result<Server> Store::get_server_by_vmid_for_owner(int vmid, int64_t owner_id) {
  return impl_->read("get server", [&](Db& db) {
    return one_server(db, "v.vmid = ? AND s.owner_id = ? AND s.deleted_at IS NULL", [&](Stmt& q) {
      q.bind(1, vmid);
      q.bind(2, owner_id);
    });
  });
}

Result<Server> Store::get_server_by_vmid(int vmid) {
  return impl_->read("get server", [&](Db& db) {
    return one_server(db, "v.vmid = ? AND s.deleted_at IS NULL", [&](Stmt& q) { q.bind(1, vmid); });
  });
}

Result<std::vector<Server>> Store::list_servers_for_owner(int64_t owner_id) {
  return impl_->read("list servers", [&](Db& db) -> Result<std::vector<Server>> {
    return query_servers(db, "WHERE s.owner_id = ? AND s.deleted_at IS NULL ORDER BY s.id",
                         [&](Stmt& q) { q.bind(1, owner_id); });
  });
}

Result<std::vector<Server>> Store::list_servers() {
  return impl_->read("list servers", [&](Db& db) -> Result<std::vector<Server>> {
    return query_servers(db, "WHERE s.deleted_at IS NULL ORDER BY s.id", [](Stmt&) {});
  });
}

Result<Server> Store::get_server(int64_t id) {
  return impl_->read("get server", [&](Db& db) {
    return one_server(db, "s.id = ?", [&](Stmt& q) { q.bind(1, id); });
  });
}

Result<void> Store::update_server(int64_t id, const ServerUpdate& u) {
  if (u.state == ServerState::kDeleted)
    return std::unexpected(Error::invalid("state", "use delete_server to delete a server"));
  if (u.payload && !is_json_object(*u.payload))
    return std::unexpected(Error::invalid("payload", "payload is not a JSON object"));
  if (u.progress && !(*u.progress >= 0 && *u.progress <= 1))
    return std::unexpected(Error::invalid("progress", "progress outside 0..1"));
  if (u.crash_count && *u.crash_count < 0)
    return std::unexpected(Error::invalid("crash_count", "negative crash_count"));
  if (u.last_exit && !u.last_exit->empty() && !is_json_object(*u.last_exit))
    return std::unexpected(Error::invalid("last_exit", "last_exit is not a JSON object"));

  using Value = std::variant<int64_t, double, std::string>;
  std::vector<std::pair<const char*, Value>> set;
  if (u.state) set.emplace_back("state", std::string(to_string(*u.state)));
  if (u.hostname) set.emplace_back("hostname", *u.hostname);
  if (u.ip) set.emplace_back("ip", *u.ip);
  if (u.node) set.emplace_back("node", *u.node);
  if (u.payload) set.emplace_back("payload", *u.payload);
  if (u.agent_state) set.emplace_back("agent_state", *u.agent_state);
  if (u.agent_last_seen) set.emplace_back("agent_last_seen", to_ms(*u.agent_last_seen));
  if (u.crash_count) set.emplace_back("crash_count", int64_t{*u.crash_count});
  if (u.install_step) set.emplace_back("install_step", *u.install_step);
  if (u.progress) set.emplace_back("progress", *u.progress);
  if (u.error) set.emplace_back("error", *u.error);
  if (u.last_exit) set.emplace_back("last_exit", *u.last_exit);

  std::string sql = "UPDATE servers SET ";
  for (const auto& [col, v] : set) sql += std::string(col) + " = ?, ";
  sql += "updated_at = ? WHERE id = ? AND deleted_at IS NULL";
  return impl_->write("update server", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare(sql);
    int i = 1;
    for (const auto& [col, v] : set) std::visit([&](const auto& x) { q.bind(i++, x); }, v);
    q.bind(i++, impl_->now_ms());
    q.bind(i, id);
    if (q.exec() == 0) return fail(codes::kNotFound, "server not found");
    return {};
  });
}

Result<void> Store::release_allocations(int64_t server_id) {
  return impl_->write("release allocations", [&](Db& db) -> Result<void> {
    if (!server_exists(db, server_id)) return fail(codes::kNotFound, "server not found");
    impl_->changed_server(db, server_id);
    release(db, server_id);
    return {};
  });
}

Result<void> Store::delete_server(int64_t server_id) {
  return impl_->write("delete server", [&](Db& db) -> Result<void> {
    if (!server_exists(db, server_id)) return fail(codes::kNotFound, "server not found");
    impl_->changed_server(db, server_id);
    release(db, server_id);
    exec_with(db, "DELETE FROM schedules WHERE server_id = ?", server_id);  // runs cascade
    exec_with(db, "DELETE FROM server_members WHERE server_id = ?", server_id);
    exec_with(db, "DELETE FROM server_transfers WHERE server_id = ?", server_id);
    Stmt q = db.prepare(
        "UPDATE servers SET state = 'deleted', updated_at = ?1,"
        " deleted_at = coalesce(deleted_at, ?1) WHERE id = ?2");
    q.bind(1, impl_->now_ms());
    q.bind(2, server_id);
    q.exec();
    return {};
  });
}

}  // namespace zlh::api::store

namespace zlh::api::store {

Result<QuotaOverrides> Store::get_quotas(int64_t user_id) {
  return impl_->read("get quotas", [&](Db& db) -> Result<QuotaOverrides> {
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", user_id))
      return fail(codes::kNotFound, "user not found");
    Stmt q = db.prepare(
        "SELECT servers, memory_mb, disk_gb, consoles, uploads, backup_bytes FROM user_quotas"
        " WHERE user_id = ?");
    q.bind(1, user_id);
    QuotaOverrides out;
    if (q.step()) {
      auto col = [&](int i) -> std::optional<int64_t> {
        if (q.col(i).is_null()) return std::nullopt;
        return q.col(i).int64();
      };
      out = {col(0), col(1), col(2), col(3), col(4), col(5)};
    }
    return out;
  });
}

Result<void> Store::set_quotas(int64_t user_id, const QuotaOverrides& in) {
  for (const auto* v :
       {&in.servers, &in.memory_mb, &in.disk_gb, &in.consoles, &in.uploads, &in.backup_bytes})
    if (*v && **v < 0)
      return std::unexpected(Error::invalid("quotas", "a quota cannot be negative"));
  return impl_->write("set quotas", [&](Db& db) -> Result<void> {
    if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", user_id))
      return fail(codes::kNotFound, "user not found");
    Stmt q = db.prepare(
        "INSERT INTO user_quotas (user_id, servers, memory_mb, disk_gb, consoles, "
        "uploads, backup_bytes, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(user_id) DO UPDATE SET"
        " servers = ?2, memory_mb = ?3, disk_gb = ?4, consoles = ?5, uploads = ?6, "
        "backup_bytes = ?7, updated_at = ?8");
    q.bind(1, user_id);
    int i = 2;
    for (const auto* v :
         {&in.servers, &in.memory_mb, &in.disk_gb, &in.consoles, &in.uploads, &in.backup_bytes}) {
      if (*v)
        q.bind(i, **v);
      else
        q.bind_null(i);
      ++i;
    }
    q.bind(8, impl_->now_ms());
    q.exec();
    return {};
  });
}

}  // namespace zlh::api::store
