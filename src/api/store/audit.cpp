// The audit log: append-only, read newest first.
#include <charconv>
#include <cstdint>
#include <string_view>

#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

// The <n> of "server:<n>" or "server:<n>/...", as migration 0012 reads it.
std::optional<int64_t> server_of_target(std::string_view target) {
  constexpr std::string_view kPrefix = "server:";
  if (!target.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = target.substr(kPrefix.size());
  rest = rest.substr(0, rest.find('/'));
  int64_t n = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size() || n <= 0)
    return std::nullopt;
  return n;
}

}  // namespace

Result<int64_t> Store::append_audit(const NewAuditEntry& e) {
  if (e.action.empty()) return std::unexpected(Error::invalid("action", "empty action"));
  if (!is_json_object(e.detail))
    return std::unexpected(Error::invalid("detail", "detail is not a JSON object"));
  return impl_->write("append audit", [&](Db& db) -> Result<int64_t> {
    if (e.user_id) {
      if (!row_exists(db, "SELECT 1 FROM users WHERE id = ?", *e.user_id))
        return fail(codes::kNotFound, "user not found");
    }
    Stmt ins = db.prepare(
        "INSERT INTO audit_log(at, user_id, action, target, detail, remote_addr,"
        " server_id) VALUES (?,?,?,?,?,?,?) RETURNING id");
    ins.bind(1, impl_->now_ms());
    if (e.user_id)
      ins.bind(2, *e.user_id);
    else
      ins.bind_null(2);
    ins.bind(3, e.action);
    ins.bind(4, e.target);
    ins.bind(5, e.detail);
    ins.bind(6, e.remote_addr);
    if (auto sid = e.server_id ? e.server_id : server_of_target(e.target))
      ins.bind(7, *sid);
    else
      ins.bind_null(7);
    return returning_id(ins);
  });
}

Result<int> Store::count_recent_audit(int64_t server_id, int64_t user_id, std::string_view action,
                                      std::chrono::milliseconds window) {
  return impl_->read("count audit", [&](Db& db) -> Result<int> {
    // Among the server's newest 200 entries (an index range: bounded cost).
    Stmt q = db.prepare(
        "SELECT count(*) FROM (SELECT user_id, action, at FROM audit_log"
        " WHERE server_id = ? ORDER BY id DESC LIMIT 200) AS recent"
        " WHERE user_id = ? AND action = ? AND at >= ?");
    q.bind(1, server_id);
    q.bind(2, user_id);
    q.bind(3, std::string(action));
    q.bind(4, impl_->now_ms() - window.count());
    q.step();
    return q.col(0).int32();
  });
}

Result<std::vector<AuditEntry>> Store::list_audit(int limit, std::optional<int64_t> before_id) {
  if (limit < 1 || limit > 1000)
    return std::unexpected(Error::invalid("limit", "limit outside 1..1000"));
  return impl_->read("list audit", [&](Db& db) -> Result<std::vector<AuditEntry>> {
    Stmt q = db.prepare(
        "SELECT id, at, user_id, action, target, detail, remote_addr, server_id"
        " FROM audit_log"
        " WHERE id < ? ORDER BY id DESC LIMIT ?");
    q.bind(1, before_id.value_or(INT64_MAX));
    q.bind(2, limit);
    std::vector<AuditEntry> out;
    while (q.step()) {
      AuditEntry a;
      a.id = q.col(0).int64();
      a.at = from_ms(q.col(1).int64());
      if (!q.col(2).is_null()) a.user_id = q.col(2).int64();
      a.action = q.col(3).text();
      a.target = q.col(4).text();
      a.detail = q.col(5).text();
      a.remote_addr = q.col(6).text();
      if (!q.col(7).is_null()) a.server_id = q.col(7).int64();
      out.push_back(std::move(a));
    }
    return out;
  });
}

}  // namespace zlh::api::store
