#include "ctl/store_migrate.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace zlh::ctl {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  std::function<const char*(const char*)> fn() {
    return [this](const char* k) -> const char* {
      auto it = vars.find(k);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

struct TempFile {
  std::string path;
  TempFile(const std::string& text, mode_t mode) {
    char tmpl[] = "/tmp/zlh-ctl-pw-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ::close(fd);
    path = tmpl;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }
  ~TempFile() { std::filesystem::remove(path); }
};

TEST(StoreMigrate, SourceIsAnSqlitePath) {
  EXPECT_EQ(sqlite_source_path("sqlite:/var/lib/zlh/zlh.db").value(), "/var/lib/zlh/zlh.db");
  EXPECT_EQ(sqlite_source_path("data/zlh.db").value(), "data/zlh.db");
  EXPECT_FALSE(sqlite_source_path("postgres://h/d"));
  EXPECT_FALSE(sqlite_source_path("sqlite:"));
}

TEST(StoreMigrate, PasswordFromFileThenEnvironmentNeverFromTheUrl) {
  Env env;
  EXPECT_EQ(store_target_conninfo("postgres://zlh@h/d", "", env.fn()).value(),
            "host='h' user='zlh' dbname='d'");
  env.vars["PGPASSWORD"] = "pg";
  EXPECT_EQ(store_target_conninfo("postgres://h/d", "", env.fn()).value(),
            "host='h' dbname='d' password='pg'");
  env.vars["ZLH_STORE_PASSWORD"] = "zlh";
  EXPECT_EQ(store_target_conninfo("postgres://h/d", "", env.fn()).value(),
            "host='h' dbname='d' password='zlh'");
  TempFile file("s3cret\nignored\n", 0600);
  EXPECT_EQ(store_target_conninfo("postgres://h/d", file.path, env.fn()).value(),
            "host='h' dbname='d' password='s3cret'");
  auto in_url = store_target_conninfo("postgres://u:hunter2@h/d", file.path, env.fn());
  ASSERT_FALSE(in_url);
  EXPECT_EQ(in_url.error().message.find("hunter2"), std::string::npos);
}

TEST(StoreMigrate, PasswordFileMustBePrivateAndNonEmpty) {
  Env env;
  TempFile open_file("pw\n", 0644);
  EXPECT_EQ(store_target_conninfo("postgres://h/d", open_file.path, env.fn()).error().code,
            codes::kInvalid);
  TempFile empty("\n", 0600);
  EXPECT_EQ(store_target_conninfo("postgres://h/d", empty.path, env.fn()).error().code,
            codes::kInvalid);
  EXPECT_EQ(store_target_conninfo("postgres://h/d", "/nonexistent/pw", env.fn()).error().code,
            codes::kNotFound);
  EXPECT_FALSE(store_target_conninfo("postgres://h/d?pool=4", "", env.fn()));
}

TEST(StoreMigrate, ReportListsTablesAndTotal) {
  api::store::CopyReport r{12, 12, {{"users", 2}, {"servers", 1}}};
  const std::string text = format_report(r, "postgres://h/d");
  EXPECT_NE(text.find("users"), std::string::npos);
  EXPECT_NE(text.find("copied 3 rows in 2 tables to postgres://h/d at schema version 12"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace zlh::ctl
