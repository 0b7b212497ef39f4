// Private to store/ (and zlhctl): a store URL `postgres://…` as a libpq
// connection string (docs/store-engines.md, "Opening"). Pure; no libpq, so
// it is in zlh_api_store whether or not libpq is found. Thread-safe.
//
// Accepted: postgres:// or postgresql://, then [user@]host[:port][,host
// [:port]…][/dbname][?key=value&…], percent-encoded as libpq's URIs are
// (a Unix socket directory as host: `postgres://%2Frun%2Fpostgresql/zlh`,
// or `?host=/run/postgresql`; IPv6 as `[::1]`). Query keys other than
// zlh's own are libpq's keywords (sslmode, connect_timeout, …), passed on
// as they are; libpq refuses unknown ones at connect. zlh's own: `pool`
// (connections per Store, 1..64).
//
// The password never comes from the URL (it would show in `ps`, logs and
// shell history): `user:password@` or `?password=` is E_INVALID, and no
// error message repeats the URL. It comes from a file or the environment,
// added with pg_conninfo_with_password.
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::api::store {

struct PgUrl {
  std::string conninfo;  // keyword='value' … for PQconnectdb, no password
  int pool = 0;          // ?pool=N; 0 when not given (the caller's default)
};

// Errors: E_INVALID (not a postgres URL, a password in it, bad percent
// encoding, port or pool, an empty host or key).
Result<PgUrl> pg_conninfo_from_url(std::string_view url);

// `value` quoted for a libpq connection string: '…' with \ and ' escaped.
std::string pg_conninfo_quote(std::string_view value);

// conninfo plus password='…' (quoted).
std::string pg_conninfo_with_password(std::string conninfo, std::string_view password);

}  // namespace zlh::api::store
