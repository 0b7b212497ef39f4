// Private to store/: SQLite's parameter spelling rewritten to PostgreSQL's,
// so the store's SQL keeps one text for both engines (docs/store-engines.md).
// Pure; no libpq. Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::store {

struct PgSql {
  std::string text;  // `?` and `?N` replaced by `$N`
  int params = 0;    // the highest N: how many parameters to send
};

// SQLite's rule: `?N` is parameter N (1 ≤ N ≤ 32766); a bare `?` is the
// highest number used so far plus one, so `?` after `?5` is 6, and `??` is
// two parameters (`$1$2`: there is no escape for a literal `?`, so
// PostgreSQL's jsonb `?` operators are out of reach; use jsonb_exists()).
// Nothing changes inside '…' strings ('' escaped), "…" identifiers (""
// escaped), `-- …` comments to the end of the line and `/* … */` comments
// (not nested, as in SQLite). PostgreSQL's E'…' and $tag$…$tag$ strings are
// not recognised: SQLite has neither, and the store's SQL uses neither.
// SQLite's named forms (:a, @a, $a) are left as they are.
//
// Errors: E_INVALID for `?0` or a number above 32766 (SQLite refuses both
// at prepare).
Result<PgSql> pg_placeholders(std::string_view sql);

}  // namespace zlh::api::store
