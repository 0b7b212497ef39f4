// Private to store/: opening the store on PostgreSQL (pg_store.cpp), the
// parts worth a test of their own.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/store/db_pool.hpp"
#include "base/error.hpp"

namespace zlh::api::store {

// A store URL taken apart: `postgres://…` or `postgresql://…` in libpq's
// URI syntax, plus our own `pool=N` query parameter (removed before libpq
// sees the rest).
struct PgUrl {
  std::string conninfo;  // libpq key='value' pairs, the password included
  int pool = 0;          // 0: not in the URL
};
// E_INVALID: not a postgres URL, malformed (libpq's parser), a password in
// it, a pool outside 1..64. The message never holds a password.
Result<PgUrl> parse_pg_url(std::string_view url, const std::optional<std::string>& password);

// A pool of up to `size` PostgreSQL connections to `conninfo`, opened on
// demand, each with `SET lock_timeout` = lock_timeout; acquire() waits up
// to `wait`. See DbPool.
std::unique_ptr<DbPool> make_pg_pool(std::string conninfo, int size,
                                     std::chrono::milliseconds lock_timeout,
                                     std::chrono::milliseconds wait);

}  // namespace zlh::api::store
