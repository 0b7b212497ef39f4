#include "api/store/pg_migrations.hpp"

#include <string>

namespace zlh::api::store {
namespace {

std::string lock_sql() {
  return "SELECT pg_advisory_xact_lock(" + std::to_string(kPgMigrationLockKey) + ")";
}

class PgMigrations final : public MigrationEngine {
 public:
  PgMigrations()
      : schema_sql_(lock_sql() +
                    ";\n"  // one simple query = one implicit transaction, lock included
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version BIGINT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL,"
                    " applied_at BIGINT NOT NULL)") {}
  const char* schema_table_sql() const override { return schema_sql_.c_str(); }
  // Right after BEGIN, before any query: READ COMMITTED (each statement
  // sees what committed before it), then the lock (pg_migrations.hpp).
  void lock(Db& db) override {
    db.exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
    db.exec(lock_sql());
  }

 private:
  std::string schema_sql_;
};

}  // namespace

std::unique_ptr<MigrationEngine> pg_migrations() { return std::make_unique<PgMigrations>(); }

}  // namespace zlh::api::store
