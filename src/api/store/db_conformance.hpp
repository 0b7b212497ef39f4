// The Db seam's contract as test cases (db_conformance_test.cpp), run on
// every engine: sqlite_db_test.cpp instantiates them on SQLite,
// pg_db_test.cpp on PostgreSQL. A case that passes on one engine and fails
// on the other is a difference the store would see.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/store/db.hpp"
#include "api/store/test_util.hpp"

namespace zlh::api::store {

struct DbEngine {
  const char* name;  // the test name's suffix
  // A new, empty database, with foreign keys enforced, holding
  //   t (id: integer key the engine assigns from 1, name: text UNIQUE,
  //      n: integer, r: real)
  //   u (t_id: integer REFERENCES t(id), k: integer CHECK (k > 0))
  // `scratch` is a directory removed after the test. An E_UNAVAILABLE
  // error skips the test (the engine is not installed); others fail it.
  Result<std::unique_ptr<Db>> (*open)(const std::string& scratch);
};

inline std::string PrintToString(const DbEngine& e) { return e.name; }

class DbConformance : public ::testing::TestWithParam<DbEngine> {
 protected:
  void SetUp() override;
  int64_t count() { return db->scalar_int64("SELECT count(*) FROM t"); }

  testing::TempDir dir;
  std::unique_ptr<Db> db;
};

}  // namespace zlh::api::store
