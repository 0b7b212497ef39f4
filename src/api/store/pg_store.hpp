// Private to store/: the PostgreSQL store's connection pool (pg_store.cpp,
// which also holds Store::open_postgres). The URL: pg_url.hpp.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "api/store/db_pool.hpp"
#include "base/error.hpp"

namespace zlh::api::store {

// A pool of up to `size` PostgreSQL connections to `conninfo`, opened on
// demand, each with `SET lock_timeout` = lock_timeout; acquire() waits up
// to `wait`. See DbPool.
std::unique_ptr<DbPool> make_pg_pool(std::string conninfo, int size,
                                     std::chrono::milliseconds lock_timeout,
                                     std::chrono::milliseconds wait);

}  // namespace zlh::api::store
