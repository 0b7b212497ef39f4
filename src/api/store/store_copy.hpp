// A whole store copied from SQLite to PostgreSQL, for `zlhctl store migrate`
// (docs/store-engines.md, "Migrations"). Built into zlh_api_store_pg.
//
// What it guarantees: the target ends up holding exactly the source's rows,
// or nothing changed on it. It refuses a target that has any row in a
// store table, and a source and target at different schema versions (an
// empty target, with no schema_migrations yet, is first migrated to the
// source's version with pg_migrations()). Tables are copied in foreign-key
// order (parents first), inside one SERIALIZABLE transaction on the target,
// from one read snapshot of the source, with every column by name; the row
// counts are compared before commit. Each identity sequence then continues
// after the larger of max(id) and SQLite's sqlite_sequence (AUTOINCREMENT
// never reuses an id, even of a deleted row; neither does the copy).
//
// The source should not be written meanwhile (stop zlh-api): the copy
// reads one snapshot, and what is written after it is not copied.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::store {

struct CopiedTable {
  std::string name;
  int64_t rows = 0;
};

struct CopyReport {
  int version = 0;                  // the schema version of both
  int target_migrations = 0;        // migrations applied to the empty target first
  std::vector<CopiedTable> tables;  // in the order copied
};

// Errors: E_NOT_FOUND (no source file), E_INVALID (the source is not a zlh
// store), E_CONFLICT (versions differ, the target has rows, or a table's
// columns differ between the two), E_UNAVAILABLE (cannot connect), and
// the engines' errors, each naming the step and table.
Result<CopyReport> copy_sqlite_to_postgres(const std::string& sqlite_path,
                                           const std::string& pg_conninfo, int64_t now_ms);

}  // namespace zlh::api::store
