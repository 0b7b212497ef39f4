// A server's activity log: the audit log's entries about one server whose
// action a customer may see (docs/activity.md).
#include <array>
#include <cstdint>
#include <string_view>

#include "api/store/impl.hpp"

namespace zlh::api::store {
namespace {

// The allow-list. An action not named here never reaches a member's
// activity view, so a new audit action stays private until it is added.
constexpr std::array<std::string_view, 14> kExact = {"server.create",
                                                     "server.start",
                                                     "server.stop",
                                                     "server.restart",
                                                     "server.kill",
                                                     "server.host_start",
                                                     "server.host_stop",
                                                     "server.host_restart",
                                                     "server.tailscale_enable",
                                                     "server.tailscale_disable",
                                                     "server.tailscale_enable_failed",
                                                     "server.tailscale_disable_failed",
                                                     "ide.ticket",
                                                     "console.command"};
// Families: "<prefix><rest>".
constexpr std::array<std::string_view, 6> kPrefixes = {"files.",    "mods.",   "backup.",
                                                       "schedule.", "member.", "transfer."};

// The same list as SQL; the strings are constants without quotes.
const std::string& allowed_sql() {
  static const std::string sql = [] {
    std::string s = "(action IN (";
    for (size_t i = 0; i < kExact.size(); ++i) s += (i ? ",'" : "'") + std::string(kExact[i]) + "'";
    s += ")";
    // substr, not GLOB (SQLite's own) nor LIKE (case-blind on SQLite).
    for (std::string_view p : kPrefixes) {
      const std::string n = std::to_string(p.size());
      s += " OR (substr(action, 1, " + n + ") = '" + std::string(p) + "' AND length(action) > " +
           n + ")";
    }
    return s + ")";
  }();
  return sql;
}

}  // namespace

bool is_activity_action(std::string_view action) {
  for (std::string_view a : kExact)
    if (action == a) return true;
  for (std::string_view p : kPrefixes)
    if (action.size() > p.size() && action.starts_with(p)) return true;
  return false;
}

Result<std::vector<ActivityEntry>> Store::list_activity(int64_t server_id,
                                                        std::optional<int64_t> before_id,
                                                        int limit) {
  if (limit < 1 || limit > 200)
    return std::unexpected(Error::invalid("limit", "limit outside 1..200"));
  return impl_->read("list activity", [&](Db& db) -> Result<std::vector<ActivityEntry>> {
    const std::string sql =
        "SELECT a.id, a.at, a.user_id, coalesce(u.username, ''), a.action, a.detail,"
        " a.remote_addr FROM audit_log a LEFT JOIN users u ON u.id = a.user_id"
        " WHERE a.server_id = ? AND a.id < ? AND " +
        allowed_sql() + " ORDER BY a.id DESC LIMIT ?";
    Stmt q = db.prepare(sql);
    q.bind(1, server_id);
    q.bind(2, before_id.value_or(INT64_MAX));
    q.bind(3, limit);
    std::vector<ActivityEntry> out;
    while (q.step()) {
      ActivityEntry a;
      a.id = q.col(0).int64();
      a.at = from_ms(q.col(1).int64());
      if (!q.col(2).is_null()) a.user_id = q.col(2).int64();
      a.username = q.col(3).text();
      a.action = q.col(4).text();
      a.detail = q.col(5).text();
      a.remote_addr = q.col(6).text();
      out.push_back(std::move(a));
    }
    return out;
  });
}

}  // namespace zlh::api::store
