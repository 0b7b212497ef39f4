// api_store_test runs the store suite on SQLite (test_util.hpp);
// store_pg_test.cpp runs it on PostgreSQL in api_store_pg_test.
#include "api/store/test_util.hpp"

namespace zlh::api::store::testing {

std::vector<StoreEngine> store_engines() { return {sqlite_engine()}; }

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, engines(), engine_name);

}  // namespace zlh::api::store::testing
