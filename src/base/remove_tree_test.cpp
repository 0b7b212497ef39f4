#include "base/remove_tree.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace zlh::fs {
namespace {

namespace sfs = std::filesystem;

class RemoveTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = "/tmp/zlh-rt-XXXXXX";
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    base_ = t;
    outside_ = base_ + "/outside";
    victim_ = base_ + "/victim";
    sfs::create_directories(outside_ + "/dir");
    write(outside_ + "/precious", "keep me");
    write(outside_ + "/dir/precious", "keep me too");
    sfs::create_directories(victim_);
  }
  void TearDown() override {
    // Undo permission games so cleanup works even when a test failed.
    std::error_code ec;
    for (auto it = sfs::recursive_directory_iterator(base_, ec); it != sfs::end(it);
         it.increment(ec))
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0755);
    sfs::remove_all(base_, ec);
  }
  static void write(const std::string& p, const std::string& data) { std::ofstream(p) << data; }
  void expect_outside_intact() {
    EXPECT_TRUE(sfs::exists(outside_ + "/precious"));
    EXPECT_TRUE(sfs::exists(outside_ + "/dir/precious"));
  }
  std::string base_, outside_, victim_;
};

TEST_F(RemoveTreeTest, RemovesEverythingAndNeverFollowsSymlinks) {
  sfs::create_directories(victim_ + "/a/b/c");
  write(victim_ + "/a/b/c/file", "x");
  write(victim_ + "/top", "y");
  sfs::create_symlink(outside_, victim_ + "/a/link-to-dir");
  sfs::create_symlink(outside_ + "/precious", victim_ + "/a/b/link-to-file");
  sfs::create_symlink("/", victim_ + "/root-link");
  sfs::create_symlink(victim_ + "/nowhere", victim_ + "/dangling");
  ::mkfifo((victim_ + "/fifo").c_str(), 0600);
  auto r = remove_tree(victim_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(sfs::exists(sfs::symlink_status(victim_)));
  expect_outside_intact();
}

TEST_F(RemoveTreeTest, SymlinkAtTheTopIsUnlinkedNotFollowed) {
  sfs::remove(victim_);
  sfs::create_directory_symlink(outside_, victim_);
  ASSERT_TRUE(remove_tree(victim_));
  EXPECT_FALSE(sfs::exists(sfs::symlink_status(victim_)));
  expect_outside_intact();
}

TEST_F(RemoveTreeTest, PlainFile) {
  sfs::remove(victim_);
  write(victim_, "z");
  ASSERT_TRUE(remove_tree(victim_));
  EXPECT_FALSE(sfs::exists(victim_));
}

TEST_F(RemoveTreeTest, MissingIsNotFound) {
  auto r = remove_tree(base_ + "/nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
  r = remove_tree(base_ + "/nope/deeper");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
  // missing_ok: the caller only wants it gone (staging dirs, trash).
  EXPECT_TRUE(remove_tree(base_ + "/nope", {.missing_ok = true}));
  EXPECT_TRUE(remove_tree(base_ + "/nope/deeper", {.missing_ok = true}));
  // Other failures still fail.
  EXPECT_FALSE(remove_tree("/", {.missing_ok = true}));
}

TEST_F(RemoveTreeTest, RefusesRootAndDots) {
  for (const char* p : {"/", "", ".", "..", "/tmp/.."}) {
    auto r = remove_tree(p);
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error().code, codes::kInvalid) << p;
  }
}

TEST_F(RemoveTreeTest, ReadOnlyAndUnreadableDirectories) {
  sfs::create_directories(victim_ + "/ro/inner");
  write(victim_ + "/ro/inner/f", "1");
  sfs::create_directories(victim_ + "/locked");
  write(victim_ + "/locked/g", "2");
  ::chmod((victim_ + "/ro/inner").c_str(), 0555);
  ::chmod((victim_ + "/ro").c_str(), 0555);
  ::chmod((victim_ + "/locked").c_str(), 0000);
  auto r = remove_tree(victim_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(sfs::exists(victim_));
}

TEST_F(RemoveTreeTest, DeepTreeWithFewFds) {
  // Deeper than the fd budget: ancestors are closed and reopened via "..".
  std::string p = victim_;
  for (int i = 0; i < 300; ++i) {
    p += "/d";
    ASSERT_EQ(::mkdir(p.c_str(), 0755), 0) << i;  // relative paths would pass PATH_MAX later
    if (i % 50 == 0) {
      write(p + "/f", "x");
      sfs::create_symlink(outside_, p + "/out");
    }
  }
  // Siblings at several levels, so the walk returns up and goes down again.
  sfs::create_directories(victim_ + "/d/d/sib/x");
  auto r = remove_tree(victim_, {.max_open_fds = 4});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(sfs::exists(victim_));
  expect_outside_intact();
}

}  // namespace
}  // namespace zlh::fs
