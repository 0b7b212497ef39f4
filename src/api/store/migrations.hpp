// Numbered schema migrations (STYLE §13). The files
// src/api/store/migrations/NNNN_name.sql are embedded into the binary at build
// time (embed_migrations.cmake: numbers contiguous from 0001, or the build
// fails); nothing is read from disk at run time.
//
// Applied state lives in schema_migrations(version, name, sha256, applied_at).
// A migration, once released, is never edited: the stored sha256 of every
// applied one is compared with the embedded one at each open.
//
// Private to store/ (and its tests). Thread-safety: the caller holds the
// connection exclusively for the duration of a call.
#pragma once

#include <span>
#include <string_view>

#include "api/store/impl.hpp"
#include "api/store/sqlite_db.hpp"
#include "base/error.hpp"

namespace zlh::api::store {

struct Migration {
  int version = 0;
  std::string_view name;    // "init" for 0001_init.sql
  std::string_view sql;     // one or more statements
  std::string_view sha256;  // hex of the file's bytes
};

// The embedded migrations, by version, 1..N.
std::span<const Migration> embedded_migrations();

// Brings `db` to the last of `migrations` (which must be numbered 1..N, in
// order): each pending one runs in its own BEGIN IMMEDIATE transaction
// together with its schema_migrations row, so a failure leaves the database
// at the previous version, and two processes opening the same file at once
// apply each migration exactly once. Returns how many were applied; an
// up-to-date database gets no write at all (0).
// Errors: E_CONFLICT (the database is at a version above N, or an applied
// migration's name or sha256 differs from ours), E_INVALID (`migrations` not
// numbered 1..N), plus the store's SQLite errors (a migration's SQL failing
// is E_INTERNAL or E_CONFLICT, naming the migration).
Result<int> migrate(SQLite::Database& db, std::span<const Migration> migrations, int64_t now_ms);

// Highest applied version, 0 for a database that has none.
Result<int> schema_version(SQLite::Database& db);

}  // namespace zlh::api::store
