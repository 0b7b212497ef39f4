#include "api/store/store_copy.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "api/store/migrations.hpp"
#include "api/store/pg_db.hpp"
#include "api/store/pg_migrations.hpp"
#include "api/store/sqlite_db.hpp"

namespace zlh::api::store {
namespace {

// A column and how its value travels: as an integer, a double or text.
struct Column {
  std::string name;
  char kind = 't';  // 'i', 'r', 't'
};

struct Table {
  std::string name;
  std::vector<Column> columns;  // the target's, in its order
  std::string identity;         // the identity column, "" when none
};

// Table names are SQLite's own identifiers of a zlh schema; quoted anyway.
std::string quoted(const std::string& id) { return "\"" + id + "\""; }

std::vector<std::string> names(Db& db, const std::string& sql) {
  std::vector<std::string> out;
  Stmt q = db.prepare(sql);
  while (q.step()) out.push_back(q.col(0).text());
  return out;
}

int source_version(Db& src) {
  if (src.scalar_int64("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                       " AND name = 'schema_migrations'") == 0)
    return -1;
  return static_cast<int>(
      src.scalar_int64("SELECT coalesce(max(version), 0) FROM schema_migrations"));
}

int target_version(Db& dst) {
  if (dst.scalar_int64("SELECT count(*) FROM information_schema.tables WHERE table_schema ="
                       " current_schema() AND table_name = 'schema_migrations'") == 0)
    return 0;
  return static_cast<int>(
      dst.scalar_int64("SELECT coalesce(max(version), 0) FROM schema_migrations"));
}

// The source's store tables, parents before children (foreign keys).
Result<std::vector<std::string>> fk_order(Db& src) {
  const auto all = names(src,
                         "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE"
                         " 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name");
  std::map<std::string, std::set<std::string>> parents;
  for (const auto& t : all) {
    Stmt q = src.prepare("SELECT \"table\" FROM pragma_foreign_key_list(?)");
    q.bind(1, t);
    while (q.step())
      if (q.col(0).text() != t) parents[t].insert(q.col(0).text());
  }
  std::vector<std::string> out;
  std::set<std::string> done;
  while (out.size() < all.size()) {
    const size_t before = out.size();
    for (const auto& t : all) {
      if (done.contains(t)) continue;
      if (std::ranges::all_of(parents[t], [&](const auto& p) { return done.contains(p); })) {
        out.push_back(t);
        done.insert(t);
      }
    }
    if (out.size() == before) return fail(codes::kInternal, "foreign keys form a cycle");
  }
  return out;
}

// The target's columns of `name`, checked against the source's.
Result<Table> describe(Db& src, Db& dst, const std::string& name) {
  Table t{name, {}, ""};
  Stmt q = dst.prepare(
      "SELECT column_name, data_type, is_identity FROM information_schema.columns"
      " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position");
  q.bind(1, name);
  std::vector<std::string> dst_names;
  while (q.step()) {
    const std::string type = q.col(1).text();
    const char kind = (type == "bigint" || type == "smallint" || type == "integer") ? 'i'
                      : (type == "double precision" || type == "real")              ? 'r'
                                                                                    : 't';
    t.columns.push_back({q.col(0).text(), kind});
    dst_names.push_back(q.col(0).text());
    if (q.col(2).text() == "YES") t.identity = q.col(0).text();
  }
  Stmt s = src.prepare("SELECT name FROM pragma_table_info(?) ORDER BY name");
  s.bind(1, name);
  std::vector<std::string> src_names;
  while (s.step()) src_names.push_back(s.col(0).text());
  std::ranges::sort(dst_names);
  if (dst_names.empty()) return fail(codes::kConflict, "table " + name + " is not in the target");
  if (src_names != dst_names)
    return fail(codes::kConflict, "table " + name + " has other columns in the target");
  return t;
}

std::string column_list(const Table& t) {
  std::string out;
  for (const Column& c : t.columns) out += (out.empty() ? "" : ", ") + quoted(c.name);
  return out;
}

int64_t copy_rows(Db& src, Db& dst, const Table& t) {
  const std::string cols = column_list(t);
  std::string marks;
  for (size_t i = 0; i < t.columns.size(); ++i) marks += i ? ",?" : "?";
  Stmt read = src.prepare("SELECT " + cols + " FROM " + quoted(t.name));
  Stmt ins =
      dst.prepare("INSERT INTO " + quoted(t.name) + " (" + cols + ") VALUES (" + marks + ")");
  int64_t n = 0;
  while (read.step()) {
    ins.reset();
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const int c = static_cast<int>(i);
      const Col v = read.col(c);
      if (v.is_null())
        ins.bind_null(c + 1);
      else if (t.columns[i].kind == 'i')
        ins.bind(c + 1, v.int64());
      else if (t.columns[i].kind == 'r')
        ins.bind(c + 1, v.real());
      else
        ins.bind(c + 1, v.text());
    }
    ins.exec();
    ++n;
  }
  return n;
}

// The identity continues after every id the source ever gave.
void reset_identity(Db& src, Db& dst, const Table& t) {
  if (t.identity.empty()) return;
  int64_t next = 1;
  {
    Stmt q = src.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?");
    q.bind(1, t.name);
    if (q.step()) next = q.col(0).int64() + 1;
  }
  Stmt q = dst.prepare(
      "SELECT setval(pg_get_serial_sequence(?1, ?2), GREATEST(CAST(?3 AS BIGINT),"
      " coalesce(max(" +
      quoted(t.identity) + "), 0) + 1), false) FROM " + quoted(t.name));
  q.bind(1, t.name);
  q.bind(2, t.identity);
  q.bind(3, next);
  q.step();
}

Result<std::vector<Table>> plan(Db& src, Db& dst) {
  auto order = fk_order(src);
  if (!order) return fail(order.error());
  std::vector<Table> tables;
  for (const auto& name : *order) {
    auto t = describe(src, dst, name);
    if (!t) return fail(t.error());
    if (dst.scalar_int64("SELECT count(*) FROM (SELECT 1 FROM " + quoted(name) + " LIMIT 1) AS f"))
      return fail(codes::kConflict, "the target already has rows in " + name);
    tables.push_back(std::move(*t));
  }
  return tables;
}

Result<CopyReport> copy_all(Db& src, Db& dst, int version, const std::vector<Table>& tables) {
  CopyReport report{version, 0, {}};
  src.exec("BEGIN");  // one read snapshot (WAL)
  struct EndRead {
    Db& db;
    ~EndRead() {
      try {
        db.exec("COMMIT");
      } catch (const DbError&) {
      }
    }
  } end{src};
  WriteTx tx(dst);
  for (const Table& t : tables) {
    try {
      const int64_t n = copy_rows(src, dst, t);
      reset_identity(src, dst, t);
      const int64_t want = src.scalar_int64("SELECT count(*) FROM " + quoted(t.name));
      const int64_t have = dst.scalar_int64("SELECT count(*) FROM " + quoted(t.name));
      if (n != want || have != want)
        return fail(codes::kInternal, "table " + t.name + ": copied " + std::to_string(have) +
                                          " rows of " + std::to_string(want));
      report.tables.push_back({t.name, n});
    } catch (const DbError& e) {
      return std::unexpected(to_error(e, "copy " + t.name));
    }
  }
  tx.commit();
  return report;
}

Result<std::unique_ptr<SqliteDb>> open_source(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(codes::kNotFound, path + ": no such file");
  try {
    SQLite::Database db(path, SQLite::OPEN_READWRITE, 5000);  // never created here
    return std::make_unique<SqliteDb>(std::move(db));
  } catch (const SQLite::Exception& e) {
    return std::unexpected(from_sqlite(e, "open " + path));
  }
}

// Brings an empty target to `version`; refuses one at another version.
Result<int> prepare_target(Db& dst, int version, int64_t now_ms) {
  const int have = target_version(dst);
  auto ms = embedded_migrations(Engine::kPostgres);
  if (have == 0 && version <= static_cast<int>(ms.size())) {
    auto engine = pg_migrations();
    auto n = migrate(dst, *engine, ms.subspan(0, static_cast<size_t>(version)), now_ms);
    if (!n) return fail(n.error().wrap("migrate the target"));
    return *n;
  }
  if (have != version)
    return fail(codes::kConflict, "the source is at schema version " + std::to_string(version) +
                                      ", the target at " + std::to_string(have));
  return 0;
}

}  // namespace

Result<CopyReport> copy_sqlite_to_postgres(const std::string& sqlite_path,
                                           const std::string& pg_conninfo, int64_t now_ms) {
  auto src = open_source(sqlite_path);
  if (!src) return fail(src.error());
  auto dst = PgDb::connect(pg_conninfo);
  if (!dst) return fail(dst.error().wrap("connect to the target"));
  try {
    const int version = source_version(**src);
    if (version <= 0) return fail(codes::kInvalid, sqlite_path + " is not a zlh store");
    auto migrated = prepare_target(**dst, version, now_ms);
    if (!migrated) return fail(migrated.error());
    // A fresh connection: the migrations changed the schema under the
    // first one's cached statements (pg_db.hpp).
    dst = PgDb::connect(pg_conninfo);
    if (!dst) return fail(dst.error().wrap("connect to the target"));
    auto tables = plan(**src, **dst);
    if (!tables) return fail(tables.error());
    auto report = copy_all(**src, **dst, version, *tables);
    if (report) report->target_migrations = *migrated;
    return report;
  } catch (const DbError& e) {
    return std::unexpected(to_error(e, "store migrate"));
  }
}

}  // namespace zlh::api::store
