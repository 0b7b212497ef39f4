#include "base/safe_path.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace zlh::safe_path {
namespace {

namespace stdfs = std::filesystem;

// A temp dir holding root/ (the resolver's root) and outside/ with a sentinel,
// so a test can assert that nothing next to the root changed.
class SafePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-safepath-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    outside_ = base_ / "outside";
    stdfs::create_directories(root_);
    stdfs::create_directories(outside_);
    write(outside_ / "sentinel", "keep");
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
    before_ = snapshot_outside();
  }
  void TearDown() override {
    EXPECT_EQ(snapshot_outside(), before_) << "something changed outside the root";
    root_fd_.reset();
    std::error_code ec;
    stdfs::remove_all(base_, ec);
  }

  static void write(const stdfs::path& p, const std::string& data) { std::ofstream(p) << data; }
  static std::string read(int fd) {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    return out;
  }
  // Everything under base_ except root/, without following symlinks.
  std::set<std::string> snapshot_outside() const {
    std::set<std::string> out;
    for (auto it = stdfs::recursive_directory_iterator(base_); it != stdfs::end(it); ++it) {
      auto rel = stdfs::relative(it->path(), base_).string();
      if (rel == "root" || rel.starts_with("root/")) {
        if (rel == "root") it.disable_recursion_pending();
        continue;
      }
      out.insert(rel);
    }
    return out;
  }

  stdfs::path base_, root_, outside_;
  UniqueFd root_fd_;
  std::set<std::string> before_;
};

void expect_code(const auto& r, Code code) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, code) << r.error().to_string();
}

TEST(SafePathNormalize, CleanPaths) {
  EXPECT_EQ(*normalize_relative("a"), "a");
  EXPECT_EQ(*normalize_relative("a/b/c"), "a/b/c");
  EXPECT_EQ(*normalize_relative("./a//b/"), "a/b");
  EXPECT_EQ(*normalize_relative("a/./b/."), "a/b");
  EXPECT_EQ(*normalize_relative("...", false), "...");
  EXPECT_EQ(*normalize_relative("..a/b.."), "..a/b..");
  EXPECT_EQ(*normalize_relative("%2e%2e/%2fetc"), "%2e%2e/%2fetc");
  EXPECT_EQ(*normalize_relative("", true), "");
  EXPECT_EQ(*normalize_relative(".", true), "");
  EXPECT_EQ(*normalize_relative("./", true), "");
}

TEST(SafePathNormalize, RefusesDirtyPaths) {
  for (std::string_view bad : {"", ".", "./", "/", "/etc/passwd", "//x", "..", "../x", "a/..",
                               "a/../b", "a/b/../../c", "a\\b", "..\\x"}) {
    SCOPED_TRACE(std::string(bad));
    expect_code(normalize_relative(bad), codes::kBadPath);
  }
  expect_code(normalize_relative(std::string_view("a\0b", 3)), codes::kBadPath);
  expect_code(normalize_relative("/", true), codes::kBadPath);
  expect_code(normalize_relative("..", true), codes::kBadPath);
}

TEST_F(SafePathTest, OpensFilesInsideIncludingInnerSymlinks) {
  stdfs::create_directories(root_ / "a/b");
  write(root_ / "f", "hello");
  stdfs::create_symlink("../../f", root_ / "a/b/up2");  // stays inside
  stdfs::create_symlink("b", root_ / "a/sub");

  auto fd = open_beneath(root_fd_.get(), "f", O_RDONLY);
  ASSERT_TRUE(fd) << fd.error().to_string();
  EXPECT_EQ(read(UniqueFd(*fd).get()), "hello");

  fd = open_beneath(root_fd_.get(), "./a/sub//up2", O_RDONLY);
  ASSERT_TRUE(fd) << fd.error().to_string();
  EXPECT_EQ(read(UniqueFd(*fd).get()), "hello");

  fd = open_beneath(root_fd_.get(), "", O_RDONLY | O_DIRECTORY);  // the root itself
  ASSERT_TRUE(fd);
  ::close(*fd);
}

TEST_F(SafePathTest, OpenRefusesEscapes) {
  stdfs::create_directories(root_ / "a/b");
  stdfs::create_symlink("/", root_ / "a/b/link");
  stdfs::create_symlink("../../..", root_ / "a/b/up");
  stdfs::create_symlink(outside_, root_ / "out");
  stdfs::create_symlink("../outside/sentinel", root_ / "rel_out");

  for (std::string_view bad : {"../outside/sentinel", "/etc/passwd", "a/b/link/etc/passwd",
                               "a/b/up/outside/sentinel", "out/sentinel", "rel_out", "a/../../x"}) {
    SCOPED_TRACE(std::string(bad));
    expect_code(open_beneath(root_fd_.get(), bad, O_RDONLY), codes::kBadPath);
    expect_code(open_beneath(root_fd_.get(), bad, O_WRONLY | O_CREAT, 0644), codes::kBadPath);
  }
}

