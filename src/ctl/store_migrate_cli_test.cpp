// `zlhctl store migrate`, the built binary, against a PostgreSQL cluster
// that wants a password (pg_fixture.hpp): the password file is used, one in
// the URL is refused without being echoed, and a second run is refused.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>

#include "api/store/store.hpp"
#include "harness.hpp"
#include "pg_fixture.hpp"

namespace zlh::ctl {
namespace {

using zlh::testing::percent_encoded;
using zlh::testing::PgServer;

TEST(StoreMigrateCli, CopiesWithThePasswordFileAndRefusesOneInTheUrl) {
  auto pg = PgServer::start({.password = "Pw-s3cret"});
  if (!pg && pg.error().code == codes::kUnavailable) GTEST_SKIP() << pg.error().message;
  ASSERT_TRUE(pg) << pg.error().message;
  const std::string dir = zlh::testing::make_temp_dir("store-migrate");
  const std::string db = dir + "/zlh.db";
  {
    auto store = api::store::Store::open(db);
    ASSERT_TRUE(store) << store.error().to_string();
    ASSERT_TRUE((*store)->create_user({"a@x.io", "ann", "h", true}));
  }
  const std::string pw_file = dir + "/pw";
  std::ofstream(pw_file) << "Pw-s3cret\n";
  ::chmod(pw_file.c_str(), 0600);
  const std::string query =
      "?host=" + percent_encoded((*pg)->socket_dir()) + "&port=" + std::to_string((*pg)->port());
  const std::string url = "postgresql://zlh@/zlh" + query;

  auto bad = zlh::testing::zlhctl({"store", "migrate", "--from", "sqlite:" + db, "--to",
                                   "postgresql://zlh:Pw-s3cret@/zlh" + query});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.find("Pw-s3cret"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out.find("Pw-s3cret"), std::string::npos) << bad.out;

  auto ok = zlh::testing::zlhctl(
      {"store", "migrate", "--from", "sqlite:" + db, "--to", url, "--to-password-file", pw_file});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("copied 1 rows in"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("users"), std::string::npos) << ok.out;

  auto again = zlh::testing::zlhctl(
      {"store", "migrate", "--from", "sqlite:" + db, "--to", url, "--to-password-file", pw_file});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already has rows in"), std::string::npos) << again.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zlh::ctl
