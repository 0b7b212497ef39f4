// The filesystem BackupStore on a temporary directory.
#include "api/backups/backup_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/crypto.hpp"

namespace zlh::api::backups {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/zlh-backup-store-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read_all(BackupStore& s, int64_t server, int64_t id) {
  auto a = s.open(server, id);
  EXPECT_TRUE(a) << a.error().message;
  if (!a) return {};
  std::string out;
  char buf[7];
  for (;;) {
    auto n = a->source->read(buf, sizeof buf);
    EXPECT_TRUE(n);
    if (!n || *n == 0) break;
    out.append(buf, *n);
  }
  EXPECT_EQ(out.size(), a->size);
  return out;
}

TEST(FsBackupStore, CommitNamesTheHashedArchiveAndOnlyThen) {
  TempDir t;
  FsBackupStore s(t.path + "/backups");
  auto w = s.create(7, 3);
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->write("hello "));
  ASSERT_TRUE((*w)->write("world"));
  EXPECT_EQ((*w)->written(), 11u);
  EXPECT_EQ(s.open(7, 3).error().code, codes::kNotFound);  // not visible before commit
  auto done = (*w)->commit();
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->size, 11u);
  EXPECT_EQ(done->sha256, crypto::sha256_hex("hello world"));
  EXPECT_EQ(s.path(7, 3), t.path + "/backups/7/3.tar.zst");
  EXPECT_EQ(read_all(s, 7, 3), "hello world");
  struct stat st {};
  ASSERT_EQ(::stat(s.path(7, 3).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(::access((s.path(7, 3) + ".partial").c_str(), F_OK), -1);
}

TEST(FsBackupStore, AnUncommittedWriterLeavesNothingAndARetryStartsOver) {
  TempDir t;
  FsBackupStore s(t.path);
  {
    auto w = s.create(1, 1);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("partial bytes"));
  }
  EXPECT_EQ(::access((s.path(1, 1) + ".partial").c_str(), F_OK), -1);
  EXPECT_EQ(s.open(1, 1).error().code, codes::kNotFound);
  auto w = s.create(1, 1);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write("x"));
  ASSERT_TRUE((*w)->commit());
  EXPECT_EQ(read_all(s, 1, 1), "x");
}

TEST(FsBackupStore, RemovesAreRepeatable) {
  TempDir t;
  FsBackupStore s(t.path);
  for (int64_t id : {1, 2}) {
    auto w = s.create(5, id);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->commit());
  }
  ASSERT_TRUE(s.remove(5, 1));
  ASSERT_TRUE(s.remove(5, 1));
  EXPECT_EQ(s.open(5, 1).error().code, codes::kNotFound);
  EXPECT_TRUE(s.open(5, 2));
  ASSERT_TRUE(s.remove_server(5));
  ASSERT_TRUE(s.remove_server(5));
  EXPECT_EQ(::access((t.path + "/5").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace zlh::api::backups