TEST_F(SafePathTest, OpenErrorsAreTyped) {
  write(root_ / "file", "x");
  stdfs::create_symlink("file", root_ / "link");
  expect_code(open_beneath(root_fd_.get(), "missing", O_RDONLY), codes::kNotFound);
  expect_code(open_beneath(root_fd_.get(), "file/x", O_RDONLY), codes::kNotFound);
  // O_NOFOLLOW on a symlink in the last component.
  expect_code(open_beneath(root_fd_.get(), "link", O_RDONLY | O_NOFOLLOW), codes::kBadPath);
  // Another errno (EEXIST) is an I/O error carrying the errno text.
  auto r = open_beneath(root_fd_.get(), "file", O_WRONLY | O_CREAT | O_EXCL, 0644);
  expect_code(r, codes::kIo);
  EXPECT_FALSE(r.error().cause.empty());
}

TEST_F(SafePathTest, EncodedLookingNamesAreJustNames) {
  for (std::string_view name : {"%2e%2e", "%2e%2e%2fsentinel", "..%2f..%2foutside", "...", "~"}) {
    SCOPED_TRACE(std::string(name));
    auto fd = open_beneath(root_fd_.get(), name, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_TRUE(fd) << fd.error().to_string();
    ::close(*fd);
    EXPECT_TRUE(stdfs::is_regular_file(root_ / std::string(name)));
  }
}

TEST_F(SafePathTest, RefusesProcMagicLinks) {
  UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) GTEST_SKIP() << "no /proc";
  expect_code(open_beneath(proc.get(), "self/root/etc/passwd", O_RDONLY), codes::kBadPath);
  expect_code(open_beneath(proc.get(), "self/cwd", O_RDONLY | O_DIRECTORY), codes::kBadPath);
}

TEST_F(SafePathTest, ParentBeneathCreatesDirs) {
  auto r = open_parent_beneath(root_fd_.get(), "x/y/z.txt", /*create_dirs=*/true);
  ASSERT_TRUE(r) << r.error().to_string();
  UniqueFd dir(r->first);
  EXPECT_EQ(r->second, "z.txt");
  EXPECT_TRUE(stdfs::is_directory(root_ / "x/y"));
  EXPECT_FALSE(stdfs::exists(root_ / "x/y/z.txt"));
  int fd = ::openat(dir.get(), r->second.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_TRUE(stdfs::is_regular_file(root_ / "x/y/z.txt"));

  // A top-level name's parent is the root.
  r = open_parent_beneath(root_fd_.get(), "top", false);
  ASSERT_TRUE(r);
  ::close(r->first);
  EXPECT_EQ(r->second, "top");

  expect_code(open_parent_beneath(root_fd_.get(), "nope/z", false), codes::kNotFound);
  expect_code(open_parent_beneath(root_fd_.get(), "", true), codes::kBadPath);
  expect_code(open_parent_beneath(root_fd_.get(), "../outside/new/x", true), codes::kBadPath);
}

TEST_F(SafePathTest, MkdirsRefusesSymlinkLeadingOut) {
  stdfs::create_directories(root_ / "a/b");
  stdfs::create_symlink(outside_, root_ / "a/b/abs_out");
  stdfs::create_symlink("../../../outside", root_ / "a/b/rel_out");
  for (std::string_view bad :
       {"a/b/abs_out/new", "a/b/abs_out/new/deeper", "a/b/rel_out/new", "a/b/rel_out/new/deeper"}) {
    SCOPED_TRACE(std::string(bad));
    expect_code(mkdirs_beneath(root_fd_.get(), bad), codes::kBadPath);
    expect_code(open_parent_beneath(root_fd_.get(), bad, true), codes::kBadPath);
  }
  EXPECT_FALSE(stdfs::exists(outside_ / "new"));
}

TEST_F(SafePathTest, MkdirsInsideAndThroughInnerSymlink) {
  ASSERT_TRUE(mkdirs_beneath(root_fd_.get(), "p/q/r"));
  EXPECT_TRUE(stdfs::is_directory(root_ / "p/q/r"));
  ASSERT_TRUE(mkdirs_beneath(root_fd_.get(), "p/q/r"));  // repeatable
  ASSERT_TRUE(mkdirs_beneath(root_fd_.get(), ""));
  stdfs::create_symlink("p/q", root_ / "pq");
  ASSERT_TRUE(mkdirs_beneath(root_fd_.get(), "pq/s"));
  EXPECT_TRUE(stdfs::is_directory(root_ / "p/q/s"));

  write(root_ / "file", "x");
  expect_code(mkdirs_beneath(root_fd_.get(), "file"), codes::kNotFound);
  expect_code(mkdirs_beneath(root_fd_.get(), "file/sub"), codes::kNotFound);
  stdfs::create_symlink("missing/dir", root_ / "dangling");
  expect_code(mkdirs_beneath(root_fd_.get(), "dangling/sub"), codes::kNotFound);
  EXPECT_FALSE(stdfs::exists(root_ / "missing"));
  expect_code(mkdirs_beneath(root_fd_.get(), "/abs"), codes::kBadPath);
}

}  // namespace
}  // namespace zlh::safe_path
