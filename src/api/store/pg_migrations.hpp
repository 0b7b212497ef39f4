// Private to store/: PostgreSQL's MigrationEngine (docs/store-engines.md,
// "Migrations"). Built into zlh_api_store_pg with PgDb.
//
// Replicas starting together may migrate one database at once. Each
// migration's transaction first takes pg_advisory_xact_lock(
// kPgMigrationLockKey) (released at commit or rollback), then re-reads
// schema_migrations, so each migration is applied exactly once, as BEGIN
// IMMEDIATE gives on SQLite. The transaction runs READ COMMITTED, not the
// store's SERIALIZABLE: a SERIALIZABLE snapshot would be taken by the lock
// statement itself, before the wait, and would not show the migration the
// other connection committed meanwhile. PostgreSQL's DDL is transactional,
// so a failing migration leaves the previous version. Creating the
// schema_migrations table takes the same lock (two CREATE TABLE IF NOT
// EXISTS at once can collide in the catalog).
//
// Run it on a connection of its own (PgDb's note on cached plans).
#pragma once

#include <cstdint>
#include <memory>

#include "api/store/migrations.hpp"

namespace zlh::api::store {

// "zlh_mig" as an integer: the key every zlh process migrating a
// PostgreSQL store locks. Unrelated advisory locks must not use it.
inline constexpr int64_t kPgMigrationLockKey = 0x7a6c685f6d6967;

std::unique_ptr<MigrationEngine> pg_migrations();

}  // namespace zlh::api::store
