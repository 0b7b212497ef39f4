#include "base/fs.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

namespace zlh::fs {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/zlh-fs-test-XXXXXX";
  return mkdtemp(tmpl);
}

int count_entries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  while (auto* e = readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  closedir(d);
  return n;
}

TEST(Fs, AtomicWriteReplacesAndLeavesNoTemp) {
  auto dir = temp_dir();
  auto path = join(dir, "a.json");
  ASSERT_TRUE(write_file_atomic(path, "one", 0600));
  ASSERT_TRUE(write_file_atomic(path, "two", 0600));
  EXPECT_EQ(*read_file(path), "two");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(count_entries(dir), 1);
}

TEST(Fs, FailedWriteKeepsOldFile) {
  auto dir = temp_dir();
  auto path = join(dir, "a");
  ASSERT_TRUE(write_file_atomic(path, "old"));
  auto r = write_file_atomic(join(dir, "missing/a"), "new");
  EXPECT_FALSE(r);
  EXPECT_EQ(*read_file(path), "old");
}

TEST(Fs, ReadFileErrors) {
  auto dir = temp_dir();
  auto r = read_file(join(dir, "nope"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
  ASSERT_TRUE(write_file_atomic(join(dir, "big"), std::string(100, 'x')));
  auto big = read_file(join(dir, "big"), 10);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, codes::kTooLarge);
}

TEST(Fs, MakeDirsAndJoin) {
  auto dir = temp_dir();
  ASSERT_TRUE(make_dirs(join(dir, "a/b/c")));
  ASSERT_TRUE(make_dirs(join(dir, "a/b/c")));  // repeatable
  ASSERT_TRUE(write_file_atomic(join(dir, "f"), "x"));
  EXPECT_FALSE(make_dirs(join(dir, "f")));
  EXPECT_EQ(join("/", "opt/x"), "/opt/x");
  EXPECT_EQ(join("/r/", "/opt/x"), "/r/opt/x");
  EXPECT_EQ(join("/r", ""), "/r");
}

}  // namespace
}  // namespace zlh::fs
