// zlhctl store migrate --from sqlite:<path> --to postgres://… : a store
// copied from SQLite to PostgreSQL (api/store/store_copy.hpp does the work;
// docs/store-engines.md).
//
// The password of the target never comes from the URL (refused: it would
// show in `ps` and shell history). In order: --to-password-file (mode
// 0600 or stricter, the first line), else $ZLH_STORE_PASSWORD, else
// $PGPASSWORD, else none (libpq's own PGPASSFILE, peer or trust).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "api/store/store_copy.hpp"
#include "base/error.hpp"

namespace zlh::ctl {

// "sqlite:<path>" or a bare path → the path. E_INVALID for another scheme
// (postgres:// as a source is not supported) or an empty path.
Result<std::string> sqlite_source_path(std::string_view from);

// The target URL as a libpq connection string with its password (see
// above). getenv is injectable for tests. Errors: E_INVALID (bad URL, a
// password in it, a password file readable by others or empty), E_IO /
// E_NOT_FOUND (the password file).
Result<std::string> store_target_conninfo(
    std::string_view url, const std::string& password_file,
    const std::function<const char*(const char*)>& getenv = ::getenv);

struct StoreMigrateOptions {
  std::string from, to, to_password_file;
};

// Runs the copy; the report, for printing.
Result<api::store::CopyReport> store_migrate(const StoreMigrateOptions& o, int64_t now_ms);

// One line per table ("users 12"), then the total.
std::string format_report(const api::store::CopyReport& r, std::string_view to);

}  // namespace zlh::ctl
